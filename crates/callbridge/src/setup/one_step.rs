//! The seed's later one-step form: `POST /setup/init` `{email, phone}` sends both codes,
//! `POST /setup/validate` `{email, email_code, phone, phone_code}` checks both and answers with
//! the call token.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use twilio::VerifyChannel;

use super::email::{checked, sent};
use super::phone::{PHONE_TAKEN, bind, call_token_for};
use super::sync;
use super::{input, verify};
use crate::audit::{self, AuditKind, Entry};
use crate::auth::iso_millis;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::http::{ApiError, ClientIp, JsonOrForm, Success, success};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct InitBody {
    email: Option<String>,
    phone: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ValidateBody {
    email: Option<String>,
    email_code: Option<String>,
    phone: Option<String>,
    phone_code: Option<String>,
}

/// 409 when the phone already belongs to an agent with another email.
async fn ensure_phone_free(
    state: &AppState,
    email: &EmailAddress,
    phone: &PhoneNumber,
) -> Result<(), ApiError> {
    match state.store.agent_by_phone(phone).await? {
        Some(owner) if owner.email != *email => Err(ApiError::Conflict(PHONE_TAKEN.into())),
        _ => Ok(()),
    }
}

pub(super) async fn init(
    State(state): State<AppState>,
    ip: ClientIp,
    JsonOrForm(body): JsonOrForm<InitBody>,
) -> Result<Success<Value>, ApiError> {
    let email = input::required(body.email, "Email is required")?;
    let phone = input::required(body.phone, "Phone number is required")?;
    let email = input::email(&state.settings, &email)?;
    let phone = input::phone(&phone)?;
    verify::ensure_configured(&state)?;
    ensure_phone_free(&state, &email, &phone).await?;
    input::limit_send(&state, ip, &[email.as_str(), phone.as_str()]).await?;

    let by_email = verify::send_code(&state, email.as_str(), VerifyChannel::Email).await?;
    audit::record(
        &state,
        Entry::setup(AuditKind::OtpSent, email.as_str(), ip).detail("email"),
    )
    .await;
    let by_sms = verify::send_code(&state, phone.as_str(), VerifyChannel::Sms).await?;
    audit::record(
        &state,
        Entry::setup(AuditKind::OtpSent, phone.as_str(), ip).detail("sms"),
    )
    .await;
    Ok(success(
        "OTP sent successfully to both email and phone",
        json!({"email": sent(&by_email), "phone": sent(&by_sms)}),
    ))
}

pub(super) async fn validate(
    State(state): State<AppState>,
    ip: ClientIp,
    JsonOrForm(body): JsonOrForm<ValidateBody>,
) -> Result<Success<Value>, ApiError> {
    let email = input::required(body.email, "Email is required")?;
    let email_code = input::required(body.email_code, "Email OTP code is required")?;
    let phone = input::required(body.phone, "Phone number is required")?;
    let phone_code = input::required(body.phone_code, "Phone OTP code is required")?;
    let email = input::email(&state.settings, &email)?;
    let phone = input::phone(&phone)?;
    verify::ensure_configured(&state)?;
    ensure_phone_free(&state, &email, &phone).await?;
    input::limit_check(&state, ip, &[email.as_str(), phone.as_str()]).await?;

    let mut checks = Vec::with_capacity(2);
    for (address, code, channel) in [
        (email.as_str(), &email_code, "email"),
        (phone.as_str(), &phone_code, "sms"),
    ] {
        match verify::check_code(&state, address, code).await {
            Ok(check) => checks.push(check),
            Err(failed) => {
                audit::record(
                    &state,
                    Entry::setup(AuditKind::Failed, address, ip)
                        .detail(format!("{channel}: {}", failed.reason)),
                )
                .await;
                return Err(failed.error);
            }
        }
    }

    let now = Utc::now();
    let verified_at = iso_millis(now);
    sync::mirror(&state, &email, &verified_at, Some(&phone)).await?;
    let agent = state.store.upsert_verified_email(&email, now).await?;
    let agent = bind(&state, &agent, &phone, now).await?;
    for (subject, channel) in [(email.as_str(), "email"), (phone.as_str(), "sms")] {
        audit::record(
            &state,
            Entry::setup(AuditKind::Verified, subject, ip)
                .agent(agent.id)
                .detail(channel),
        )
        .await;
    }
    let token = call_token_for(&state, &agent, ip).await?;
    Ok(success(
        "Email and phone verified successfully.",
        json!({
            "email": email.as_str(),
            "phone": phone.as_str(),
            "verifiedAt": verified_at,
            "token": token,
            "verification": {"email": checked(&checks[0]), "phone": checked(&checks[1])},
        }),
    ))
}

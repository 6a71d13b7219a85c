//! `POST /setup/email/init` and `POST /setup/email/validate`, byte for byte the seed's.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use twilio::{Verification, VerificationCheck, VerifyChannel};

use super::sync::{self, Mirrored};
use super::{input, otp, verify};
use crate::auth::{iso_millis, issue_setup_token};
use crate::domain::EmailAddress;
use crate::http::{ApiError, ClientIp, JsonOrForm, Success, success};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct InitBody {
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ValidateBody {
    email: Option<String>,
    code: Option<String>,
}

/// The seed's summary of a Verification.
pub(super) fn sent(v: &Verification) -> Value {
    json!({"to": v.to, "channel": v.channel, "status": v.status, "valid": v.valid, "sid": v.sid})
}

/// An email's code, asked for before there is an agent.
pub(super) fn by_email(email: &EmailAddress, ip: ClientIp) -> otp::Address<'_> {
    otp::Address {
        to: email.as_str(),
        channel: VerifyChannel::Email,
        agent: None,
        ip,
    }
}

/// The seed's summary of a VerificationCheck.
pub(super) fn checked(c: &VerificationCheck) -> Value {
    json!({"status": c.status, "valid": c.valid, "sid": c.sid})
}

pub(super) async fn init(
    State(state): State<AppState>,
    ip: ClientIp,
    JsonOrForm(body): JsonOrForm<InitBody>,
) -> Result<Success<Value>, ApiError> {
    let email = input::required(body.email, "Email is required")?;
    let email = input::email(&email)?;
    verify::ensure_configured(&state)?;
    input::limit_send(&state, ip, &[email.as_str()]).await?;
    input::email_allowed(&state, &email).await?;

    let verification = otp::send(&state, by_email(&email, ip)).await?;
    Ok(success(
        "OTP sent successfully to email",
        sent(&verification),
    ))
}

pub(super) async fn validate(
    State(state): State<AppState>,
    ip: ClientIp,
    JsonOrForm(body): JsonOrForm<ValidateBody>,
) -> Result<Success<Value>, ApiError> {
    let email = input::required(body.email, "Email is required")?;
    let code = input::required(body.code, "OTP code is required")?;
    let email = input::email(&email)?;
    verify::ensure_configured(&state)?;
    input::limit_check(&state, ip, &[email.as_str()]).await?;
    input::email_allowed(&state, &email).await?;

    let check = otp::check(&state, by_email(&email, ip), &code, None).await?;

    let now = Utc::now();
    let verified_at = iso_millis(now);
    let token = issue_setup_token(&state.settings, &email, now)?;
    // Mirrored before the agent is stored, so a Sync failure leaves no half-onboarded agent.
    let mirrored = sync::mirror(&state, &email, &verified_at, None).await?;
    let agent = state.store.upsert_verified_email(&email, now).await?;
    otp::verified(&state, by_email(&email, ip), agent.id).await;

    let message = match mirrored {
        Mirrored::Updated => "Email verified successfully (updated existing record)",
        Mirrored::Off | Mirrored::Created => {
            "Email verified successfully. Pass `data.token` to the next step to set up phone number."
        }
    };
    Ok(success(
        message,
        json!({
            "email": email.as_str(),
            "token": token,
            "verifiedAt": verified_at,
            "verification": checked(&check),
        }),
    ))
}

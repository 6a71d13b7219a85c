//! The seed's later one-step form: `POST /setup/init` `{email, phone}` sends both codes,
//! `POST /setup/validate` `{email, email_code, phone, phone_code}` checks both and answers with
//! the call token.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::email::{by_email, checked, sent};
use super::phone::{PHONE_TAKEN, bind, by_sms, call_token_for};
use super::sync;
use super::{input, otp, verify};
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

/// 409 when the phone already belongs to an agent with another email; asked only once both
/// codes are proven, so only the phone's holder learns it.
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
    let email = input::email(&email)?;
    let phone = input::sms_phone(&state, &phone)?;
    verify::ensure_configured(&state)?;
    input::limit_send(&state, ip, &[email.as_str(), phone.as_str()]).await?;
    input::email_allowed(&state, &email).await?;
    // As on the phone step, whether the phone is taken is only told after its code is proven.
    input::sms_budget(&state).await?;

    let email_sent = otp::send(&state, by_email(&email, ip)).await?;
    let sms_sent = otp::send(&state, by_sms(&phone, None, ip)).await?;
    Ok(success(
        "OTP sent successfully to both email and phone",
        json!({"email": sent(&email_sent), "phone": sent(&sms_sent)}),
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
    let email = input::email(&email)?;
    let phone = input::phone(&phone)?;
    verify::ensure_configured(&state)?;
    input::limit_check(&state, ip, &[email.as_str(), phone.as_str()]).await?;
    input::email_allowed(&state, &email).await?;

    let email_check = otp::check(&state, by_email(&email, ip), &email_code, Some("email")).await?;
    let sms_check = otp::check(&state, by_sms(&phone, None, ip), &phone_code, Some("sms")).await?;
    ensure_phone_free(&state, &email, &phone).await?;

    let now = Utc::now();
    let verified_at = iso_millis(now);
    sync::mirror(&state, &email, &verified_at, Some(&phone)).await?;
    let agent = state.store.upsert_verified_email(&email, now).await?;
    let agent = bind(&state, &agent, &phone, now).await?;
    otp::verified(&state, by_email(&email, ip), agent.id).await;
    otp::verified(&state, by_sms(&phone, None, ip), agent.id).await;
    let token = call_token_for(&state, &agent, ip).await?;
    Ok(success(
        "Email and phone verified successfully.",
        json!({
            "email": email.as_str(),
            "phone": phone.as_str(),
            "verifiedAt": verified_at,
            "token": token,
            "verification": {"email": checked(&email_check), "phone": checked(&sms_check)},
        }),
    ))
}

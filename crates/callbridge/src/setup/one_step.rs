//! The seed's later one-step form: `POST /setup/init` `{email, phone}` sends both codes,
//! `POST /setup/validate` `{email, email_code, phone, phone_code}` checks both and answers with
//! the call token.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::email::by_email;
use super::phone::{bind, by_sms, call_token_for};
use super::replies::{BothCodesChecked, BothCodesSent, BothVerified, CodeChecked, CodeSent};
use super::sync;
use super::{SetupError, input, otp, verify};
use crate::auth::iso_millis;
use crate::domain::ClientAddress;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::http::openapi::SETUP_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = BothCodesRequest)]
pub(super) struct InitBody {
    #[schema(required = true, value_type = String, format = Email)]
    email: Option<String>,
    #[schema(required = true, value_type = String, example = "+14155550100")]
    phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = BothCheckRequest)]
pub(super) struct ValidateBody {
    #[schema(required = true, value_type = String, format = Email)]
    email: Option<String>,
    #[schema(required = true, value_type = String)]
    email_code: Option<String>,
    #[schema(required = true, value_type = String, example = "+14155550100")]
    phone: Option<String>,
    #[schema(required = true, value_type = String)]
    phone_code: Option<String>,
}

/// Refused when the phone already belongs to an agent with another email; asked only once both
/// codes are proven, so only the phone's holder learns it.
async fn ensure_phone_free(
    state: &AppState,
    email: &EmailAddress,
    phone: &PhoneNumber,
) -> Result<(), SetupError> {
    match state.store.agent_by_phone(phone).await? {
        Some(owner) if owner.email != *email => Err(SetupError::PhoneTaken),
        _ => Ok(()),
    }
}

/// Send both codes at once: to the email and to the phone.
#[utoipa::path(
    post,
    path = "/setup/init",
    tag = SETUP_TAG,
    request_body = InitBody,
    responses(
        (status = 200, description = "Both codes were sent.", body = SuccessBody<BothCodesSent>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 422, description = "The email's domain is not allowed, or the phone cannot receive a code.", body = ErrorBody),
        (status = 429, description = "Too many codes, or the hourly SMS budget is spent; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio Verify failed.", body = ErrorBody),
    )
)]
pub(super) async fn init(
    State(state): State<AppState>,
    ip: ClientAddress,
    JsonOrForm(body): JsonOrForm<InitBody>,
) -> Result<Success<BothCodesSent>, ApiError> {
    let sent = send_codes(&state, ip, body).await?;
    Ok(success(
        "OTP sent successfully to both email and phone",
        sent,
    ))
}

/// Prove both codes at once; answers with the call token.
#[utoipa::path(
    post,
    path = "/setup/validate",
    tag = SETUP_TAG,
    request_body = ValidateBody,
    responses(
        (status = 200, description = "The agent is onboarded; `data.token` is the call token.", body = SuccessBody<BothVerified>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 401, description = "A code is wrong.", body = ErrorBody),
        (status = 404, description = "No code is pending for the email or the phone.", body = ErrorBody),
        (status = 409, description = "The phone belongs to another agent.", body = ErrorBody),
        (status = 422, description = "The email's domain is not allowed.", body = ErrorBody),
        (status = 429, description = "Too many tries; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio Verify (or Sync) failed.", body = ErrorBody),
    )
)]
pub(super) async fn validate(
    State(state): State<AppState>,
    ip: ClientAddress,
    JsonOrForm(body): JsonOrForm<ValidateBody>,
) -> Result<Success<BothVerified>, ApiError> {
    let verified = check_codes(&state, ip, body).await?;
    Ok(success("Email and phone verified successfully.", verified))
}

/// Sends a code to the email and one to the phone.
async fn send_codes(
    state: &AppState,
    ip: ClientAddress,
    fields: InitBody,
) -> Result<BothCodesSent, SetupError> {
    let email = input::required(fields.email, "Email is required")?;
    let phone = input::required(fields.phone, "Phone number is required")?;
    let email = input::email(&email)?;
    let phone = input::sms_phone(state, &phone)?;
    verify::ensure_configured(state)?;
    input::limit_send(state, ip, &[email.as_str(), phone.as_str()]).await?;
    input::email_allowed(state, &email).await?;
    // As on the phone step, whether the phone is taken is only told after its code is proven.
    input::sms_budget(state).await?;

    let email_sent = otp::send(state, by_email(&email, ip)).await?;
    let sms_sent = otp::send(state, by_sms(&phone, None, ip)).await?;
    Ok(BothCodesSent {
        email: CodeSent::from(&email_sent),
        phone: CodeSent::from(&sms_sent),
    })
}

/// Proves both codes: the agent is stored with both verified, and their call token issued.
async fn check_codes(
    state: &AppState,
    ip: ClientAddress,
    fields: ValidateBody,
) -> Result<BothVerified, SetupError> {
    let email = input::required(fields.email, "Email is required")?;
    let email_code = input::required(fields.email_code, "Email OTP code is required")?;
    let phone = input::required(fields.phone, "Phone number is required")?;
    let phone_code = input::required(fields.phone_code, "Phone OTP code is required")?;
    let email = input::email(&email)?;
    let phone = input::phone(&phone)?;
    verify::ensure_configured(state)?;
    input::limit_check(state, ip, &[email.as_str(), phone.as_str()]).await?;
    input::email_allowed(state, &email).await?;

    let email_check = otp::check(state, by_email(&email, ip), &email_code, Some("email")).await?;
    let sms_check = otp::check(state, by_sms(&phone, None, ip), &phone_code, Some("sms")).await?;
    ensure_phone_free(state, &email, &phone).await?;

    let now = Utc::now();
    let verified_at = iso_millis(now);
    sync::mirror(state, &email, &verified_at, Some(&phone)).await?;
    let agent = state.store.upsert_verified_email(&email, now).await?;
    let agent = bind(state, &agent, &phone, now).await?;
    otp::verified(state, by_email(&email, ip), agent.id).await;
    otp::verified(state, by_sms(&phone, None, ip), agent.id).await;
    let token = call_token_for(state, &agent, ip).await?;
    Ok(BothVerified {
        email: email.as_str().to_owned(),
        phone: phone.as_str().to_owned(),
        verified_at,
        token,
        verification: BothCodesChecked {
            email: CodeChecked::from(&email_check),
            phone: CodeChecked::from(&sms_check),
        },
    })
}

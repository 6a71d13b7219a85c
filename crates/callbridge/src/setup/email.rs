//! `POST /setup/email/init` and `POST /setup/email/validate`, byte for byte the seed's.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use twilio::VerifyChannel;
use utoipa::ToSchema;

use super::replies::{CodeChecked, CodeSent, EmailVerified};
use super::sync::{self, Mirrored};
use super::{SetupError, input, otp, verify};
use crate::auth::{iso_millis, issue_setup_token};
use crate::domain::ClientAddress;
use crate::domain::EmailAddress;
use crate::http::openapi::SETUP_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = EmailCodeRequest)]
pub(crate) struct InitBody {
    /// The agent's email; its domain must be allowed (`ALLOWED_EMAIL_DOMAINS`) or invited.
    #[schema(required = true, value_type = String, format = Email)]
    pub(crate) email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = EmailCheckRequest)]
pub(crate) struct ValidateBody {
    #[schema(required = true, value_type = String, format = Email)]
    pub(crate) email: Option<String>,
    /// The code from the email.
    #[schema(required = true, value_type = String)]
    pub(crate) code: Option<String>,
}

/// An email's code, asked for before there is an agent.
pub(super) fn by_email(email: &EmailAddress, ip: ClientAddress) -> otp::Address<'_> {
    otp::Address {
        to: email.as_str(),
        channel: VerifyChannel::Email,
        agent: None,
        ip,
    }
}

/// Send a code to an agent's email.
#[utoipa::path(
    post,
    path = "/setup/email/init",
    tag = SETUP_TAG,
    request_body = InitBody,
    responses(
        (status = 200, description = "The code was sent.", body = SuccessBody<CodeSent>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 422, description = "The email's domain is not allowed, or Twilio will not deliver to it.", body = ErrorBody),
        (status = 429, description = "Too many codes asked for this address or from this client; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio Verify failed.", body = ErrorBody),
    )
)]
pub(crate) async fn init(
    State(state): State<AppState>,
    ip: ClientAddress,
    JsonOrForm(body): JsonOrForm<InitBody>,
) -> Result<Success<CodeSent>, ApiError> {
    let sent = send_code(&state, ip, body.email).await?;
    Ok(success("OTP sent successfully to email", sent))
}

/// Prove an email with its code; answers with the setup token for the phone step.
#[utoipa::path(
    post,
    path = "/setup/email/validate",
    tag = SETUP_TAG,
    request_body = ValidateBody,
    responses(
        (status = 200, description = "The email is verified; `data.token` is the setup token (five minutes).", body = SuccessBody<EmailVerified>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 401, description = "The code is wrong.", body = ErrorBody),
        (status = 404, description = "No code is pending for this address (expired, or never sent).", body = ErrorBody),
        (status = 422, description = "The email's domain is not allowed.", body = ErrorBody),
        (status = 429, description = "Too many tries; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio Verify (or Sync) failed.", body = ErrorBody),
    )
)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    ip: ClientAddress,
    JsonOrForm(body): JsonOrForm<ValidateBody>,
) -> Result<Success<EmailVerified>, ApiError> {
    let (verified, mirrored) = check_code(&state, ip, body.email, body.code).await?;
    let message = match mirrored {
        Mirrored::Updated => "Email verified successfully (updated existing record)",
        Mirrored::Off | Mirrored::Created => {
            "Email verified successfully. Pass `data.token` to the next step to set up phone number."
        }
    };
    Ok(success(message, verified))
}

/// Sends a code to `email`.
async fn send_code(
    state: &AppState,
    ip: ClientAddress,
    email: Option<String>,
) -> Result<CodeSent, SetupError> {
    let email = input::required(email, "Email is required")?;
    let email = input::email(&email)?;
    verify::ensure_configured(state)?;
    input::limit_send(state, ip, &[email.as_str()]).await?;
    input::email_allowed(state, &email).await?;

    let verification = otp::send(state, by_email(&email, ip)).await?;
    Ok(CodeSent::from(&verification))
}

/// Proves `email` with `code`: the agent is stored (or found) with the email verified, and the
/// setup token for the phone step issued.
async fn check_code(
    state: &AppState,
    ip: ClientAddress,
    email: Option<String>,
    code: Option<String>,
) -> Result<(EmailVerified, Mirrored), SetupError> {
    let email = input::required(email, "Email is required")?;
    let code = input::required(code, "OTP code is required")?;
    let email = input::email(&email)?;
    verify::ensure_configured(state)?;
    input::limit_check(state, ip, &[email.as_str()]).await?;
    input::email_allowed(state, &email).await?;

    let check = otp::check(state, by_email(&email, ip), &code, None).await?;

    let now = Utc::now();
    let verified_at = iso_millis(now);
    let token = issue_setup_token(&state.settings, &email, now)?;
    // Mirrored before the agent is stored, so a Sync failure leaves no half-onboarded agent.
    let mirrored = sync::mirror(state, &email, &verified_at, None).await?;
    let agent = state.store.upsert_verified_email(&email, now).await?;
    otp::verified(state, by_email(&email, ip), agent.id).await;

    let verified = EmailVerified {
        email: email.as_str().to_owned(),
        token,
        verified_at,
        verification: CodeChecked::from(&check),
    };
    Ok((verified, mirrored))
}

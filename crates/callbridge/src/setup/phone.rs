//! The seed's roadmap step: `POST /setup/phone/init` `{token, phone}` and
//! `POST /setup/phone/validate` `{token, phone, code}`, which answers with the call token.

use axum::extract::State;
use chrono::Utc;
use serde::Deserialize;
use twilio::VerifyChannel;
use utoipa::ToSchema;

use super::replies::{CodeChecked, CodeSent, PhoneVerified};
use super::{SetupError, input, otp, verify};
use crate::audit::{self, AuditKind, Entry};
use crate::auth::{iso_millis, issue_call_token, verify_setup_token};
use crate::domain::ClientAddress;
use crate::domain::{AgentId, EmailAddress, PhoneNumber};
use crate::http::openapi::SETUP_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, Success, SuccessBody, success};
use crate::state::AppState;
use crate::store::{Agent, StoreError};

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PhoneCodeRequest)]
pub(crate) struct InitBody {
    /// The setup token from `POST /setup/email/validate`.
    #[schema(required = true, value_type = String)]
    pub(crate) token: Option<String>,
    /// The agent's phone in E.164; it must be a destination texts may go to (`SMS_REGIONS`).
    #[schema(required = true, value_type = String, example = "+14155550100")]
    pub(crate) phone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = PhoneCheckRequest)]
pub(crate) struct ValidateBody {
    #[schema(required = true, value_type = String)]
    pub(crate) token: Option<String>,
    #[schema(required = true, value_type = String, example = "+14155550100")]
    pub(crate) phone: Option<String>,
    /// The code from the text message.
    #[schema(required = true, value_type = String)]
    pub(crate) code: Option<String>,
}

/// The email a setup token vouches for, and the phone it asks for; no lookup yet, so that the
/// rate limits are counted first.
fn email_and_phone(
    state: &AppState,
    token: Option<String>,
    phone: Option<String>,
    parse_phone: fn(&AppState, &str) -> Result<PhoneNumber, SetupError>,
) -> Result<(EmailAddress, PhoneNumber), SetupError> {
    let token = input::required(token, "Setup token is required")?;
    let phone = input::required(phone, "Phone number is required")?;
    let email = verify_setup_token(&state.settings, &token)?;
    let phone = parse_phone(state, &phone)?;
    Ok((email, phone))
}

/// The agent of a setup token's email.
async fn agent_of(state: &AppState, email: &EmailAddress) -> Result<Agent, SetupError> {
    state
        .store
        .agent_by_email(email)
        .await?
        .ok_or(SetupError::EmailNotVerified)
}

/// Makes the phone the agent's; refused when it is another agent's. Only someone who just proved
/// they hold the phone gets that far, so the answer tells no one else who has which number.
pub(super) async fn bind(
    state: &AppState,
    agent: &Agent,
    phone: &PhoneNumber,
    at: chrono::DateTime<Utc>,
) -> Result<Agent, SetupError> {
    state
        .store
        .bind_phone(agent.id, phone, at)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => SetupError::PhoneTaken,
            other => other.into(),
        })
}

/// A phone's code, asked for by `agent` when one exists already.
pub(super) fn by_sms(
    phone: &PhoneNumber,
    agent: Option<AgentId>,
    ip: ClientAddress,
) -> otp::Address<'_> {
    otp::Address {
        to: phone.as_str(),
        channel: VerifyChannel::Sms,
        agent,
        ip,
    }
}

/// Issues the call token and records it.
pub(super) async fn call_token_for(
    state: &AppState,
    agent: &Agent,
    ip: ClientAddress,
) -> Result<String, SetupError> {
    let token = issue_call_token(&state.settings, agent)?;
    audit::record(
        state,
        Entry::setup(AuditKind::TokenIssued, agent.email.as_str(), ip)
            .agent(agent.id)
            .detail(format!("token version {}", agent.token_version)),
    )
    .await;
    Ok(token)
}

/// Text a code to the agent's phone (needs the setup token).
#[utoipa::path(
    post,
    path = "/setup/phone/init",
    tag = SETUP_TAG,
    request_body = InitBody,
    responses(
        (status = 200, description = "The code was sent.", body = SuccessBody<CodeSent>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 401, description = "The setup token is missing, expired or not a setup token.", body = ErrorBody),
        (status = 422, description = "The phone cannot receive a code (`SMS_REGIONS`), or Twilio will not deliver to it.", body = ErrorBody),
        (status = 429, description = "Too many codes, or the hourly SMS budget is spent; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio Verify failed.", body = ErrorBody),
    )
)]
pub(crate) async fn init(
    State(state): State<AppState>,
    ip: ClientAddress,
    JsonOrForm(body): JsonOrForm<InitBody>,
) -> Result<Success<CodeSent>, ApiError> {
    let sent = send_code(&state, ip, body.token, body.phone).await?;
    Ok(success("OTP sent successfully to phone", sent))
}

/// Prove the phone with its code; answers with the agent's call token.
#[utoipa::path(
    post,
    path = "/setup/phone/validate",
    tag = SETUP_TAG,
    request_body = ValidateBody,
    responses(
        (status = 200, description = "The agent is onboarded; `data.token` is the call token.", body = SuccessBody<PhoneVerified>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 401, description = "The setup token is refused, or the code is wrong.", body = ErrorBody),
        (status = 404, description = "No code is pending for this phone.", body = ErrorBody),
        (status = 409, description = "The phone belongs to another agent.", body = ErrorBody),
        (status = 429, description = "Too many tries; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio Verify failed.", body = ErrorBody),
    )
)]
pub(crate) async fn validate(
    State(state): State<AppState>,
    ip: ClientAddress,
    JsonOrForm(body): JsonOrForm<ValidateBody>,
) -> Result<Success<PhoneVerified>, ApiError> {
    let verified = check_code(&state, ip, body.token, body.phone, body.code).await?;
    Ok(success(
        "Phone verified successfully. Use `data.token` as the call token \
         (Authorization: Bearer <token>).",
        verified,
    ))
}

/// Texts a code to the phone of the setup token's agent.
async fn send_code(
    state: &AppState,
    ip: ClientAddress,
    token: Option<String>,
    phone: Option<String>,
) -> Result<CodeSent, SetupError> {
    let (email, phone) = email_and_phone(state, token, phone, input::sms_phone)?;
    verify::ensure_configured(state)?;
    input::limit_send(state, ip, &[phone.as_str()]).await?;
    let agent = agent_of(state, &email).await?;
    // Whether another agent holds the phone is not asked here: the answer would tell anyone
    // with a setup token who is registered. The code goes out as for any number, and binding
    // the phone (after its code is proven) refuses a number that is taken.
    input::sms_budget(state).await?;

    let verification = otp::send(state, by_sms(&phone, Some(agent.id), ip)).await?;
    Ok(CodeSent::from(&verification))
}

/// Proves the phone with `code`: it becomes the agent's, and their call token is issued.
async fn check_code(
    state: &AppState,
    ip: ClientAddress,
    token: Option<String>,
    phone: Option<String>,
    code: Option<String>,
) -> Result<PhoneVerified, SetupError> {
    // A missing code is reported after whatever is wrong with the token or the phone.
    let code = input::required(code, "OTP code is required");
    let (email, phone) = email_and_phone(state, token, phone, |_, raw| input::phone(raw))?;
    let code = code?;
    verify::ensure_configured(state)?;
    input::limit_check(state, ip, &[phone.as_str()]).await?;
    let agent = agent_of(state, &email).await?;

    let check = otp::check(state, by_sms(&phone, Some(agent.id), ip), &code, None).await?;

    let now = Utc::now();
    let agent = bind(state, &agent, &phone, now).await?;
    otp::verified(state, by_sms(&phone, None, ip), agent.id).await;
    let token = call_token_for(state, &agent, ip).await?;
    Ok(PhoneVerified {
        email: agent.email.as_str().to_owned(),
        phone: phone.as_str().to_owned(),
        token,
        verified_at: iso_millis(now),
        verification: CodeChecked::from(&check),
    })
}

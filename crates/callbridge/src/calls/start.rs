//! Starting a call: `POST /phone-to-phone/start` (the seed's body) and `POST /call/start` (its
//! later, shorter body). The agent's phone rings first; the customer is dialled from its Gather.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use tokio::time::Instant;
use utoipa::ToSchema;

use super::agent_leg;
use super::starting::StartJob;
pub use super::starting::{AfterStart, Answer};
use super::view::{self, CallView};
use crate::auth::{authenticate, bearer_token};
use crate::destinations::Use;
use crate::domain::{CallMode, PhoneNumber};
use crate::http::openapi::CALLS_TAG;
use crate::http::{ApiError, ErrorBody, JsonOrForm, SuccessBody, last_try, patiently_until};
use crate::idempotency::{self, IdempotencyKey};
use crate::ratelimit::{self, Limit};
use crate::state::AppState;
use crate::store::{Agent, Call, NewCall, RecordCall, RecordLink};

/// Calls one agent may start; generous for a person, tight for a script that found a token.
pub const CALL_STARTS_PER_AGENT: Limit = Limit {
    name: "call-start:agent",
    max: 30,
    window: Duration::from_secs(60),
};

/// The longest label kept; it is shown in call logs, never sent to Twilio.
const MAX_LABEL_CHARS: usize = 200;

/// The seed's body. `token` may stand in for the `Authorization` header.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PhoneToPhoneStart {
    /// The customer's number in E.164.
    #[serde(rename = "RecipientNumber")]
    #[schema(required = true, value_type = String, example = "+14155550123")]
    pub recipient_number: Option<String>,
    /// If given, it must be the agent's verified phone.
    #[serde(rename = "AgentNumber")]
    pub agent_number: Option<String>,
    /// The caller's own name for the call, kept in the log (at most 200 characters).
    #[serde(rename = "ConferenceName")]
    pub conference_name: Option<String>,
    /// Record the conference (`true`/`false`, also as text).
    #[serde(rename = "Record", default, deserialize_with = "lenient_bool")]
    pub record: Option<bool>,
    /// The call token, for clients that cannot send the Authorization header.
    pub token: Option<String>,
}

/// The later seed body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CallStart {
    /// The call token, for clients that cannot send the Authorization header.
    pub token: Option<String>,
    /// The customer's number in E.164.
    #[schema(required = true, value_type = String, example = "+14155550123")]
    pub to: Option<String>,
    /// The caller's own name for the call.
    #[serde(rename = "confName")]
    pub conf_name: Option<String>,
    /// Record the conference.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub record: Option<bool>,
}

/// What both bodies ask for, still unchecked.
#[derive(Debug, Clone)]
pub(super) struct Request {
    recipient: Option<String>,
    agent_number: Option<String>,
    label: Option<String>,
    record: Option<bool>,
}

/// Start a call (the seed's body): ring the agent's phone, then the customer.
#[utoipa::path(
    post,
    path = "/phone-to-phone/start",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    request_body = PhoneToPhoneStart,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key and body within 24 h answer with the same call, and nobody is rung twice."),
    ),
    responses(
        (status = 200, description = "Twilio is ringing the agent; or the call already ended, as `data.state` and `data.reason` say.", body = SuccessBody<CallView>),
        (status = 202, description = "The call is stored, Twilio has not confirmed the agent's leg within CALL_START_WAIT: follow it at `/calls/{id}`.", body = SuccessBody<CallView>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used with another body, or its first request is still being checked.", body = ErrorBody),
        (status = 422, description = "The destination policy refuses the number (`ALLOWED_DESTINATIONS`).", body = ErrorBody),
        (status = 429, description = "Too many starts by this agent; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio refused or failed; `code` is Twilio's.", body = ErrorBody),
    )
)]
pub async fn phone_to_phone(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<PhoneToPhoneStart>,
) -> Result<Response, ApiError> {
    let arrival = Instant::now();
    let key = IdempotencyKey::from_headers(&headers)?;
    let agent = patiently_until(last_try(&state, arrival), || {
        agent(&state, &headers, body.token.as_deref())
    })
    .await?;
    let request = Request {
        recipient: body.recipient_number,
        agent_number: body.agent_number,
        label: body.conference_name,
        record: body.record,
    };
    let fingerprint = request.fingerprint("/phone-to-phone/start");
    let job = StartJob::new(agent, request, "RecipientNumber", key, fingerprint, arrival);
    Ok(job.spawn(state).await)
}

/// Start a call (the seed's shorter body).
#[utoipa::path(
    post,
    path = "/call/start",
    tag = CALLS_TAG,
    security(("callToken" = [])),
    request_body = CallStart,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the same key and body within 24 h answer with the same call, and nobody is rung twice."),
    ),
    responses(
        (status = 200, description = "Twilio is ringing the agent; or the call already ended, as `data.state` and `data.reason` say.", body = SuccessBody<CallView>),
        (status = 202, description = "The call is stored, Twilio has not confirmed the agent's leg within CALL_START_WAIT: follow it at `/calls/{id}`.", body = SuccessBody<CallView>),
        (status = 400, description = "A field is missing or malformed.", body = ErrorBody),
        (status = 409, description = "The Idempotency-Key was used with another body, or its first request is still being checked.", body = ErrorBody),
        (status = 422, description = "The destination policy refuses the number (`ALLOWED_DESTINATIONS`).", body = ErrorBody),
        (status = 429, description = "Too many starts by this agent; see Retry-After.", body = ErrorBody),
        (status = 502, description = "Twilio refused or failed; `code` is Twilio's.", body = ErrorBody),
    )
)]
pub async fn call_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<CallStart>,
) -> Result<Response, ApiError> {
    let arrival = Instant::now();
    let key = IdempotencyKey::from_headers(&headers)?;
    let agent = patiently_until(last_try(&state, arrival), || {
        agent(&state, &headers, body.token.as_deref())
    })
    .await?;
    let request = Request {
        recipient: body.to,
        agent_number: None,
        label: body.conf_name,
        record: body.record,
    };
    let fingerprint = request.fingerprint("/call/start");
    let job = StartJob::new(agent, request, "to", key, fingerprint, arrival);
    Ok(job.spawn(state).await)
}

/// Starts a call for an Airtable record by the rules of `POST /phone-to-phone/start`, for the
/// agent `token` names, and waits for Twilio's answer. The call is stored together with its
/// link to the record, and a record whose previous call is not over is refused before anyone
/// is rung.
pub async fn start_for_record(
    state: &AppState,
    token: &str,
    recipient: &PhoneNumber,
    label: Option<String>,
    link: RecordLink<'_>,
) -> Result<CallView, ApiError> {
    let agent = authenticate(state, token).await?;
    let request = Request {
        recipient: Some(recipient.as_str().to_owned()),
        agent_number: None,
        label,
        record: None,
    };
    ratelimit::check_limit(state, CALL_STARTS_PER_AGENT, &agent.id.to_string()).await?;
    let call = store_call(state, &agent, request, "RecipientNumber", Some(link)).await?;
    agent_leg::create(state, &call)
        .await
        .map_err(|failed| failed.error)?;
    view::load(state.store.as_ref(), call.id).await
}

/// A request to call the lead of an Airtable record, answered like `POST /call/start` (200 or
/// 202, idempotent with a key); `after` runs once the answer is known, whatever happens to the
/// request.
pub async fn start_for_record_request(
    state: AppState,
    agent: Agent,
    recipient: &PhoneNumber,
    record_id: String,
    key: Option<IdempotencyKey>,
    after: Box<dyn AfterStart>,
) -> Response {
    let request = Request {
        recipient: Some(recipient.as_str().to_owned()),
        agent_number: None,
        label: None,
        record: None,
    };
    let fingerprint = idempotency::fingerprint("/airtable/call", &json!({"recordId": record_id}));
    let mut job = StartJob::new(
        agent,
        request,
        "RecipientNumber",
        key,
        fingerprint,
        Instant::now(),
    );
    job.record_id = Some(record_id);
    job.after = Some(after);
    job.spawn(state).await
}

async fn agent(
    state: &AppState,
    headers: &HeaderMap,
    field: Option<&str>,
) -> Result<Agent, ApiError> {
    let token = bearer_token(headers)
        .or(field.filter(|t| !t.trim().is_empty()))
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "Missing call token: send it as Authorization: Bearer <token> or a token field"
                    .into(),
            )
        })?;
    authenticate(state, token.trim()).await
}

impl Request {
    /// Every field but the token: the same call asked for again has the same fingerprint.
    fn fingerprint(&self, endpoint: &str) -> String {
        idempotency::fingerprint(
            endpoint,
            &json!({
                "recipient": self.recipient,
                "agent_number": self.agent_number,
                "label": self.label,
                "record": self.record,
            }),
        )
    }
}

/// Checks the request and stores the call (with its record link); Twilio is not asked yet.
pub(super) async fn store_call(
    state: &AppState,
    agent: &Agent,
    request: Request,
    recipient_field: &str,
    link: Option<RecordLink<'_>>,
) -> Result<Call, ApiError> {
    let new_call = check(state, agent, request, recipient_field)?;
    match link {
        None => Ok(state.store.create_call(new_call).await?),
        Some(link) => match state.store.create_linked_call(new_call, link).await? {
            RecordCall::Created(call) => Ok(call),
            RecordCall::InProgress(call_id) => Err(ApiError::CallInProgress {
                record_id: link.record_id.to_owned(),
                call_id,
            }),
        },
    }
}

/// Every rule a start request must pass, in the order a person fixes them.
pub(super) fn check(
    state: &AppState,
    agent: &Agent,
    request: Request,
    recipient_field: &str,
) -> Result<NewCall, ApiError> {
    let Some(agent_phone) = agent
        .phone
        .clone()
        .filter(|_| agent.phone_verified_at.is_some())
    else {
        return Err(ApiError::Forbidden(
            "This agent has no verified phone: verify one at /setup/phone/init".into(),
        ));
    };
    if let Some(asked) = request
        .agent_number
        .as_deref()
        .filter(|n| !n.trim().is_empty())
    {
        let asked = PhoneNumber::parse(asked)?;
        if asked != agent_phone {
            return Err(ApiError::Forbidden(
                "AgentNumber must be your verified phone; leave it out to use it".into(),
            ));
        }
    }
    let recipient = recipient(state, request.recipient, recipient_field)?;
    // The agent's own leg is dialled too; a phone verified under a wider policy stays refused.
    state
        .settings
        .destinations
        .check(&agent_phone, Use::Call)
        .map_err(|why| {
            ApiError::Unprocessable(format!("your verified phone cannot be called: {why}"))
        })?;
    let label = label(request.label)?;
    Ok(NewCall {
        agent_id: agent.id,
        mode: CallMode::Phone,
        recipient,
        agent_endpoint: agent_phone.into(),
        label,
        record: request.record.unwrap_or(agent.record_by_default),
    })
}

/// The number to ring, as the destination policy allows it.
pub(super) fn recipient(
    state: &AppState,
    raw: Option<String>,
    field: &str,
) -> Result<PhoneNumber, ApiError> {
    let raw = raw
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("{field} is required")))?;
    let recipient = PhoneNumber::parse(&raw)?;
    state
        .settings
        .destinations
        .check(&recipient, Use::Call)
        .map_err(|why| ApiError::Unprocessable(format!("{recipient} cannot be called: {why}")))?;
    Ok(recipient)
}

/// The user's name for the call, trimmed; an empty one is none.
pub(super) fn label(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let label = raw.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "the conference name is longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    Ok(label)
}

/// A flag as forms carry it (`true`, `1`, `yes`, `on` and their opposites); empty is none.
pub(super) fn parse_flag(text: &str) -> Result<Option<bool>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "1" | "yes" | "on" => Ok(Some(true)),
        "false" | "0" | "no" | "off" => Ok(Some(false)),
        other => Err(format!("Record must be true or false, not {other:?}")),
    }
}

/// `true`/`false` as JSON booleans, or as the strings forms carry (`true`, `1`, `yes`, `on`).
fn lenient_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Text(String),
    }
    match Option::<Raw>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Raw::Bool(b)) => Ok(Some(b)),
        Some(Raw::Text(t)) => parse_flag(&t).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_reads_from_json_and_forms_alike() {
        let json: PhoneToPhoneStart =
            serde_json::from_str(r#"{"RecipientNumber":"+12025550123","Record":true}"#).unwrap();
        assert_eq!(json.record, Some(true));
        let text: PhoneToPhoneStart =
            serde_json::from_str(r#"{"RecipientNumber":"+12025550123","Record":"false"}"#).unwrap();
        assert_eq!(text.record, Some(false));
        let form: PhoneToPhoneStart =
            serde_urlencoded::from_str("RecipientNumber=%2B12025550123&Record=1").unwrap();
        assert_eq!(form.record, Some(true));
        let absent: CallStart = serde_urlencoded::from_str("to=%2B12025550123").unwrap();
        assert_eq!(absent.record, None);
        assert!(serde_json::from_str::<CallStart>(r#"{"record":"maybe"}"#).is_err());
    }
}

//! `POST /phone-to-phone/start` (the seed's body) and `POST /call/start` (its later, shorter
//! body): the token and the body read into a start request, answered as `starting` says.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Deserializer};
use serde_json::json;
use tokio::time::Instant;
use utoipa::ToSchema;

use async_trait::async_trait;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::auth::{authenticate, bearer_token};
use crate::calls::CallError;
use crate::calls::start::{StartRequest, parse_flag};
pub use crate::calls::starting::{AfterStart, Answer};
use crate::calls::starting::{Replies, StartJob};
use crate::calls::view::CallView;
use crate::domain::{CallState, PhoneNumber};
use crate::http::openapi::CALLS_TAG;
use crate::http::{
    ApiError, ErrorBody, JsonOrForm, SuccessBody, last_try, patiently_until, success,
};
use crate::idempotency::{self, IdempotencyError, IdempotencyKey};
use crate::state::AppState;
use crate::store::{Agent, SavedResponse};

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
    let key = idempotency::http::key(&headers)?;
    let agent = patiently_until(last_try(&state, arrival), || {
        agent(&state, &headers, body.token.as_deref())
    })
    .await?;
    let request = StartRequest {
        recipient: body.recipient_number,
        agent_number: body.agent_number,
        label: body.conference_name,
        record: body.record,
        recipient_field: "RecipientNumber",
    };
    let fingerprint = fingerprint(&request, "/phone-to-phone/start");
    let job = StartJob::new(HttpReplies, agent, request, key, fingerprint, arrival);
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
    let key = idempotency::http::key(&headers)?;
    let agent = patiently_until(last_try(&state, arrival), || {
        agent(&state, &headers, body.token.as_deref())
    })
    .await?;
    let request = StartRequest {
        recipient: body.to,
        agent_number: None,
        label: body.conf_name,
        record: body.record,
        recipient_field: "to",
    };
    let fingerprint = fingerprint(&request, "/call/start");
    let job = StartJob::new(HttpReplies, agent, request, key, fingerprint, arrival);
    Ok(job.spawn(state).await)
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
    let request = StartRequest::for_record(recipient, None);
    let fingerprint = idempotency::fingerprint("/airtable/call", &json!({"recordId": record_id}));
    let mut job = StartJob::new(
        HttpReplies,
        agent,
        request,
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
    Ok(authenticate(state, token.trim()).await?)
}

/// Every field but the token: the same call asked for again has the same fingerprint.
fn fingerprint(request: &StartRequest, endpoint: &str) -> String {
    idempotency::fingerprint(
        endpoint,
        &json!({
            "recipient": request.recipient,
            "agent_number": request.agent_number,
            "label": request.label,
            "record": request.record,
        }),
    )
}

/// A start's answers as HTTP responses: 200 once Twilio took the agent's leg (or the call
/// settled), 202 while it has not said; a kept answer is the response as sent.
#[derive(Debug, Clone, Copy)]
struct HttpReplies;

#[async_trait]
impl Replies for HttpReplies {
    type Reply = Response;

    fn answer(&self, result: Result<Answer, CallError>) -> Response {
        match result {
            Ok(Answer::Placed(view)) => success("Call initiated to agent", view).into_response(),
            Ok(Answer::Pending(view)) => success(
                "Call created; Twilio has not confirmed the agent's leg yet: follow it at /calls/{id}",
                view,
            )
            .with_status(StatusCode::ACCEPTED)
            .into_response(),
            Ok(Answer::Settled(view)) => {
                let message = if view.state == CallState::Failed {
                    format!(
                        "Call failed: {}",
                        view.reason.as_deref().unwrap_or("unknown reason")
                    )
                } else {
                    "Call initiated to agent".to_owned()
                };
                success(message, view).into_response()
            }
            Err(error) => ApiError::from(error).into_response(),
        }
    }

    fn refused(&self, error: IdempotencyError) -> Response {
        ApiError::from(error).into_response()
    }

    fn replay(&self, saved: &SavedResponse) -> Response {
        idempotency::http::replay(saved)
    }

    async fn kept(&self, reply: Response) -> Result<(Response, SavedResponse), Response> {
        idempotency::http::kept(reply).await
    }
}

/// `true`/`false` as JSON booleans, or as the strings forms carry (`true`, `1`, `yes`, `on`).
pub(super) fn lenient_bool<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<bool>, D::Error> {
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

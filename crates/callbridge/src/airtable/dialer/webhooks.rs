//! The Twilio-facing routes of sessions: the agent's leg, the customer's leg, and detection's
//! verdict. Each must be signed by Twilio; each URL names the session (and the record) it is
//! about, so the signature vouches for those too.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::twiml::{AGENT_STATUS_PATH, CUSTOMER_STATUS_PATH, DETECTION_PATH};
use super::{customer, outcome, session};
use crate::http::openapi::WEBHOOKS_TAG;
use crate::http::{ApiError, ErrorBody};
use crate::state::AppState;
use crate::webhooks::signed::SignedForm;

/// The query callbridge puts in a session's callback URLs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SessionQuery {
    /// The session the leg belongs to.
    session: String,
    /// The record the customer's leg dials (customer legs only).
    item: Option<String>,
}

/// The parameters Twilio posts that the dialer reads.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(non_snake_case, dead_code)]
pub struct SessionLegParameters {
    CallSid: Option<String>,
    CallStatus: Option<String>,
    CallDuration: Option<String>,
    /// Detection's verdict: `human`, `machine_start`, `machine_end_beep`, `machine_end_silence`,
    /// `machine_end_other`, `fax` or `unknown`.
    AnsweredBy: Option<String>,
}

fn query<'a>(form: &'a SignedForm, name: &str) -> Result<&'a str, ApiError> {
    form.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("the URL names no {name} (?{name}=…)")))
}

/// The agent's leg of a session: answered, the agent is free for a customer; over, the
/// session waits for them to join again.
#[utoipa::path(
    post,
    path = AGENT_STATUS_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(SessionQuery),
    request_body(content = SessionLegParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Applied.", body = Object),
        (status = 400, description = "The URL names no session, or a parameter is missing.", body = ErrorBody),
        (status = 403, description = "The signature is missing or wrong.", body = ErrorBody),
    )
)]
pub async fn agent_status(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    let session_id = query(&form, "session")?;
    let call_sid = form.require("CallSid")?;
    let status = form.require("CallStatus")?;
    session::agent_leg(&state, session_id, call_sid, status).await?;
    Ok(Json(json!({})))
}

/// Detection's verdict on a customer's leg.
#[utoipa::path(
    post,
    path = DETECTION_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(SessionQuery),
    request_body(content = SessionLegParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The leg was sent on.", body = Object),
        (status = 400, description = "The URL names no session or record, or a parameter is missing.", body = ErrorBody),
        (status = 403, description = "The signature is missing or wrong.", body = ErrorBody),
    )
)]
pub async fn detection(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    let session_id = query(&form, "session")?;
    let item = query(&form, "item")?;
    let call_sid = form.require("CallSid")?;
    let raw = form.require("AnsweredBy")?;
    let answered_by = outcome::answered_by(raw)
        .ok_or_else(|| ApiError::BadRequest(format!("unknown AnsweredBy {raw:?}")))?;
    customer::detected(&state, session_id, item, call_sid, answered_by).await?;
    Ok(Json(json!({})))
}

/// A customer's leg's progress; its end settles the record.
#[utoipa::path(
    post,
    path = CUSTOMER_STATUS_PATH,
    tag = WEBHOOKS_TAG,
    security(("twilioSignature" = [])),
    params(SessionQuery),
    request_body(content = SessionLegParameters, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Applied.", body = Object),
        (status = 400, description = "The URL names no session or record, or a parameter is missing.", body = ErrorBody),
        (status = 403, description = "The signature is missing or wrong.", body = ErrorBody),
    )
)]
pub async fn customer_status(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    let session_id = query(&form, "session")?;
    let item = query(&form, "item")?;
    let status = form.require("CallStatus")?;
    if matches!(
        status,
        "completed" | "busy" | "no-answer" | "failed" | "canceled"
    ) {
        let talk_secs = form
            .param("CallDuration")
            .and_then(|d| d.parse::<i64>().ok());
        customer::ended(&state, session_id, item, status, talk_secs).await?;
    }
    Ok(Json(json!({})))
}

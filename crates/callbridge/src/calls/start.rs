//! Starting a call: `POST /phone-to-phone/start` (the seed's body) and `POST /call/start` (its
//! later, shorter body). The agent's phone rings first; the customer is dialled from its Gather.

use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Deserializer};
use twilio::{CallInstructions, CreateCall, HttpMethod};

use super::flow::Reason;
use super::outcome::LEG_EVENTS;
use super::twiml::{self, STATUS_PATH, callback_url};
use super::view::{self, CallView};
use crate::auth::{authenticate, bearer_token};
use crate::destinations::Use;
use crate::domain::{CallState, LegRole, PhoneNumber};
use crate::http::{ApiError, JsonOrForm, Success, success};
use crate::ratelimit::{self, Limit};
use crate::state::AppState;
use crate::store::{Agent, LegUpdate, NewCall, RecordCall, RecordLink};

/// Calls one agent may start; generous for a person, tight for a script that found a token.
pub const CALL_STARTS_PER_AGENT: Limit = Limit {
    name: "call-start:agent",
    max: 30,
    window: Duration::from_secs(60),
};

/// The longest label kept; it is shown in call logs, never sent to Twilio.
const MAX_LABEL_CHARS: usize = 200;

/// The seed's body. `token` may stand in for the `Authorization` header.
#[derive(Debug, Deserialize)]
pub struct PhoneToPhoneStart {
    #[serde(rename = "RecipientNumber")]
    pub recipient_number: Option<String>,
    #[serde(rename = "AgentNumber")]
    pub agent_number: Option<String>,
    #[serde(rename = "ConferenceName")]
    pub conference_name: Option<String>,
    #[serde(rename = "Record", default, deserialize_with = "lenient_bool")]
    pub record: Option<bool>,
    pub token: Option<String>,
}

/// The later seed body.
#[derive(Debug, Deserialize)]
pub struct CallStart {
    pub token: Option<String>,
    pub to: Option<String>,
    #[serde(rename = "confName")]
    pub conf_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub record: Option<bool>,
}

/// What both bodies ask for, still unchecked.
#[derive(Debug)]
struct Request {
    recipient: Option<String>,
    agent_number: Option<String>,
    label: Option<String>,
    record: Option<bool>,
}

pub async fn phone_to_phone(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<PhoneToPhoneStart>,
) -> Result<Success<CallView>, ApiError> {
    let agent = agent(&state, &headers, body.token.as_deref()).await?;
    let request = Request {
        recipient: body.recipient_number,
        agent_number: body.agent_number,
        label: body.conference_name,
        record: body.record,
    };
    let view = start(&state, &agent, request, "RecipientNumber", None).await?;
    Ok(success("Call initiated to agent", view))
}

pub async fn call_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonOrForm(body): JsonOrForm<CallStart>,
) -> Result<Success<CallView>, ApiError> {
    let agent = agent(&state, &headers, body.token.as_deref()).await?;
    let request = Request {
        recipient: body.to,
        agent_number: None,
        label: body.conf_name,
        record: body.record,
    };
    let view = start(&state, &agent, request, "to", None).await?;
    Ok(success("Call initiated to agent", view))
}

/// Starts a call for an Airtable record by the rules of `POST /phone-to-phone/start`, for the
/// agent `token` names. The call is stored together with its link to the record, and a record
/// whose previous call is not over is refused before anyone is rung.
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
    start(state, &agent, request, "RecipientNumber", Some(link)).await
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

async fn start(
    state: &AppState,
    agent: &Agent,
    request: Request,
    recipient_field: &str,
    link: Option<RecordLink<'_>>,
) -> Result<CallView, ApiError> {
    ratelimit::check_limit(state, CALL_STARTS_PER_AGENT, &agent.id.to_string()).await?;
    let new_call = check(state, agent, request, recipient_field)?;
    let call = match link {
        None => state.store.create_call(new_call).await?,
        Some(link) => match state.store.create_linked_call(new_call, link).await? {
            RecordCall::Created(call) => call,
            RecordCall::InProgress(call_id) => {
                return Err(ApiError::CallInProgress {
                    record_id: link.record_id.to_owned(),
                    call_id,
                });
            }
        },
    };
    let greeting = twiml::agent_greeting(&state.settings, call.id)
        .map_err(|e| ApiError::Internal(format!("could not write TwiML: {e}")))?;
    let mut create = CreateCall::new(
        call.agent_number.as_str(),
        state.settings.caller_id.as_str(),
        CallInstructions::Twiml(greeting),
    );
    create.status_callback = Some(callback_url(
        &state.settings,
        STATUS_PATH,
        call.id,
        Some(LegRole::Agent),
    ));
    create.status_callback_method = Some(HttpMethod::Post);
    create.status_callback_event = LEG_EVENTS.to_vec();
    match state.twilio.create_call(&create).await {
        Ok(created) => {
            state
                .store
                .upsert_leg(LegUpdate {
                    call_id: call.id,
                    role: LegRole::Agent,
                    call_sid: created.sid,
                    status: created
                        .status
                        .map_or_else(|| "queued".to_owned(), |s| s.as_str().to_owned()),
                    number: call.agent_number.clone(),
                    duration_secs: None,
                })
                .await?;
            tracing::info!(call = %call.id, agent = %agent.id, "call started");
            Ok(view::load(state.store.as_ref(), call.id).await?)
        }
        Err(err) => {
            state
                .store
                .transition_call(
                    call.id,
                    &[CallState::Created],
                    CallState::Failed,
                    Some(Reason::TwilioError.as_str()),
                )
                .await?;
            Err(upstream(&err))
        }
    }
}

/// Every rule a start request must pass, in the order a person fixes them.
fn check(
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
    let raw = request
        .recipient
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest(format!("{recipient_field} is required")))?;
    let recipient = PhoneNumber::parse(&raw)?;
    let destinations = &state.settings.destinations;
    destinations
        .check(&recipient, Use::Call)
        .map_err(|why| ApiError::Unprocessable(format!("{recipient} cannot be called: {why}")))?;
    // The agent's own leg is dialled too; a phone verified under a wider policy stays refused.
    destinations.check(&agent_phone, Use::Call).map_err(|why| {
        ApiError::Unprocessable(format!("your verified phone cannot be called: {why}"))
    })?;
    let label = request
        .label
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty());
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
    {
        return Err(ApiError::BadRequest(format!(
            "the conference name is longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    Ok(NewCall {
        agent_id: agent.id,
        recipient,
        agent_number: agent_phone,
        label,
        record: request.record.unwrap_or(agent.record_by_default),
    })
}

fn upstream(err: &twilio::Error) -> ApiError {
    ApiError::Upstream {
        message: format!("Twilio could not place the call: {err}"),
        twilio_code: err.code(),
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
        Some(Raw::Text(t)) => match t.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            other => Err(serde::de::Error::custom(format!(
                "Record must be true or false, not {other:?}"
            ))),
        },
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

//! Starting a call: the rules every start passes (the agent's verified phone, the destination
//! policy, the agent's start limit, the label), and the call stored before Twilio is asked for
//! the agent's leg. The agent's phone rings first; the customer is dialled from its Gather.

use std::time::Duration;

use super::CallError;
use super::agent_leg;
use super::view::{self, CallView};
use crate::destinations::Use;
use crate::domain::{CallMode, PhoneNumber};
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

/// What a start asks for, still unchecked.
#[derive(Debug, Clone)]
pub struct StartRequest {
    pub recipient: Option<String>,
    /// If given, it must be the agent's verified phone.
    pub agent_number: Option<String>,
    pub label: Option<String>,
    pub record: Option<bool>,
    /// How the request names the recipient's field, for the message when it is missing.
    pub recipient_field: &'static str,
}

impl StartRequest {
    /// A call to the lead of an Airtable record.
    pub fn for_record(recipient: &PhoneNumber, label: Option<String>) -> Self {
        Self {
            recipient: Some(recipient.as_str().to_owned()),
            agent_number: None,
            label,
            record: None,
            recipient_field: "RecipientNumber",
        }
    }
}

/// Starts a call for an Airtable record and waits for Twilio's answer. The call is stored
/// together with its link to the record, and a record whose previous call is not over is
/// refused before anyone is rung.
pub async fn start_for_record(
    state: &AppState,
    agent: &Agent,
    recipient: &PhoneNumber,
    label: Option<String>,
    link: RecordLink<'_>,
) -> Result<CallView, CallError> {
    let request = StartRequest::for_record(recipient, label);
    let call = store_call(state, agent, request, Some(link)).await?;
    agent_leg::create(state, &call)
        .await
        .map_err(|failed| failed.error)?;
    view::load(state.store.as_ref(), call.id).await
}

/// Counts the start against the agent's limit, checks it and stores the call (with its record
/// link); Twilio is not asked yet.
pub(super) async fn store_call(
    state: &AppState,
    agent: &Agent,
    request: StartRequest,
    link: Option<RecordLink<'_>>,
) -> Result<Call, CallError> {
    ratelimit::check_limit(state, CALL_STARTS_PER_AGENT, &agent.id.to_string()).await?;
    let new_call = check(state, agent, request)?;
    match link {
        None => Ok(state.store.create_call(new_call).await?),
        Some(link) => match state.store.create_linked_call(new_call, link).await? {
            RecordCall::Created(call) => Ok(call),
            RecordCall::InProgress(call_id) => Err(CallError::RecordHasCall {
                record_id: link.record_id.to_owned(),
                call_id,
            }),
        },
    }
}

/// Every rule a start request must pass, in the order a person fixes them.
fn check(state: &AppState, agent: &Agent, request: StartRequest) -> Result<NewCall, CallError> {
    let Some(agent_phone) = agent
        .phone
        .clone()
        .filter(|_| agent.phone_verified_at.is_some())
    else {
        return Err(CallError::Forbidden(
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
            return Err(CallError::Forbidden(
                "AgentNumber must be your verified phone; leave it out to use it".into(),
            ));
        }
    }
    let recipient = recipient(state, request.recipient, request.recipient_field)?;
    // The agent's own leg is dialled too; a phone verified under a wider policy stays refused.
    state
        .settings
        .destinations
        .check(&agent_phone, Use::Call)
        .map_err(|why| {
            CallError::Refused(format!("your verified phone cannot be called: {why}"))
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
) -> Result<PhoneNumber, CallError> {
    let raw = raw
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| CallError::Invalid(format!("{field} is required")))?;
    let recipient = PhoneNumber::parse(&raw)?;
    state
        .settings
        .destinations
        .check(&recipient, Use::Call)
        .map_err(|why| CallError::Refused(format!("{recipient} cannot be called: {why}")))?;
    Ok(recipient)
}

/// The user's name for the call, trimmed; an empty one is none.
pub(super) fn label(raw: Option<String>) -> Result<Option<String>, CallError> {
    let label = raw.map(|l| l.trim().to_owned()).filter(|l| !l.is_empty());
    if label
        .as_ref()
        .is_some_and(|l| l.chars().count() > MAX_LABEL_CHARS)
    {
        return Err(CallError::Invalid(format!(
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

//! A browser agent calls out: the Voice SDK's call reaches our TwiML App's Voice URL, and
//! becomes the agent's leg of a new call. The customer is dialled once the agent is in the
//! conference, and from there the call runs as a phone call does.

use chrono::Utc;

use super::flow::{Fact, LegStatus};
use super::start::{CALL_STARTS_PER_AGENT, label, parse_flag, recipient};
use super::{CallError, advance};
use crate::domain::{CallMode, ClientIdentity, Endpoint, EventSource, LegRole};
use crate::ratelimit::{self, RateLimitError};
use crate::state::AppState;
use crate::store::{Agent, Call, InboundCall, InboundLeg, NewCall, NewEvent};

/// What Twilio sent to the Voice URL, as far as a call start is concerned.
#[derive(Debug, Clone)]
pub struct BrowserDial {
    /// `client:<identity>`, or whatever else called the App.
    pub from: String,
    pub call_sid: String,
    /// The custom parameters of `device.connect({params})`.
    pub to: Option<String>,
    pub record: Option<String>,
    pub label: Option<String>,
    /// Every parameter, stored with the call's first event.
    pub payload: serde_json::Value,
}

/// How the browser's call is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserAnswer {
    /// The agent joins the call's conference (or, for a call already over, is let go).
    Join(Call),
    /// Nothing was dialled: the agent hears why, then the call is hung up.
    Refuse(String),
}

/// Stores the call the browser asked for, with the browser's call as its agent leg, or says
/// why not. A retried webhook (the same CallSid) finds the call the first one stored.
pub async fn place(state: &AppState, dial: &BrowserDial) -> Result<BrowserAnswer, CallError> {
    let identity = match Endpoint::parse(&dial.from) {
        Ok(Endpoint::Client(identity)) => identity,
        _ => {
            return Ok(refuse(
                "This number takes calls from the callbridge web app only.",
            ));
        }
    };
    let agent = match agent(state, &identity).await? {
        Ok(agent) => agent,
        Err(why) => return Ok(refuse(why)),
    };
    if let Some(leg) = state.store.leg_by_sid(&dial.call_sid).await? {
        let call = state.store.call_by_id(leg.call_id).await?;
        return Ok(call.map_or_else(|| refuse("This call is unknown."), BrowserAnswer::Join));
    }
    let new_call = match new_call(state, &agent, identity, dial) {
        Ok(call) => call,
        Err(why) => return Ok(BrowserAnswer::Refuse(why)),
    };
    if let Err(err) =
        ratelimit::check_limit(state, CALL_STARTS_PER_AGENT, &agent.id.to_string()).await
    {
        return match err {
            RateLimitError::Limited { .. } => Ok(refuse(
                "You are starting calls too quickly. Wait a minute, then try again.",
            )),
            RateLimitError::Store(err) => Err(err.into()),
        };
    }
    let leg = InboundLeg {
        call_sid: dial.call_sid.clone(),
        status: LegStatus::InProgress.as_str().to_owned(),
    };
    let call = match state.store.create_inbound_call(new_call, leg).await? {
        InboundCall::Created(call) => call,
        InboundCall::Existing(call) => return Ok(BrowserAnswer::Join(call)),
    };
    state
        .store
        .record_event(NewEvent {
            call_id: call.id,
            source: EventSource::Call,
            kind: "browser-dialled".to_owned(),
            call_sid: Some(dial.call_sid.clone()),
            dedupe_key: format!("browser-voice:{}", dial.call_sid),
            sequence_number: None,
            payload: dial.payload.clone(),
            received_at: Utc::now(),
        })
        .await?;
    // Our TwiML answers the browser's call: the agent is on the line from here.
    let answered = Fact::Leg {
        role: LegRole::Agent,
        status: LegStatus::InProgress,
    };
    let advanced = advance::apply(state, call.id, answered).await?;
    tracing::info!(call = %call.id, agent = %agent.id, "browser call started");
    Ok(BrowserAnswer::Join(advanced.call))
}

fn refuse(why: &str) -> BrowserAnswer {
    BrowserAnswer::Refuse(why.to_owned())
}

/// The agent whose browser placed a call from `from` (`client:<identity>`), if they may still
/// call; otherwise why not, in words they hear.
pub async fn caller(
    state: &AppState,
    from: &str,
) -> Result<Result<Agent, &'static str>, CallError> {
    match Endpoint::parse(from) {
        Ok(Endpoint::Client(identity)) => agent(state, &identity).await,
        _ => Ok(Err(
            "This number takes calls from the callbridge web app only.",
        )),
    }
}

/// The agent an identity of ours names, if they may still call.
async fn agent(
    state: &AppState,
    identity: &ClientIdentity,
) -> Result<Result<Agent, &'static str>, CallError> {
    let Some(id) = identity.agent_id() else {
        return Ok(Err("This browser is not signed in to callbridge."));
    };
    let Some(agent) = state.store.agent_by_id(id).await? else {
        return Ok(Err("This browser is not signed in to callbridge."));
    };
    if agent.revoked_at.is_some() {
        return Ok(Err("Your access to callbridge was revoked. Goodbye."));
    }
    Ok(Ok(agent))
}

/// The start endpoints' rules for the number and the options, in the words the agent hears.
fn new_call(
    state: &AppState,
    agent: &Agent,
    identity: ClientIdentity,
    dial: &BrowserDial,
) -> Result<NewCall, String> {
    let spoken = |err: CallError| format!("{err}. Nothing was dialled. Goodbye.");
    let recipient = recipient(state, dial.to.clone(), "To").map_err(spoken)?;
    let label = label(dial.label.clone()).map_err(spoken)?;
    let record = match dial.record.as_deref() {
        None => None,
        Some(text) => {
            parse_flag(text).map_err(|why| format!("{why}. Nothing was dialled. Goodbye."))?
        }
    };
    Ok(NewCall {
        agent_id: agent.id,
        mode: CallMode::Browser,
        recipient,
        agent_endpoint: identity.into(),
        label,
        record: record.unwrap_or(agent.record_by_default),
    })
}

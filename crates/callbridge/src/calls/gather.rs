//! The agent's Gather ended: the agent answered, and either pressed a key or stayed silent.
//! Whoever moves the call to `recipient_ringing` queues the customer's dial; a retried request
//! (on this instance or another) finds the call moved and queues nothing.

use chrono::Utc;
use serde_json::Value;

use super::CallError;
use super::callback::write_and_advance;
use super::flow::Fact;
use crate::config::AgentSilence;
use crate::domain::{EventSource, LegRole};
use crate::state::AppState;
use crate::store::{Call, CallbackWrite, LegUpdate, NewEvent};

/// What Twilio reported of the agent's Gather.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The agent's leg.
    pub call_sid: String,
    /// The key pressed; empty when the agent stayed silent.
    pub digits: String,
    /// Every parameter, stored with the event.
    pub payload: Value,
}

/// Where the agent goes next.
#[derive(Debug, Clone)]
pub enum AgentNext {
    /// Into the call's conference (or let go, for a call already over).
    Conference(Call),
    /// The agent stayed silent and the setting says to hang up.
    HangUp,
}

pub async fn agent_gathered(
    state: &AppState,
    call: &Call,
    gathered: &Gathered,
) -> Result<AgentNext, CallError> {
    let silent = gathered.digits.is_empty();
    let mut write = CallbackWrite::of(NewEvent {
        call_id: call.id,
        source: EventSource::Call,
        kind: if silent { "silence" } else { "key-pressed" }.to_owned(),
        call_sid: Some(gathered.call_sid.clone()),
        dedupe_key: format!("gather:{}", gathered.call_sid),
        sequence_number: None,
        payload: gathered.payload.clone(),
        received_at: Utc::now(),
    });
    // Reaching the Gather's action proves the agent answered, whatever callbacks are late.
    write.leg = Some(LegUpdate {
        call_id: call.id,
        role: LegRole::Agent,
        call_sid: gathered.call_sid.clone(),
        status: "in-progress".into(),
        number: call.agent_endpoint.clone(),
        duration_secs: None,
    });
    if silent && state.settings.agent_silence == AgentSilence::Hangup {
        write_and_advance(state, call, write, None).await?;
        return Ok(AgentNext::HangUp);
    }
    // The customer is dialled by the effects worker, from the row this transition queued: the
    // agent waits in the conference meanwhile, and Twilio gets its TwiML at once however slow
    // its own Calls.create is.
    let call = write_and_advance(state, call, write, Some(Fact::AgentReady)).await?;
    Ok(AgentNext::Conference(call))
}

//! The TwiML webhooks: the agent's Gather action, which has the customer dialled, and the
//! conference TwiML the customer's leg (or a seed-style redirect) fetches.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::signed::SignedForm;
use crate::calls::advance;
use crate::calls::flow::Fact;
use crate::calls::twiml;
use crate::config::AgentSilence;
use crate::domain::{CallState, EventSource, LegRole};
use crate::http::{ApiError, patiently};
use crate::state::AppState;
use crate::store::{Call, LegUpdate, NewEvent};

const GOODBYE: &str = "Goodbye.";

/// A TwiML document as Twilio wants it.
#[derive(Debug)]
pub struct Twiml(pub String);

impl IntoResponse for Twiml {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], self.0).into_response()
    }
}

pub(super) fn render(xml: Result<String, ::twiml::Error>) -> Result<Twiml, ApiError> {
    xml.map(Twiml)
        .map_err(|e| ApiError::Internal(format!("could not write TwiML: {e}")))
}

async fn load(state: &AppState, form: &SignedForm) -> Result<Call, ApiError> {
    state
        .store
        .call_by_id(form.call_id()?)
        .await?
        .ok_or_else(|| ApiError::NotFound("call not found".into()))
}

/// The agent's Gather ended. Whoever moves the call to `recipient_ringing` queues the customer's
/// dial; a retried request (on this instance or another) gets the same TwiML and queues nothing.
pub async fn dial_recipient(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Twiml, ApiError> {
    patiently(&state, || agent_ready(&state, &form)).await
}

async fn agent_ready(state: &AppState, form: &SignedForm) -> Result<Twiml, ApiError> {
    let call = load(state, form).await?;
    let agent_sid = form.require("CallSid")?.to_owned();
    let digits = form.param("Digits").unwrap_or_default();
    state
        .store
        .record_event(NewEvent {
            call_id: call.id,
            source: EventSource::Call,
            kind: if digits.is_empty() {
                "silence"
            } else {
                "key-pressed"
            }
            .to_owned(),
            call_sid: Some(agent_sid.clone()),
            dedupe_key: format!("gather:{agent_sid}"),
            sequence_number: None,
            payload: form.payload(),
            received_at: Utc::now(),
        })
        .await?;
    // Reaching the Gather's action proves the agent answered, whatever callbacks are late.
    state
        .store
        .upsert_leg(LegUpdate {
            call_id: call.id,
            role: LegRole::Agent,
            call_sid: agent_sid,
            status: "in-progress".into(),
            number: call.agent_endpoint.clone(),
            duration_secs: None,
        })
        .await?;
    if digits.is_empty() && state.settings.agent_silence == AgentSilence::Hangup {
        state.live.notify(call.id);
        return render(twiml::say_and_hang_up(GOODBYE));
    }
    // The customer is dialled by the effects worker, from the row this transition queued: the
    // agent waits in the conference meanwhile, and Twilio gets its TwiML at once however slow
    // its own Calls.create is.
    let advanced = advance::apply(state, call.id, Fact::AgentReady).await?;
    answer_for(state, &advanced.call, LegRole::Agent)
}

/// `<Dial><Conference>` for the leg the URL names (the customer's, unless it says otherwise).
pub async fn conference_twiml(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Twiml, ApiError> {
    patiently(&state, || async {
        let call = load(&state, &form).await?;
        let leg = form.leg()?.unwrap_or(LegRole::Recipient);
        answer_for(&state, &call, leg)
    })
    .await
}

/// A party joins the conference while the call is live, and is let go once it is over (e.g. the
/// customer answering after the agent gave up).
pub(super) fn answer_for(state: &AppState, call: &Call, leg: LegRole) -> Result<Twiml, ApiError> {
    match call.state {
        CallState::Completed | CallState::Failed => render(twiml::say_and_hang_up(GOODBYE)),
        _ => render(twiml::conference(&state.settings, call, leg)),
    }
}

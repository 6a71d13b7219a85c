//! Status callbacks (call, conference, recording): each stored once as an event, its leg or
//! recording brought up to date, and its fact applied to the call.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::callback::{CallProgress, Callback, ConferenceEvent, RecordingStatus};
use super::signed::SignedForm;
use crate::calls::flow::{Fact, LegStatus};
use crate::calls::progress::LegProgress;
use crate::calls::{self, advance};
use crate::domain::{CallId, CallMode, LegRole};
use crate::http::{ApiError, patiently};
use crate::state::AppState;
use crate::store::{Call, RecordingUpdate};

/// Answers `{}` like the seed: Twilio reads nothing from a status callback's reply.
pub async fn status(
    State(state): State<AppState>,
    form: SignedForm,
) -> Result<Json<Value>, ApiError> {
    patiently(&state, || apply(&state, &form)).await
}

async fn apply(state: &AppState, form: &SignedForm) -> Result<Json<Value>, ApiError> {
    apply_to(state, form, form.call_id()?).await
}

/// Stores the callback as an event of the call `call_id` and applies what it says.
pub(super) async fn apply_to(
    state: &AppState,
    form: &SignedForm,
    call_id: CallId,
) -> Result<Json<Value>, ApiError> {
    let call = state
        .store
        .call_by_id(call_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("call not found".into()))?;
    let callback = Callback::parse(form)?;
    // A retry is stored once but applied again: the first delivery may have stored its event
    // and then failed (a database outage, a crash) before the call moved. Applying a fact twice is
    // safe: the state moves by compare-and-swap, only the winner of a move queues its effects, and the
    // one effect queued without a move (ending a ringing customer leg) is harmless to repeat.
    let stored = state
        .store
        .record_event(callback.event(call_id, form))
        .await?;
    if !stored {
        tracing::debug!(call = %call_id, "callback seen before: re-applying its fact");
    }
    let fact = match &callback {
        Callback::Call(progress) => on_call_progress(state, &call, form, progress).await?,
        Callback::Conference(event) => on_conference_event(state, &call, event).await?,
        Callback::Recording(recording) => {
            on_recording(state, &call, recording).await?;
            None
        }
    };
    match fact {
        Some(fact) => {
            advance::apply(state, call_id, fact).await?;
        }
        // Live streams on this instance show the new event at once.
        None => state.live.notify(call_id),
    }
    Ok(Json(json!({})))
}

async fn on_call_progress(
    state: &AppState,
    call: &Call,
    form: &SignedForm,
    progress: &CallProgress,
) -> Result<Option<Fact>, ApiError> {
    let role = match form.leg()? {
        Some(role) => role,
        None => known_role(state, call, &progress.call_sid)
            .await?
            .ok_or_else(|| ApiError::BadRequest("the URL names no leg (&leg=…)".into()))?,
    };
    let leg = LegProgress {
        call_sid: progress.call_sid.clone(),
        raw_status: progress.raw_status.clone(),
        status: progress.status,
        duration_secs: progress.duration_secs,
    };
    Ok(calls::progress::record(state, call, role, &leg).await?)
}

async fn known_role(
    state: &AppState,
    call: &Call,
    call_sid: &str,
) -> Result<Option<LegRole>, ApiError> {
    let legs = state.store.legs_for_call(call.id).await?;
    Ok(legs
        .into_iter()
        .find(|l| l.call_sid == call_sid)
        .map(|l| l.role))
}

async fn on_conference_event(
    state: &AppState,
    call: &Call,
    event: &ConferenceEvent,
) -> Result<Option<Fact>, ApiError> {
    // The first conference is the call's; a party arriving after it ended gets a new one,
    // which must not replace it.
    if call.conference_sid.is_none() {
        state
            .store
            .set_conference_sid(call.id, &event.conference_sid)
            .await?;
    }
    Ok(match event.event.as_str() {
        "participant-join" => {
            // Our TwiML labels each participant; the leg table answers for anyone else's.
            let role = match event.label.as_deref().map(str::parse::<LegRole>) {
                Some(Ok(role)) => Some(role),
                _ => match &event.call_sid {
                    Some(sid) => known_role(state, call, sid).await?,
                    None => None,
                },
            };
            match role {
                // A browser agent is dialled into nothing first: being in the conference is
                // what makes them ready for the customer.
                Some(LegRole::Agent) if call.mode == CallMode::Browser => Some(Fact::AgentReady),
                other => other.map(Fact::Joined),
            }
        }
        // Nothing follows the browser's `<Dial>`: leaving the conference ends its call. Said
        // here too, because the App's Status Callback may not be set.
        "participant-leave" if call.mode == CallMode::Browser && is_agent(event) => {
            Some(Fact::Leg {
                role: LegRole::Agent,
                status: LegStatus::Completed,
            })
        }
        "conference-end" => Some(Fact::ConferenceEnded),
        _ => None,
    })
}

fn is_agent(event: &ConferenceEvent) -> bool {
    event.label.as_deref() == Some(LegRole::Agent.as_str())
}

async fn on_recording(
    state: &AppState,
    call: &Call,
    recording: &RecordingStatus,
) -> Result<(), ApiError> {
    state
        .store
        .upsert_recording(RecordingUpdate {
            call_id: call.id,
            recording_sid: recording.recording_sid.clone(),
            conference_sid: recording.conference_sid.clone(),
            status: recording.status.clone(),
            duration_secs: recording.duration_secs,
            url: recording.url.clone(),
        })
        .await?;
    Ok(())
}

//! Applying a Twilio status callback (a call's progress, a conference event or a recording's
//! status) to its call: stored once as an event, its leg or recording brought up to date, and
//! the fact it establishes applied to the call's flow.

use chrono::Utc;
use serde_json::Value;

use super::flow::{self, ConferenceChange, Fact, LegStatus};
use super::progress::{self, LegProgress, LegWrite};
use super::{CallError, advance, control};
use crate::domain::{CallId, EventSource, LegRole};
use crate::state::AppState;
use crate::store::{Call, CallbackWrite, NewEvent, RecordingUpdate};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Callback {
    Call(CallProgress),
    Conference(ConferenceEvent),
    Recording(RecordingStatus),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallProgress {
    pub call_sid: String,
    /// As sent; `status` is `None` for one we do not know.
    pub raw_status: String,
    pub status: Option<LegStatus>,
    pub sequence_number: Option<i64>,
    /// Seconds from answer to hang-up; only on the final callback.
    pub duration_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConferenceEvent {
    pub conference_sid: String,
    /// `conference-start`, `participant-join`, …
    pub event: String,
    /// The participant's call, for participant events.
    pub call_sid: Option<String>,
    pub label: Option<String>,
    pub sequence_number: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingStatus {
    pub recording_sid: String,
    pub status: String,
    pub call_sid: Option<String>,
    pub conference_sid: Option<String>,
    pub duration_secs: Option<i64>,
    pub url: Option<String>,
}

impl Callback {
    /// The event to store, with every parameter Twilio sent as its `payload`. The key is the
    /// same for every delivery of one callback (Twilio's retries, our duplicates) and different
    /// for anything else that happened.
    pub fn event(&self, call_id: CallId, payload: Value) -> NewEvent {
        let seq = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let (source, kind, call_sid, dedupe_key, sequence_number) = match self {
            Self::Call(c) => (
                EventSource::Call,
                c.raw_status.clone(),
                Some(c.call_sid.clone()),
                format!(
                    "call:{}:{}:{}",
                    c.call_sid,
                    c.raw_status,
                    seq(c.sequence_number)
                ),
                c.sequence_number,
            ),
            Self::Conference(e) => (
                EventSource::Conference,
                e.event.clone(),
                e.call_sid.clone(),
                format!(
                    "conference:{}:{}:{}:{}",
                    e.conference_sid,
                    e.event,
                    e.call_sid.as_deref().unwrap_or("-"),
                    seq(e.sequence_number)
                ),
                e.sequence_number,
            ),
            Self::Recording(r) => (
                EventSource::Recording,
                r.status.clone(),
                r.call_sid.clone(),
                format!("recording:{}:{}", r.recording_sid, r.status),
                None,
            ),
        };
        NewEvent {
            call_id,
            source,
            kind,
            call_sid,
            dedupe_key,
            sequence_number,
            payload,
            received_at: Utc::now(),
        }
    }
}

/// Stores `callback` as an event of `call` and applies what it says. `leg` is the leg the
/// callback's URL names, if it names one; a call's progress for a leg we cannot tell is refused.
///
/// Everything the callback changes (its event, the leg or recording, the call's move and the
/// effects that move queues) is written in one transaction, planned from `call` as the caller
/// read it. Should the call have moved meanwhile, the move is planned again from what is
/// stored.
pub async fn apply(
    state: &AppState,
    call: &Call,
    leg: Option<LegRole>,
    callback: &Callback,
    payload: Value,
) -> Result<(), CallError> {
    let mut write = CallbackWrite::of(callback.event(call.id, payload));
    let fact = match callback {
        Callback::Call(progress) => {
            let planned = on_call_progress(state, call, leg, progress).await?;
            write.leg = Some(planned.leg);
            write.call_duration_secs = planned.call_duration_secs;
            planned.fact
        }
        Callback::Conference(event) => {
            if call.conference_sid.is_none() {
                write.conference_sid = Some(event.conference_sid.clone());
            }
            on_conference_event(state, call, event).await?
        }
        Callback::Recording(recording) => {
            write.recording = Some(recording_update(call, recording));
            None
        }
    };
    let about = match callback {
        Callback::Call(progress) => Some(progress.call_sid.as_str()),
        Callback::Conference(event) => event.call_sid.as_deref(),
        Callback::Recording(_) => None,
    };
    // Only reads, except on a call with a third party, whose reactions are stored on their own.
    let fact = match fact {
        Some(fact) => control::react::apply(state, call, fact, about).await?,
        None => None,
    };
    write_and_advance(state, call, write, fact).await?;
    Ok(())
}

/// Writes `write` with the move `fact` makes of `call` as it was read, in one transaction, then
/// wakes what must hear of it; answers with the call after. Should the call have moved
/// meanwhile, the fact is applied again to what is stored.
pub(super) async fn write_and_advance(
    state: &AppState,
    call: &Call,
    mut write: CallbackWrite,
    fact: Option<Fact>,
) -> Result<Call, CallError> {
    let step = fact.map(|fact| {
        let (step, planned, unconditional) = advance::plan(call, fact);
        write.planned = planned;
        write.unconditional_effects = unconditional;
        (fact, step)
    });
    // A retry is stored once but applied again: the first delivery may have stored its event
    // and then failed before the call moved. Applying a fact twice is safe: the state moves by
    // compare-and-swap, only the winner of a move queues its effects, and the one effect queued
    // without a move (ending a ringing customer leg) is harmless to repeat.
    let written = state.store.write_callback(&write).await?;
    if !written.new_event {
        tracing::debug!(call = %call.id, "callback seen before: re-applying its fact");
    }
    let mut after = call.clone();
    match (step, written.moved) {
        (Some((fact, _)), Some(false)) => {
            return Ok(advance::apply(state, call.id, fact).await?.call);
        }
        (Some((fact, step)), _) => {
            if let Some(planned) = &write.planned {
                advance::log_move(call.id, planned, fact);
                after.state = planned.to;
                after.reason = planned.reason.map(str::to_owned);
            }
            if !step.actions.is_empty() {
                state.effects.wake();
            }
        }
        (None, _) => {}
    }
    // Live streams on this instance show the new event at once.
    state.live.notify(call.id);
    Ok(after)
}

async fn on_call_progress(
    state: &AppState,
    call: &Call,
    leg: Option<LegRole>,
    progress: &CallProgress,
) -> Result<LegWrite, CallError> {
    let role = match leg {
        Some(role) => role,
        None => known_role(state, call, &progress.call_sid)
            .await?
            .ok_or_else(|| CallError::Invalid("the URL names no leg (&leg=…)".into()))?,
    };
    let leg = LegProgress {
        call_sid: progress.call_sid.clone(),
        raw_status: progress.raw_status.clone(),
        status: progress.status,
        duration_secs: progress.duration_secs,
    };
    Ok(progress::plan(state, call, role, &leg).await?)
}

async fn known_role(
    state: &AppState,
    call: &Call,
    call_sid: &str,
) -> Result<Option<LegRole>, CallError> {
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
) -> Result<Option<Fact>, CallError> {
    let change = match event.event.as_str() {
        "participant-join" => {
            // Our TwiML labels each participant; the leg table answers for anyone else's.
            let role = match event.label.as_deref().map(str::parse::<LegRole>) {
                Some(Ok(role)) => Some(role),
                _ => match &event.call_sid {
                    Some(sid) => known_role(state, call, sid).await?,
                    None => None,
                },
            };
            ConferenceChange::Joined(role)
        }
        "participant-leave" => ConferenceChange::Left(
            [LegRole::Agent, LegRole::Recipient]
                .into_iter()
                .find(|role| event.label.as_deref() == Some(role.as_str())),
        ),
        "conference-end" => ConferenceChange::Ended,
        _ => ConferenceChange::Other,
    };
    Ok(flow::conference_fact(call.mode, change))
}

fn recording_update(call: &Call, recording: &RecordingStatus) -> RecordingUpdate {
    RecordingUpdate {
        call_id: call.id,
        recording_sid: recording.recording_sid.clone(),
        conference_sid: recording.conference_sid.clone(),
        status: recording.status.clone(),
        duration_secs: recording.duration_secs,
        url: recording.url.clone(),
    }
}

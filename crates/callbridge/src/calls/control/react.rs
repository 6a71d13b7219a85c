//! Recording control events, and what the call's webhooks mean for its control: a third party
//! joining or leaving moves a transfer on, and a handed-over call's legs are read anew.

use chrono::Utc;
use serde_json::{Value, json};

use super::rules::{self, Reaction};
use super::{Situation, kind};
use crate::calls::CallError;
use crate::calls::effects;
use crate::calls::flow::{Action, Fact};
use crate::domain::{EventSource, LegRole};
use crate::state::AppState;
use crate::store::{Call, NewEvent, NewOutboxRow};

/// One `control` event to record, and the effects that carry it out.
pub(super) struct Record<'a> {
    pub kind: &'static str,
    /// The leg it is about, if one.
    pub call_sid: Option<&'a str>,
    pub payload: Value,
    /// The same for every attempt at recording the same thing (the same callback applied twice,
    /// on one instance or two); `None` for an agent's request, which is new every time.
    pub dedupe: Option<String>,
    pub actions: Vec<Action>,
}

/// Stores the event and queues its effects in one transaction, then wakes the effects worker
/// and the call's live streams. Returns whether it was new.
pub(super) async fn record(
    state: &AppState,
    call: &Call,
    record: Record<'_>,
) -> Result<bool, CallError> {
    let dedupe_key = match record.dedupe {
        Some(key) => format!("control:{}:{key}", call.id),
        None => format!("control:{}:{}", call.id, uuid::Uuid::now_v7()),
    };
    let event = NewEvent {
        call_id: call.id,
        source: EventSource::Control,
        kind: record.kind.to_owned(),
        call_sid: record.call_sid.map(str::to_owned),
        dedupe_key,
        sequence_number: None,
        payload: record.payload,
        received_at: Utc::now(),
    };
    let rows: Vec<NewOutboxRow> = record
        .actions
        .iter()
        .map(|action| effects::row(call.id, *action))
        .collect();
    let new = state.store.record_event_queueing(event, &rows).await?;
    if new {
        tracing::info!(call = %call.id, kind = record.kind, "call control");
        if !rows.is_empty() {
            state.effects.wake();
        }
    }
    state.live.notify(call.id);
    Ok(new)
}

fn concerns_control(fact: Fact) -> bool {
    matches!(
        fact,
        Fact::Leg {
            role: LegRole::Agent | LegRole::Third,
            ..
        } | Fact::Joined(LegRole::Third)
    )
}

/// Applies what `fact` (from a callback about `call_sid`) means for the call's control, and
/// answers with the fact the call's flow must see, if any.
pub async fn apply(
    state: &AppState,
    call: &Call,
    fact: Fact,
    call_sid: Option<&str>,
) -> Result<Option<Fact>, CallError> {
    if !concerns_control(fact) {
        return Ok(Some(fact));
    }
    // Every call's agent leg reports its progress, few calls ever have a third party: only
    // theirs are worth reading the events of.
    if matches!(
        fact,
        Fact::Leg {
            role: LegRole::Agent,
            ..
        }
    ) {
        let legs = state.store.legs_for_call(call.id).await?;
        if !legs.iter().any(|leg| leg.role == LegRole::Third) {
            return Ok(Some(fact));
        }
    }
    let events = state.store.events_for_call(call.id).await?;
    let situation = Situation::of(&events);
    let key = call_sid.unwrap_or("-");
    for reaction in rules::react(&situation, fact) {
        apply_reaction(state, call, reaction, call_sid, key).await?;
    }
    Ok(rules::as_call_fact(&situation, fact))
}

async fn apply_reaction(
    state: &AppState,
    call: &Call,
    reaction: Reaction,
    call_sid: Option<&str>,
    key: &str,
) -> Result<(), CallError> {
    let payload = match (reaction.kind, reaction.detail) {
        (kind::PARTY_LEFT, Some(status)) => json!({"party": "third", "status": status}),
        (_, Some(reason)) => json!({"reason": reason}),
        (_, None) => json!({}),
    };
    record(
        state,
        call,
        Record {
            kind: reaction.kind,
            call_sid,
            payload,
            dedupe: Some(format!("{}:{key}", reaction.kind)),
            actions: reaction.actions,
        },
    )
    .await?;
    Ok(())
}

/// Twilio would not dial the third party (the outbox row `row_id` gave up): the same as their
/// leg failing at once.
pub async fn dial_failed(state: &AppState, call: &Call, row_id: &str) -> Result<(), CallError> {
    let events = state.store.events_for_call(call.id).await?;
    let situation = Situation::of(&events);
    let failed = Fact::Leg {
        role: LegRole::Third,
        status: crate::calls::flow::LegStatus::Failed,
    };
    let key = format!("dial-{row_id}");
    for reaction in rules::react(&situation, failed) {
        apply_reaction(state, call, reaction, None, &key).await?;
    }
    Ok(())
}

//! Calls always end. A callback Twilio could not deliver (this instance was down, the network
//! cut) would leave a call `ringing` or `connected` for ever; the reconciler finds calls that
//! have not moved for longer than their state allows, asks Twilio what became of their legs and
//! conference, and applies the answer exactly as the callback would have been applied.
//!
//! Every instance runs it: once at start over every unfinished call (whatever their age, since
//! this instance may just have been down), then every half `RECONCILE_AFTER`, taking turns
//! through a pacing slot shared in the database so that one instance at a time looks.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt as _;
use serde_json::json;

use super::advance;
use super::agent_leg;
use super::control;
use super::effects;
use super::flow::{Fact, LegStatus, Reason};
use super::outcome;
use super::progress::{self, LegProgress};
use crate::domain::{CallState, EventSource, LegRole, mask};
use crate::state::AppState;
use crate::store::{Call, CallLeg, NewEvent, OutboxStatus, StoreError};

/// The shared pacing budget the instances take turns through.
const PACING_KEY: &str = "calls:reconciler";
/// Calls looked at in one pass, the stalest first.
const BATCH: u32 = 100;
/// A connected call may rightly go quiet for a long conversation: it is looked at only after
/// this many times `RECONCILE_AFTER`.
const CONNECTED_FACTOR: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Twilio: {0}")]
    Twilio(#[from] twilio::Error),
    #[error(transparent)]
    Control(#[from] super::CallError),
}

/// Runs until `stop` resolves.
pub async fn run<S>(state: AppState, stop: S)
where
    S: Future<Output = ()> + Clone + Send,
{
    let after = state.settings.reconcile_after;
    let every = after / 2;
    let mut first = true;
    loop {
        if stop.clone().now_or_never().is_some() {
            return;
        }
        if !first {
            let wait = match state
                .store
                .take_pacing_slot(PACING_KEY, Utc::now(), every)
                .await
            {
                Ok(slot) => (slot - Utc::now()).to_std().unwrap_or_default(),
                Err(error) => {
                    tracing::warn!(%error, "reconciler: no turn taken");
                    every
                }
            };
            tokio::select! {
                () = stop.clone() => return,
                () = tokio::time::sleep(wait.max(Duration::from_millis(50))) => {}
            }
        }
        let stale_after = if first { Duration::ZERO } else { after };
        first = false;
        if let Err(error) = pass(&state, stale_after).await {
            tracing::warn!(%error, "reconciler: pass failed; will retry");
        }
    }
}

/// Looks at every unfinished call that has not moved for `stale_after` (connected ones for
/// longer); returns how many were looked at.
pub async fn pass(state: &AppState, stale_after: Duration) -> Result<usize, ReconcileError> {
    let now = Utc::now();
    let before = now - chrono::Duration::from_std(stale_after).unwrap_or_default();
    let calls = state.store.unfinished_calls(before, BATCH).await?;
    let connected_before =
        now - chrono::Duration::from_std(stale_after * CONNECTED_FACTOR).unwrap_or_default();
    let mut looked = 0;
    for call in calls {
        if call.state == CallState::Connected && call.updated_at >= connected_before {
            continue;
        }
        looked += 1;
        if let Err(error) = check(state, &call).await {
            tracing::warn!(call = %call.id, err = %mask::text(&error.to_string()), "reconciler: could not check a call");
        }
    }
    Ok(looked)
}

/// Brings one call up to date with Twilio's view of it.
pub async fn check(state: &AppState, call: &Call) -> Result<(), ReconcileError> {
    // An effect still queued will move the call itself (or fail it); asking Twilio now would
    // race it.
    let queued = state.store.outbox_for_key(&effects::key(call.id)).await?;
    if queued
        .iter()
        .any(|row| matches!(row.status, OutboxStatus::Pending | OutboxStatus::InFlight))
    {
        return Ok(());
    }
    let legs = state.store.legs_for_call(call.id).await?;
    if legs.is_empty() {
        return never_placed(state, call).await;
    }
    for leg in &legs {
        match LegStatus::parse(&leg.status) {
            // The leg's last callback may have been stored and then failed (a busy database)
            // before the call moved: its fact is applied again, which moves the call at most
            // once.
            Some(status) if status.is_final() => {
                let fact = Fact::Leg {
                    role: leg.role,
                    status,
                };
                apply_leg_fact(state, call, fact, &leg.call_sid).await?;
            }
            _ => check_leg(state, call, leg).await?,
        }
    }
    if let Some(sid) = &call.conference_sid {
        check_conference(state, call, sid).await?;
    }
    Ok(())
}

async fn check_leg(state: &AppState, call: &Call, leg: &CallLeg) -> Result<(), ReconcileError> {
    let progress = match state.twilio.fetch_call(&leg.call_sid).await {
        Ok(twilio_call) => {
            let Some(status) = twilio_call.status else {
                return Ok(());
            };
            LegProgress {
                call_sid: leg.call_sid.clone(),
                raw_status: status.as_str().to_owned(),
                status: LegStatus::parse(status.as_str()),
                duration_secs: twilio_call.duration.and_then(|d| d.parse().ok()),
            }
        }
        // Twilio has no such call: nobody is on it.
        Err(error) if error.is_not_found() => LegProgress {
            call_sid: leg.call_sid.clone(),
            raw_status: LegStatus::Failed.as_str().to_owned(),
            status: Some(LegStatus::Failed),
            duration_secs: None,
        },
        Err(error) => return Err(error.into()),
    };
    if progress.raw_status == leg.status {
        return Ok(());
    }
    tracing::info!(call = %call.id, role = %leg.role, status = %progress.raw_status, "reconciler: a leg moved without its callback");
    record_event(
        state,
        call,
        EventSource::Call,
        &progress.raw_status,
        Some(&leg.call_sid),
    )
    .await?;
    if let Some(fact) = progress::record(state, call, leg.role, &progress).await? {
        apply_leg_fact(state, call, fact, &leg.call_sid).await?;
    }
    Ok(())
}

/// A leg's fact goes through call control first, as its callback's would: a handed-over
/// call's old agent leg ending must not end the call.
async fn apply_leg_fact(
    state: &AppState,
    call: &Call,
    fact: Fact,
    call_sid: &str,
) -> Result<(), ReconcileError> {
    if let Some(fact) = control::react::apply(state, call, fact, Some(call_sid)).await? {
        advance::apply(state, call.id, fact).await?;
    }
    Ok(())
}

async fn check_conference(state: &AppState, call: &Call, sid: &str) -> Result<(), ReconcileError> {
    let ended = match state.twilio.fetch_conference(sid).await {
        Ok(conference) => conference.status == Some(twilio::ConferenceStatus::Completed),
        Err(error) if error.is_not_found() => true,
        Err(error) => return Err(error.into()),
    };
    let current = state.store.call_by_id(call.id).await?;
    if ended && current.is_some_and(|c| c.state == CallState::Connected) {
        record_event(state, call, EventSource::Conference, "conference-end", None).await?;
        advance::apply(state, call.id, Fact::ConferenceEnded).await?;
    }
    Ok(())
}

/// A call with no leg at all: its start died before Twilio placed the agent's leg, or after,
/// before the leg was stored. Twilio's own list of calls to the agent tells which.
async fn never_placed(state: &AppState, call: &Call) -> Result<(), ReconcileError> {
    // A start may be waiting on Twilio right now; it has until the request's timeout.
    let settled_after =
        chrono::Duration::from_std(state.settings.timeouts.request * 2).unwrap_or_default();
    if call.state != CallState::Created || Utc::now() - call.created_at < settled_after {
        return Ok(());
    }
    // A browser's call is stored with its leg: only a phone can have been rung unrecorded.
    let Some(agent_phone) = call.agent_endpoint.phone() else {
        return Ok(());
    };
    let Some(placed) = outcome::placed_since(state, agent_phone, call.created_at).await? else {
        tracing::warn!(call = %call.id, "reconciler: the agent's leg was never placed");
        agent_leg::fail_call(state, call, Reason::TwilioError).await?;
        return Ok(());
    };
    let status = placed.status.map_or("queued", |s| s.as_str()).to_owned();
    let progress = LegProgress {
        call_sid: placed.sid.clone(),
        status: LegStatus::parse(&status),
        raw_status: status,
        duration_secs: placed.duration.and_then(|d| d.parse().ok()),
    };
    record_event(
        state,
        call,
        EventSource::Call,
        &progress.raw_status,
        Some(&placed.sid),
    )
    .await?;
    if let Some(fact) = progress::record(state, call, LegRole::Agent, &progress).await? {
        advance::apply(state, call.id, fact).await?;
    }
    Ok(())
}

/// The call log shows what the reconciler learnt, marked as such.
async fn record_event(
    state: &AppState,
    call: &Call,
    source: EventSource,
    kind: &str,
    call_sid: Option<&str>,
) -> Result<(), StoreError> {
    state
        .store
        .record_event(NewEvent {
            call_id: call.id,
            source,
            kind: kind.to_owned(),
            call_sid: call_sid.map(str::to_owned),
            dedupe_key: format!(
                "reconciled:{}:{}:{kind}",
                source.as_str(),
                call_sid.unwrap_or("-")
            ),
            sequence_number: None,
            payload: json!({"reconciled": true}),
            received_at: Utc::now(),
        })
        .await?;
    Ok(())
}

//! Applying a fact to a stored call, safely when several instances handle webhooks of the same
//! call at once: the state moves by compare-and-swap, so exactly one of them wins a transition,
//! and the effects the transition calls for are queued with it, so they are done once.

use super::effects;
use super::flow::{self, Fact, Step};
use crate::domain::CallId;
use crate::state::AppState;
use crate::store::{Call, NewOutboxRow, PlannedMove, Store, StoreError, StoreResult};

/// A lost swap means the state moved forward, which it can do at most five times; one more try
/// than that always settles.
const MAX_ATTEMPTS: usize = 7;

/// The call after the fact, and what this caller (alone) must do about it.
#[derive(Debug, Clone)]
pub struct Advanced {
    pub call: Call,
    pub step: Step,
}

/// [`advance`], then wakes what must hear of it: this instance's effects worker when effects
/// were queued, and the call's live streams.
pub async fn apply(state: &AppState, id: CallId, fact: Fact) -> StoreResult<Advanced> {
    let advanced = advance(state.store.as_ref(), id, fact).await?;
    if !advanced.step.actions.is_empty() {
        state.effects.wake();
    }
    state.live.notify(id);
    Ok(advanced)
}

/// Where `fact` takes `call` as it was read: the step, and what to write for it — the move by
/// compare-and-swap with the effects it queues, or, for a step that acts without moving the
/// call, its effects alone.
pub fn plan(call: &Call, fact: Fact) -> (Step, Option<PlannedMove>, Vec<NewOutboxRow>) {
    let step = flow::next(call.state, fact);
    let effects: Vec<NewOutboxRow> = step
        .actions
        .iter()
        .map(|action| effects::row(call.id, *action))
        .collect();
    match step.to {
        Some((to, reason)) => {
            let planned = PlannedMove {
                from: call.state,
                to,
                reason: reason.map(flow::Reason::as_str),
                effects,
            };
            (step, Some(planned), Vec::new())
        }
        None => (step, None, effects),
    }
}

/// Moves the call as `fact` says and queues the step's effects. A step that acts without moving
/// the call (ending a ringing customer's leg) queues its effects on its own; repeating those is
/// harmless.
pub async fn advance(store: &dyn Store, id: CallId, fact: Fact) -> StoreResult<Advanced> {
    for _ in 0..MAX_ATTEMPTS {
        let mut call = store.call_by_id(id).await?.ok_or(StoreError::NotFound)?;
        let (step, planned, unconditional) = plan(&call, fact);
        let Some(planned) = planned else {
            for effect in unconditional {
                store.enqueue(effect).await?;
            }
            return Ok(Advanced { call, step });
        };
        if store
            .transition_call_queueing(
                id,
                &[planned.from],
                planned.to,
                planned.reason,
                &planned.effects,
            )
            .await?
        {
            log_move(id, &planned, fact);
            call.state = planned.to;
            call.reason = planned.reason.map(str::to_owned);
            return Ok(Advanced { call, step });
        }
    }
    Err(StoreError::Conflict(format!(
        "call {id} kept changing while applying {fact:?}"
    )))
}

/// A move that happened is worth a line in the log.
pub fn log_move(id: CallId, planned: &PlannedMove, fact: Fact) {
    tracing::info!(
        call = %id, from = %planned.from, to = %planned.to, reason = planned.reason, ?fact,
        "call moved"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::calls::flow::{Action, LegStatus};
    use crate::domain::{CallState, LegRole};
    use crate::store::testing::{TestDatabase, TestStore, fixture_agent_call};

    async fn new_call(store: &dyn TestStore) -> CallId {
        fixture_agent_call(store, "cas@example.com").await.id
    }

    #[tokio::test]
    async fn of_many_concurrent_gather_actions_exactly_one_dials() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let id = new_call(store.as_ref()).await;
            let attempts = (0..16).map(|_| {
                let store = Arc::clone(&store);
                tokio::spawn(async move { advance(store.as_ref(), id, Fact::AgentReady).await })
            });
            let mut dials = 0;
            for attempt in attempts {
                let advanced = attempt.await.unwrap().unwrap();
                assert_eq!(advanced.call.state, CallState::RecipientRinging);
                dials += advanced
                    .step
                    .actions
                    .iter()
                    .filter(|a| **a == Action::DialRecipient)
                    .count();
            }
            assert_eq!(dials, 1, "{:?}", db.backend());
            let queued = store.outbox_for_key(&effects::key(id)).await.unwrap();
            let kinds: Vec<&str> = queued.iter().map(|row| row.kind.as_str()).collect();
            assert_eq!(kinds, ["call.dial_recipient"], "{:?}", db.backend());
        }
    }

    #[tokio::test]
    async fn a_failure_stores_its_reason_and_then_nothing_moves_it() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let id = new_call(&*store).await;
            let busy = Fact::Leg {
                role: LegRole::Agent,
                status: LegStatus::Busy,
            };
            let done = advance(&*store, id, busy).await.unwrap();
            let queued = store.outbox_for_key(&effects::key(id)).await.unwrap();
            assert!(
                queued.is_empty(),
                "a busy agent needs no effect: {queued:?}"
            );
            assert_eq!(done.call.state, CallState::Failed);
            let late = Fact::Leg {
                role: LegRole::Agent,
                status: LegStatus::Ringing,
            };
            assert!(advance(&*store, id, late).await.unwrap().step.is_noop());
            let stored = store.call_by_id(id).await.unwrap().unwrap();
            assert_eq!(stored.state, CallState::Failed);
            assert_eq!(stored.reason.as_deref(), Some("agent_busy"));
            assert!(stored.ended_at.is_some());
        }
    }
}

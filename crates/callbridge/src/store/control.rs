//! What the agent's call control needs of the store: an intent stored as an event of the call
//! together with the Twilio requests that carry it out.

use async_trait::async_trait;

use super::{NewEvent, NewOutboxRow, StoreResult};

#[async_trait]
pub trait ControlStore: Send + Sync {
    /// Stores `event` and queues `effects` in the outbox in one transaction, so that a crash
    /// never keeps one without the other. Returns `false`, queueing nothing, when an event with
    /// the same `dedupe_key` was stored already.
    async fn record_event_queueing(
        &self,
        event: NewEvent,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool>;
}

/// Another writer may take the next `seq` of the call's effects first; the loser's transaction
/// is rolled back whole and tried again.
const ATTEMPTS: usize = 5;

/// Runs one backend's attempt at a write that queues effects (an event with its effects, a
/// callback) until it commits or fails for a reason other than losing that race.
pub(super) async fn retrying_lost_races<T, F, Fut>(queues: bool, mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match attempt().await {
            Err(super::StoreError::Conflict(what)) if queues => last = Some(what),
            other => return other,
        }
    }
    Err(super::StoreError::Conflict(last.unwrap_or_default()))
}

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

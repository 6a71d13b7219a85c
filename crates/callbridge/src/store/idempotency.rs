//! What the store keeps of an `Idempotency-Key`: who claimed it for what, the call it made and
//! the answer given.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{AgentId, CallId};

/// A request's claim on its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyClaim<'a> {
    pub agent_id: AgentId,
    pub key: &'a str,
    pub fingerprint: &'a str,
    pub now: DateTime<Utc>,
    /// Keys claimed before this are gone: a claim removes them first.
    pub expired_before: DateTime<Utc>,
}

/// An answer kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedResponse {
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    /// The JSON body as sent.
    pub body: String,
}

/// A key's row as another request left it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub fingerprint: String,
    /// Set as soon as the claimant stored its call, before Twilio is asked.
    pub call_id: Option<CallId>,
    /// Set once the claimant has answered; `None` while it is in flight.
    pub response: Option<SavedResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// The key is ours: the request runs.
    New,
    /// Someone holds the key already.
    Taken(KeyRecord),
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Inserts the key's row unless it exists (expired rows are removed first); atomic, so
    /// of two requests with one key exactly one gets [`Claimed::New`].
    async fn claim_key(&self, claim: &KeyClaim<'_>) -> StoreResult<Claimed>;
    async fn key_record(&self, agent_id: AgentId, key: &str) -> StoreResult<Option<KeyRecord>>;
    async fn bind_key_to_call(&self, agent_id: AgentId, key: &str, call: CallId)
    -> StoreResult<()>;
    async fn save_key_response(
        &self,
        agent_id: AgentId,
        key: &str,
        response: &SavedResponse,
    ) -> StoreResult<()>;
    /// Gives the key up, for a request that changed nothing: a retry runs afresh.
    async fn release_key(&self, agent_id: AgentId, key: &str) -> StoreResult<()>;
}

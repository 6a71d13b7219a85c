//! `Idempotency-Key` on the call start endpoints: the first request with a key claims it in the
//! database (so the claim holds across instances), binds it to the call it stores, and saves
//! its answer; a retry with the same key and body gets that answer again and never starts a
//! second call. Keys are per agent and last [`KEY_LIFETIME`].

pub(crate) mod http;
mod key;

use std::time::Duration;

use chrono::Utc;

pub use key::{IdempotencyKey, fingerprint};

use crate::domain::{AgentId, CallId};
use crate::patience::{Busy, patiently};
use crate::state::AppState;
use crate::store::{Claimed, KeyClaim, KeyRecord, SavedResponse, StoreError};

pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// How often a retry looks whether the first request has answered. Instances share nothing
/// but the database, so there is no event to wait on.
const POLL: Duration = Duration::from_millis(25);
/// A key released while we claim it is claimed again; more than a few rounds means a storm.
const CLAIM_ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key names another request of the agent's.
    #[error("this Idempotency-Key was used for a different request: send a new key for a new call")]
    OtherRequest,
    /// The key's first request stored no call yet, and has not answered.
    #[error("a request with this Idempotency-Key is still being checked; retry in a moment")]
    InFlight,
    /// The key was claimed and released again on every round.
    #[error("another request with this Idempotency-Key keeps starting and giving up; retry later")]
    Unsettled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Busy for IdempotencyError {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_busy())
    }
}

/// One request's key, its agent and what it asks.
#[derive(Debug, Clone)]
pub struct Keyed {
    pub agent_id: AgentId,
    pub key: IdempotencyKey,
    pub fingerprint: String,
}

#[derive(Debug)]
pub enum Claim {
    /// The request is the first with this key: it runs.
    Ours,
    /// An earlier request answered: this is its answer.
    Answered(SavedResponse),
    /// An earlier request is still running after `wait`; it has stored this call, if any.
    InFlight(Option<CallId>),
}

/// Claims the key, or, when an earlier request holds it, waits up to `wait` for that one's
/// answer.
pub async fn claim(
    state: &AppState,
    keyed: &Keyed,
    wait: Duration,
) -> Result<Claim, IdempotencyError> {
    let deadline = tokio::time::Instant::now() + wait;
    for _ in 0..CLAIM_ATTEMPTS {
        let now = Utc::now();
        let attempt = KeyClaim {
            agent_id: keyed.agent_id,
            key: keyed.key.as_str(),
            fingerprint: &keyed.fingerprint,
            now,
            expired_before: now - chrono::Duration::from_std(KEY_LIFETIME).unwrap_or_default(),
        };
        let record = match state.store.claim_key(&attempt).await {
            Ok(Claimed::New) => return Ok(Claim::Ours),
            Ok(Claimed::Taken(record)) => record,
            Err(StoreError::Conflict(_)) => continue,
            Err(other) => return Err(other.into()),
        };
        check_same_request(&record, keyed)?;
        // `None`: released by its holder, who changed nothing; the next round claims it.
        if let Some(claim) = wait_for_answer(state, keyed, record, deadline).await? {
            return Ok(claim);
        }
    }
    Err(IdempotencyError::Unsettled)
}

fn check_same_request(record: &KeyRecord, keyed: &Keyed) -> Result<(), IdempotencyError> {
    if record.fingerprint == keyed.fingerprint {
        Ok(())
    } else {
        Err(IdempotencyError::OtherRequest)
    }
}

/// `None` when the key was released while we waited.
async fn wait_for_answer(
    state: &AppState,
    keyed: &Keyed,
    mut record: KeyRecord,
    deadline: tokio::time::Instant,
) -> Result<Option<Claim>, StoreError> {
    loop {
        if let Some(saved) = record.response {
            return Ok(Some(Claim::Answered(saved)));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(Some(Claim::InFlight(record.call_id)));
        }
        tokio::time::sleep(POLL).await;
        match state
            .store
            .key_record(keyed.agent_id, keyed.key.as_str())
            .await?
        {
            Some(newer) => record = newer,
            None => return Ok(None),
        }
    }
}

/// Notes which call the key's request stored, before Twilio is asked, so a retry in flight can
/// answer with it.
pub async fn bind(state: &AppState, keyed: &Keyed, call: CallId) -> Result<(), StoreError> {
    // Left undone, the key would answer "in flight" until it expires: a busy database is
    // waited out.
    patiently(state, || {
        state
            .store
            .bind_key_to_call(keyed.agent_id, keyed.key.as_str(), call)
    })
    .await
}

/// Keeps `saved` as the key's answer.
pub async fn save(state: &AppState, keyed: &Keyed, saved: &SavedResponse) {
    if let Err(err) = patiently(state, || {
        state
            .store
            .save_key_response(keyed.agent_id, keyed.key.as_str(), saved)
    })
    .await
    {
        // The answer itself is right; a retry finds the key bound to the call and answers
        // with the call as it is then.
        tracing::warn!(%err, "could not save the answer of an idempotent request");
    }
}

/// Gives the key up after a request that changed nothing, so a retry runs afresh.
pub async fn release(state: &AppState, keyed: &Keyed) {
    if let Err(err) = patiently(state, || {
        state.store.release_key(keyed.agent_id, keyed.key.as_str())
    })
    .await
    {
        // It expires with KEY_LIFETIME; until then a retry is answered from the key's call.
        tracing::warn!(%err, "could not release an idempotency key");
    }
}

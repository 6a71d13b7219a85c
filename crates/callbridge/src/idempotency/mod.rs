//! `Idempotency-Key` on the call start endpoints: the first request with a key claims it in the
//! database (so the claim holds across instances), binds it to the call it stores, and saves
//! its answer; a retry with the same key and body gets that answer again and never starts a
//! second call. Keys are per agent and last [`KEY_LIFETIME`].

mod key;

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;

pub use key::{IdempotencyKey, fingerprint};

use crate::domain::{AgentId, CallId};
use crate::http::{ApiError, patiently};
use crate::state::AppState;
use crate::store::{Claimed, KeyClaim, KeyRecord, SavedResponse, StoreError};

pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Tells a client that the answer is a replay of an earlier one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How often a retry looks whether the first request has answered. Instances share nothing
/// but the database, so there is no event to wait on.
const POLL: Duration = Duration::from_millis(25);
/// A key released while we claim it is claimed again; more than a few rounds means a storm.
const CLAIM_ATTEMPTS: usize = 3;
/// Start answers are envelopes of one call: a few KiB.
const MAX_SAVED_BODY: usize = 1024 * 1024;

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
    Answered(Response),
    /// An earlier request is still running after `wait`; it has stored this call, if any.
    InFlight(Option<CallId>),
}

/// Claims the key, or, when an earlier request holds it, waits up to `wait` for that one's
/// answer.
pub async fn claim(state: &AppState, keyed: &Keyed, wait: Duration) -> Result<Claim, ApiError> {
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
    Err(ApiError::Conflict(
        "another request with this Idempotency-Key keeps starting and giving up; retry later"
            .into(),
    ))
}

fn check_same_request(record: &KeyRecord, keyed: &Keyed) -> Result<(), ApiError> {
    if record.fingerprint == keyed.fingerprint {
        Ok(())
    } else {
        Err(ApiError::Unprocessable(
            "this Idempotency-Key was used for a different request: send a new key for a new call"
                .into(),
        ))
    }
}

/// `None` when the key was released while we waited.
async fn wait_for_answer(
    state: &AppState,
    keyed: &Keyed,
    mut record: KeyRecord,
    deadline: tokio::time::Instant,
) -> Result<Option<Claim>, ApiError> {
    loop {
        if let Some(saved) = record.response {
            return Ok(Some(Claim::Answered(replay(&saved))));
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
pub async fn bind(state: &AppState, keyed: &Keyed, call: CallId) -> Result<(), ApiError> {
    // Left undone, the key would answer "in flight" until it expires: a busy database is
    // waited out.
    patiently(state, || async {
        Ok(state
            .store
            .bind_key_to_call(keyed.agent_id, keyed.key.as_str(), call)
            .await?)
    })
    .await
}

/// Keeps `response` as the key's answer, and returns it.
pub async fn save(state: &AppState, keyed: &Keyed, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_SAVED_BODY).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return ApiError::Internal(format!("could not read the answer to save it: {err}"))
                .into_response();
        }
    };
    let saved = SavedResponse {
        status: parts.status.as_u16(),
        retry_after_secs: parts
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(err) = patiently(state, || async {
        Ok(state
            .store
            .save_key_response(keyed.agent_id, keyed.key.as_str(), &saved)
            .await?)
    })
    .await
    {
        // The answer itself is right; a retry finds the key bound to the call and answers
        // with the call as it is then.
        tracing::warn!(%err, "could not save the answer of an idempotent request");
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Gives the key up after a request that changed nothing, so a retry runs afresh.
pub async fn release(state: &AppState, keyed: &Keyed) {
    if let Err(err) = patiently(state, || async {
        Ok(state
            .store
            .release_key(keyed.agent_id, keyed.key.as_str())
            .await?)
    })
    .await
    {
        // It expires with KEY_LIFETIME; until then a retry is answered from the key's call.
        tracing::warn!(%err, "could not release an idempotency key");
    }
}

fn replay(saved: &SavedResponse) -> Response {
    let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        saved.body.clone(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    if let Some(secs) = saved.retry_after_secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replay_has_the_saved_status_body_and_retry_after() {
        let response = replay(&SavedResponse {
            status: 503,
            retry_after_secs: Some(5),
            body: r#"{"status":"error"}"#.into(),
        });
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(response.headers()[REPLAYED_HEADER], "true");
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], br#"{"status":"error"}"#);
    }
}

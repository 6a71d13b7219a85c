//! Fixed-window rate limits kept in the database, so that they hold across every instance
//! behind a load balancer. One hit is one atomic upsert; nothing is cached in memory.

mod policy;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use policy::{
    Limit, OTP_CHECKS_PER_ADDRESS, OTP_CHECKS_PER_IP, OTP_SENDS_PER_ADDRESS, OTP_SENDS_PER_IP,
};

use crate::patience::Busy;
use crate::state::AppState;
use crate::store::{RateWindow, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    /// Over the limit: the window ends in `retry_after_secs`.
    #[error("too many requests, retry in {retry_after_secs} s")]
    Limited { retry_after_secs: u64 },
    /// The count could not be taken.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Busy for RateLimitError {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_busy())
    }
}

/// Counts one hit on `key` (e.g. `call-start:agent:<id>`) and refuses it, saying when to retry,
/// once more than `limit` hits fell into the current `window`.
pub async fn check(
    state: &AppState,
    key: &str,
    limit: u32,
    window: Duration,
) -> Result<(), RateLimitError> {
    let now = Utc::now();
    let start = window_start(now, window);
    // A key's count only means something for one window length.
    let stored_key = format!("{key}@{}s", window.as_secs().max(1));
    let counted = state.store.count_hit(&stored_key, start).await?;
    decide(counted, limit, window, now).map_err(|retry_after_secs| {
        // Keys name the email or phone they count.
        tracing::info!(
            key = %crate::domain::mask::text(key),
            limit,
            retry_after_secs,
            "rate limited"
        );
        RateLimitError::Limited { retry_after_secs }
    })
}

/// [`check`] with a named limit.
pub async fn check_limit(
    state: &AppState,
    limit: Limit,
    subject: &str,
) -> Result<(), RateLimitError> {
    check(
        state,
        &format!("{}:{subject}", limit.name),
        limit.max,
        limit.window,
    )
    .await
}

/// The start of the fixed window `now` falls in, aligned to the epoch so every instance agrees.
fn window_start(now: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let len = i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1);
    let ms = now.timestamp_millis();
    DateTime::from_timestamp_millis(ms - ms.rem_euclid(len)).unwrap_or(now)
}

/// `Ok` while the window holds at most `limit` hits; otherwise the whole seconds until the
/// window ends (at least 1).
fn decide(
    counted: RateWindow,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<(), u64> {
    if counted.hits <= i64::from(limit) {
        return Ok(());
    }
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    let ends = counted
        .window_start
        .timestamp_millis()
        .saturating_add(window_ms);
    let left_ms = ends.saturating_sub(now.timestamp_millis()).max(0);
    let secs = u64::try_from(left_ms).unwrap_or(0).div_ceil(1000);
    Err(secs.max(1))
}

#[cfg(test)]
mod tests;

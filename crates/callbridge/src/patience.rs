//! A request that finds the database too busy to lend it a connection in time tries again while
//! its client still waits, rather than refusing at the first busy moment. Used where a refusal
//! costs more than a late answer and running the work twice is safe: webhooks (Twilio does not
//! retry a status callback it got an error for, and a failed TwiML request ends the call; events
//! are stored once by their key and the call moves by compare-and-swap), and a call start up to
//! the moment its call is stored.

use std::time::Duration;

use tokio::time::Instant;

use crate::state::AppState;
use crate::store::StoreError;

/// An error that may be the database failing to lend a connection in time: the one failure a
/// new try can cure.
pub trait Busy: std::fmt::Display {
    fn is_busy(&self) -> bool;
}

impl Busy for StoreError {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

const FIRST_PAUSE: Duration = Duration::from_millis(50);
const LONGEST_PAUSE: Duration = Duration::from_millis(800);

/// Runs `handle` until it answers with anything but "database unavailable", or until a new
/// try could no longer finish within `REQUEST_TIMEOUT` of now (a try may wait for a connection
/// for as long as the pool's acquire timeout).
pub async fn patiently<T, E, F, Fut>(state: &AppState, handle: F) -> Result<T, E>
where
    E: Busy,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    patiently_until(last_try(state, Instant::now()), handle).await
}

/// The latest moment to start a try for a request that arrived at `arrival`.
pub fn last_try(state: &AppState, arrival: Instant) -> Instant {
    arrival + last_try_after(state.settings.timeouts.request)
}

/// As [`patiently`], for a request that has already spent some of its time: no try starts
/// after `last_start`.
pub async fn patiently_until<T, E, F, Fut>(last_start: Instant, mut handle: F) -> Result<T, E>
where
    E: Busy,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut pause = FIRST_PAUSE;
    loop {
        match handle().await {
            Err(error) if error.is_busy() && Instant::now() + pause < last_start => {
                tracing::debug!(%error, "database busy, trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            answer => return answer,
        }
    }
}

/// The latest moment, from the request's arrival, to start another try: early enough that
/// its wait for a connection ends before the request's own deadline.
fn last_try_after(request_timeout: Duration) -> Duration {
    request_timeout.saturating_sub(crate::store::ACQUIRE_TIMEOUT + Duration::from_millis(500))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_last_try_still_ends_before_the_request_does() {
        let request = Duration::from_secs(10);
        let last = last_try_after(request);
        assert!(last + crate::store::ACQUIRE_TIMEOUT < request);
        assert!(last > Duration::ZERO);
        // A request timeout shorter than a connection wait leaves room for the first try only.
        assert_eq!(last_try_after(Duration::from_secs(1)), Duration::ZERO);
    }
}

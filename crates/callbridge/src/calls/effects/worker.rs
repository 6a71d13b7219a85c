//! The loop that claims due call effects and carries them out, several calls at once.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt as _;

use super::{FAMILY, deliver};
use crate::state::AppState;
use crate::store::{OutboxClaim, StoreResult};

/// How often the outbox is looked at without a wake-up: for retries that came due, and rows
/// another instance queued (its own worker is woken, but may have died).
const POLL: Duration = Duration::from_millis(500);
/// How long a claimed row is ours: longer than any one delivery (at most three Twilio requests
/// and a few writes). Once it runs out, another worker takes the row, marked uncertain, and
/// checks before acting; so a worker that died mid-delivery holds its rows this long only.
fn lease(twilio_timeout: Duration) -> Duration {
    twilio_timeout * 3 + Duration::from_secs(2)
}
/// Rows claimed at once, each of a different call.
const BATCH: u32 = 16;

/// Runs until `stop` resolves, finishing the deliveries in hand.
pub async fn run<S>(state: AppState, stop: S)
where
    S: Future<Output = ()> + Clone + Send,
{
    let worker = crate::outbox::worker_name("call-effects");
    loop {
        if stop.clone().now_or_never().is_some() {
            return;
        }
        match step(&state, &worker).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "call effects: could not read the outbox"),
        }
        tokio::select! {
            () = stop.clone() => return,
            () = state.effects.wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Delivers one batch; returns whether there was one.
async fn step(state: &AppState, worker: &str) -> StoreResult<bool> {
    let claim = OutboxClaim {
        worker: worker.to_owned(),
        family: FAMILY,
        now: Utc::now(),
        lease: lease(state.settings.timeouts.twilio),
        limit: BATCH,
    };
    let rows = state.store.claim_outbox(&claim).await?;
    if rows.is_empty() {
        return Ok(false);
    }
    let deliveries = rows.iter().map(|row| deliver::deliver(state, worker, row));
    for result in futures::future::join_all(deliveries).await {
        result?;
    }
    Ok(true)
}

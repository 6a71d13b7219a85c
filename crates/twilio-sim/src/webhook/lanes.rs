//! One delivery queue per call (or conference): its webhooks go out one at a time in the order
//! they happened, while every other call's go out beside them, so a slow endpoint holds back
//! only the call it belongs to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::Rng as _;
use tokio::sync::mpsc;

use super::{Job, Outgoing, deliver};
use crate::state::Shared;

/// How long a callback held back for reordering waits for a later one of its call to overtake
/// it; a callback that none follows goes out after this (real time, not scaled).
const HOLD_FOR_OVERTAKER: Duration = Duration::from_secs(1);

/// The queue of every call that has webhooks waiting or in flight.
#[derive(Debug, Default)]
pub(crate) struct Lanes(Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>);

impl Lanes {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Job>>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The queue a webhook waits in: its conference's for conference events, else its call's, else
/// its conference's (a conference recording); webhooks about nothing share one.
pub(crate) fn lane_of(out: &Outgoing) -> String {
    let param = |key: &str| {
        out.params
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let (call, conference) = (param("CallSid"), param("ConferenceSid"));
    let lane = if out.kind == "conference-status" {
        conference.or(call)
    } else {
        call.or(conference)
    };
    lane.unwrap_or_default()
}

/// Appends a job to its lane, starting the lane's worker if it has none.
pub(crate) fn push(shared: &Shared, job: Job) {
    let Some(me) = shared.me.upgrade() else {
        return;
    };
    let lane = lane_of(job.outgoing());
    let mut lanes = shared.lanes.lock();
    let job = match lanes.get(&lane) {
        Some(tx) => match tx.send(job) {
            Ok(()) => return,
            Err(mpsc::error::SendError(job)) => job,
        },
        None => job,
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(job);
    lanes.insert(lane.clone(), tx);
    drop(lanes);
    tokio::spawn(drain(me, lane, rx));
}

/// Delivers a lane's jobs in order and ends once it is empty. Emptiness is decided under the
/// lanes' lock, where `push` sends, so no job is left behind in a lane nobody drains.
async fn drain(shared: Arc<Shared>, lane: String, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut held: Option<Outgoing> = None;
    loop {
        let job = match rx.try_recv() {
            Ok(job) => job,
            Err(_) if held.is_some() => {
                match tokio::time::timeout(HOLD_FOR_OVERTAKER, rx.recv()).await {
                    Ok(Some(job)) => job,
                    _ => {
                        if let Some(out) = held.take() {
                            let _ = deliver(&shared, &out).await;
                        }
                        continue;
                    }
                }
            }
            Err(_) => {
                let mut lanes = shared.lanes.lock();
                match rx.try_recv() {
                    Ok(job) => job,
                    Err(_) => {
                        lanes.remove(&lane);
                        return;
                    }
                }
            }
        };
        if *shared.shutdown.borrow() {
            shared.lanes.lock().remove(&lane);
            return;
        }
        let overtook = match job {
            Job::Notify(out) if held.is_none() && reorders(&shared) => {
                held = Some(out);
                false
            }
            Job::Notify(out) => {
                let _ = deliver(&shared, &out).await;
                true
            }
            Job::Fetch(out, reply) => {
                let _ = reply.send(deliver(&shared, &out).await);
                true
            }
        };
        if overtook && let Some(out) = held.take() {
            let _ = deliver(&shared, &out).await;
        }
    }
}

fn reorders(shared: &Shared) -> bool {
    let rate = shared.config.webhook_reorder_rate;
    rate > 0.0 && rand::rng().random_bool(rate.min(1.0))
}

//! The generic side of the outbox: how long to wait before retrying, and which queued rows of
//! one key a single delivery may stand in for. Storage lives in `store`; delivery (what a row
//! means) lives with each integration.

mod backoff;
mod coalesce;
#[cfg(test)]
mod store_tests;

pub use backoff::retry_delay;
pub use coalesce::coalesce;

/// A worker's name in `claimed_by`: unique per process run, so a restarted instance never
/// mistakes an old lease for its own.
pub fn worker_name(role: &str) -> String {
    format!("{role}-{}", uuid::Uuid::new_v4().simple())
}

//! Airtable allows 5 requests per second per base, however many instances send them. Each
//! request first takes a slot from the base's row in the `pacing` table (slots at least
//! [`SPACING`] apart, shared by every instance), then passes the in-process
//! [`airtable::pace::RateGate`] on its way out.

use std::time::Duration;

use chrono::Utc;

use crate::store::{SharedStore, StoreResult};

/// Five slots per 1.25 s: Airtable counts requests as they arrive, and on a busy machine one
/// request can spend a good part of a slot between taking it and reaching Airtable.
pub const SPACING: Duration = Duration::from_millis(250);
/// A slot woken up later than this is given back for a fresh one, so that a stalled request can
/// never land in the same second as the five after it.
const LATE: Duration = Duration::from_millis(50);
/// Fresh slots tried before going ahead anyway (the in-process gate still holds the line).
const TRIES: usize = 3;

/// The shared pace of one Airtable base.
#[derive(Debug, Clone)]
pub struct Pacer {
    store: SharedStore,
    key: String,
    penalty_scale: f64,
}

impl Pacer {
    pub fn new(store: SharedStore, base_id: &str, penalty_scale: f64) -> Self {
        Self {
            store,
            key: format!("airtable:{base_id}"),
            penalty_scale,
        }
    }

    /// Waits for this instance's next turn to send a request to the base.
    pub async fn turn(&self) -> StoreResult<()> {
        for _ in 0..TRIES {
            let slot = self
                .store
                .take_pacing_slot(&self.key, Utc::now(), SPACING)
                .await?;
            if let Ok(wait) = (slot - Utc::now()).to_std() {
                tokio::time::sleep(wait).await;
            }
            let late = (Utc::now() - slot).to_std().unwrap_or_default();
            if late <= LATE {
                return Ok(());
            }
            tracing::debug!(?late, "Airtable slot missed, taking another");
        }
        Ok(())
    }

    /// After a 429, holds every instance back for Airtable's wait (scaled).
    pub async fn penalize(&self, wait: Duration) -> StoreResult<()> {
        let scaled = wait.mul_f64(self.penalty_scale.max(0.0));
        let until = Utc::now() + chrono::Duration::from_std(scaled).unwrap_or_default();
        self.store.pause_pacing(&self.key, until).await
    }
}

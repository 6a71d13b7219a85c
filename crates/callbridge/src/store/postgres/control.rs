use async_trait::async_trait;

use super::PgStore;
use crate::store::control::retrying_lost_races;
use crate::store::{ControlStore, NewEvent, NewOutboxRow, StoreResult};

impl PgStore {
    async fn try_record_event_queueing(
        &self,
        event: &NewEvent,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = Self::insert_event(&mut *tx, event).await?;
        if inserted {
            let now = chrono::Utc::now();
            for effect in effects {
                Self::insert_outbox(&mut *tx, effect, now).await?;
            }
        }
        tx.commit().await?;
        Ok(inserted)
    }
}

#[async_trait]
impl ControlStore for PgStore {
    async fn record_event_queueing(
        &self,
        event: NewEvent,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool> {
        retrying_lost_races(!effects.is_empty(), || {
            self.try_record_event_queueing(&event, effects)
        })
        .await
    }
}

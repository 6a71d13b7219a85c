use async_trait::async_trait;

use super::{PgStore, micros};
use crate::domain::EventId;
use crate::store::control::retrying_lost_races;
use crate::store::{ControlStore, NewEvent, NewOutboxRow, StoreResult};

impl PgStore {
    async fn try_record_event_queueing(
        &self,
        event: &NewEvent,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO call_events (id, call_id, source, kind, call_sid, dedupe_key, \
             sequence_number, payload, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(EventId::new().as_uuid())
        .bind(event.call_id.as_uuid())
        .bind(event.source.as_str())
        .bind(event.kind.as_str())
        .bind(event.call_sid.clone())
        .bind(event.dedupe_key.as_str())
        .bind(event.sequence_number)
        .bind(&event.payload)
        .bind(micros(event.received_at))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
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

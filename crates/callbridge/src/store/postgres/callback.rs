use async_trait::async_trait;

use super::{PgStore, now};
use crate::store::control::retrying_lost_races;
use crate::store::{CallbackStore, CallbackWrite, CallbackWritten, StoreError, StoreResult};

impl PgStore {
    async fn try_write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        let now = now();
        let id = write.call_id();
        let mut tx = self.begin_write().await?;
        // The call's row first, for every callback of the call: the statements below lock it
        // and the leg's row, and callbacks taking them in different orders would deadlock.
        sqlx::query("SELECT 1 FROM calls WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let new_event = Self::insert_event(&mut *tx, &write.event).await?;
        if let Some(sid) = &write.conference_sid {
            sqlx::query(
                "UPDATE calls SET conference_sid = $1, updated_at = $2 \
                 WHERE id = $3 AND conference_sid IS NULL",
            )
            .bind(sid.as_str())
            .bind(now)
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(secs) = write.call_duration_secs {
            sqlx::query("UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3")
                .bind(secs)
                .bind(now)
                .bind(id.as_uuid())
                .execute(&mut *tx)
                .await?;
        }
        if let Some(leg) = &write.leg {
            Self::upsert_leg_in(&mut *tx, leg, now).await?;
        }
        if let Some(recording) = &write.recording {
            Self::upsert_recording_in(&mut *tx, recording, now).await?;
        }
        let moved = match &write.planned {
            Some(planned) => {
                let moved = Self::move_call(
                    &mut *tx,
                    id,
                    &[planned.from],
                    planned.to,
                    planned.reason,
                    now,
                )
                .await?;
                if moved {
                    for effect in &planned.effects {
                        Self::insert_outbox(&mut *tx, effect, now).await?;
                    }
                }
                Some(moved)
            }
            None => None,
        };
        for effect in &write.unconditional_effects {
            Self::insert_outbox(&mut *tx, effect, now).await?;
        }
        tx.commit().await?;
        Ok(CallbackWritten { new_event, moved })
    }
}

#[async_trait]
impl CallbackStore for PgStore {
    async fn write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        retrying_lost_races(write.queues(), || self.try_write_callback(write)).await
    }
}

use async_trait::async_trait;

use super::{SqliteStore, now_ms};
use crate::store::control::retrying_lost_races;
use crate::store::{CallbackStore, CallbackWrite, CallbackWritten, StoreResult};

impl SqliteStore {
    async fn try_write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        let now = now_ms();
        let id = write.call_id();
        let mut tx = self.begin_write().await?;
        let new_event = Self::insert_event(&mut *tx, &write.event).await?;
        if let Some(sid) = &write.conference_sid {
            sqlx::query(
                "UPDATE calls SET conference_sid = $1, updated_at = $2 \
                 WHERE id = $3 AND conference_sid IS NULL",
            )
            .bind(sid.as_str())
            .bind(now)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(secs) = write.call_duration_secs {
            sqlx::query("UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3")
                .bind(secs)
                .bind(now)
                .bind(id.to_string())
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
impl CallbackStore for SqliteStore {
    async fn write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        retrying_lost_races(write.queues(), || self.try_write_callback(write)).await
    }
}

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Sqlite};

use super::{EventRow, SqliteStore, to_ms};
use crate::domain::{CallId, EventId};
use crate::store::rows::{EVENT_COLUMNS, convert};
use crate::store::{CallEvent, EventStore, NewEvent, StoreResult};

/// See [`SqliteStore::insert_event`].
pub(super) const INSERT_EVENT: &str = "INSERT INTO call_events (id, call_id, source, kind, \
    call_sid, dedupe_key, sequence_number, payload, received_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING";

impl SqliteStore {
    /// Stores `event` unless one with its `dedupe_key` is there; whether it was new. ON CONFLICT
    /// DO NOTHING rather than check-then-insert: two instances receiving the same retried
    /// webhook at once must still store it once.
    pub(super) async fn insert_event<'e, E>(executor: E, event: &NewEvent) -> StoreResult<bool>
    where
        E: sqlx::Executor<'e, Database = Sqlite>,
    {
        let result = sqlx::query(INSERT_EVENT)
            .bind(EventId::new().to_string())
            .bind(event.call_id.to_string())
            .bind(event.source.as_str())
            .bind(event.kind.as_str())
            .bind(event.call_sid.as_deref())
            .bind(event.dedupe_key.as_str())
            .bind(event.sequence_number)
            .bind(event.payload.to_string())
            .bind(to_ms(event.received_at))
            .execute(executor)
            .await?;
        Ok(result.rows_affected() == 1)
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn record_event(&self, event: NewEvent) -> StoreResult<bool> {
        Self::insert_event(&self.pool, &event).await
    }

    async fn events_for_call(&self, id: CallId) -> StoreResult<Vec<CallEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM call_events WHERE call_id = $1 ORDER BY received_at, id"
        );
        let rows: Vec<EventRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }
}

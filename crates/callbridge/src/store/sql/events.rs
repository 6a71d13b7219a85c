use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{Columns, to_ms};
use crate::domain::{CallId, EventId};
use crate::store::{CallEvent, EventStore, NewEvent, StoreError, StoreResult};

pub(super) const EVENT_COLUMNS: &str =
    "id, call_id, source, kind, call_sid, dedupe_key, sequence_number, payload, received_at";

pub(super) fn event_from_row(row: &AnyRow) -> StoreResult<CallEvent> {
    let c = Columns::new(row, "call_events");
    let payload = c.text("payload")?;
    Ok(CallEvent {
        id: c.parsed("id")?,
        call_id: c.parsed("call_id")?,
        source: c.parsed("source")?,
        kind: c.text("kind")?,
        call_sid: c.opt_text("call_sid")?,
        dedupe_key: c.text("dedupe_key")?,
        sequence_number: c.opt_int("sequence_number")?,
        payload: serde_json::from_str(&payload).map_err(|e| StoreError::Corrupt {
            table: "call_events",
            detail: format!("payload: {e}"),
        })?,
        received_at: c.time("received_at")?,
    })
}

#[async_trait]
impl EventStore for SqlStore {
    async fn record_event(&self, event: NewEvent) -> StoreResult<bool> {
        // ON CONFLICT DO NOTHING rather than check-then-insert: two instances receiving the
        // same retried webhook at once must still store it once.
        let result = sqlx::query(
            "INSERT INTO call_events (id, call_id, source, kind, call_sid, dedupe_key, \
             sequence_number, payload, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(EventId::new().to_string())
        .bind(event.call_id.to_string())
        .bind(event.source.as_str())
        .bind(event.kind)
        .bind(event.call_sid)
        .bind(event.dedupe_key)
        .bind(event.sequence_number)
        .bind(event.payload.to_string())
        .bind(to_ms(event.received_at))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn events_for_call(&self, id: CallId) -> StoreResult<Vec<CallEvent>> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM call_events WHERE call_id = $1 ORDER BY received_at, id"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(event_from_row)
            .collect()
    }
}

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Sqlite};

use super::{RecordingRow, SqliteStore, now_ms};
use crate::store::rows::{RECORDING_COLUMNS, recording_status_rank};
use crate::store::{Recording, RecordingStore, RecordingUpdate, StoreResult};

/// See [`SqliteStore::upsert_recording_in`].
pub(super) const UPSERT_RECORDING: &str = "INSERT INTO recordings (sid, call_id, \
    conference_sid, status, status_rank, duration_secs, url, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
    ON CONFLICT (sid) DO UPDATE SET \
    status = CASE WHEN excluded.status_rank >= recordings.status_rank \
             THEN excluded.status ELSE recordings.status END, \
    status_rank = CASE WHEN excluded.status_rank >= recordings.status_rank \
             THEN excluded.status_rank ELSE recordings.status_rank END, \
    conference_sid = COALESCE(excluded.conference_sid, recordings.conference_sid), \
    duration_secs = CASE WHEN excluded.status_rank >= recordings.status_rank \
             THEN COALESCE(excluded.duration_secs, recordings.duration_secs) \
             ELSE COALESCE(recordings.duration_secs, excluded.duration_secs) END, \
    url = COALESCE(excluded.url, recordings.url), \
    updated_at = excluded.updated_at";

impl SqliteStore {
    /// The recording's insert or update in one statement, inside the caller's transaction or
    /// connection, so two instances handling callbacks of the same recording at once cannot
    /// interleave a read and a write.
    pub(super) async fn upsert_recording_in<'e, E>(
        executor: E,
        recording: &RecordingUpdate,
        now: i64,
    ) -> StoreResult<Recording>
    where
        E: sqlx::Executor<'e, Database = Sqlite>,
    {
        let sql = format!("{UPSERT_RECORDING} RETURNING {RECORDING_COLUMNS}");
        let row: RecordingRow = sqlx::query_as(AssertSqlSafe(sql))
            .bind(recording.recording_sid.as_str())
            .bind(recording.call_id.to_string())
            .bind(recording.conference_sid.as_deref())
            .bind(recording.status.as_str())
            .bind(recording_status_rank(&recording.status))
            .bind(recording.duration_secs)
            .bind(recording.url.as_deref())
            .bind(now)
            .fetch_one(executor)
            .await?;
        Recording::try_from(row)
    }
}

#[async_trait]
impl RecordingStore for SqliteStore {
    async fn upsert_recording(&self, recording: RecordingUpdate) -> StoreResult<Recording> {
        Self::upsert_recording_in(&self.pool, &recording, now_ms()).await
    }
}

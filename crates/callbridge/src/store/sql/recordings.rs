use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{Columns, now_ms};
use crate::domain::CallId;
use crate::store::{Recording, RecordingStore, RecordingUpdate, StoreResult};

pub(super) const RECORDING_COLUMNS: &str =
    "sid, call_id, conference_sid, status, duration_secs, url, created_at, updated_at";

/// `in-progress` is the only status a recording leaves; anything else is where it ends.
fn status_rank(status: &str) -> i64 {
    match status {
        "in-progress" | "processing" => 0,
        _ => 1,
    }
}

pub(super) fn recording_from_row(row: &AnyRow) -> StoreResult<Recording> {
    let c = Columns::new(row, "recordings");
    Ok(Recording {
        sid: c.text("sid")?,
        call_id: c.parsed("call_id")?,
        conference_sid: c.opt_text("conference_sid")?,
        status: c.text("status")?,
        duration_secs: c.opt_int("duration_secs")?,
        url: c.opt_text("url")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

#[async_trait]
impl RecordingStore for SqlStore {
    async fn upsert_recording(&self, recording: RecordingUpdate) -> StoreResult<Recording> {
        let now = now_ms();
        // One statement, so two instances handling callbacks of the same recording at once
        // cannot interleave a read and a write.
        sqlx::query(
            "INSERT INTO recordings (sid, call_id, conference_sid, status, status_rank, \
             duration_secs, url, created_at, updated_at) \
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
             updated_at = excluded.updated_at",
        )
        .bind(recording.recording_sid.as_str())
        .bind(recording.call_id.to_string())
        .bind(recording.conference_sid)
        .bind(recording.status.as_str())
        .bind(status_rank(&recording.status))
        .bind(recording.duration_secs)
        .bind(recording.url)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let sql = format!("SELECT {RECORDING_COLUMNS} FROM recordings WHERE sid = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(recording.recording_sid.as_str())
            .fetch_one(&self.pool)
            .await?;
        recording_from_row(&row)
    }

    async fn recordings_for_call(&self, id: CallId) -> StoreResult<Vec<Recording>> {
        let sql = format!(
            "SELECT {RECORDING_COLUMNS} FROM recordings WHERE call_id = $1 \
             ORDER BY created_at, sid"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(recording_from_row)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::status_rank;
    use crate::domain::CallId;
    use crate::store::testing::{TestDatabase, fixture_agent_call};
    use crate::store::{RecordingStore, RecordingUpdate, SqlStore};

    async fn a_call(store: &SqlStore) -> CallId {
        fixture_agent_call(store, "rec@example.com").await.id
    }

    fn update(call_id: CallId, status: &str, duration: Option<i64>) -> RecordingUpdate {
        RecordingUpdate {
            call_id,
            recording_sid: "RE0001".into(),
            conference_sid: Some("CF0001".into()),
            status: status.into(),
            duration_secs: duration,
            url: Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0001".into()),
        }
    }

    #[tokio::test]
    async fn a_late_in_progress_never_undoes_completed() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = a_call(&store).await;
            let done = store
                .upsert_recording(update(call, "completed", Some(42)))
                .await
                .unwrap();
            assert_eq!(done.status, "completed");
            let late = store
                .upsert_recording(update(call, "in-progress", Some(0)))
                .await
                .unwrap();
            assert_eq!(late.status, "completed");
            assert_eq!(late.duration_secs, Some(42));
            assert_eq!(late.created_at, done.created_at);
            let all = store.recordings_for_call(call).await.unwrap();
            assert_eq!(all.len(), 1, "{:?}", db.backend());
            assert_eq!(all[0].conference_sid.as_deref(), Some("CF0001"));
        }
    }

    #[tokio::test]
    async fn in_progress_then_completed_keeps_the_final_duration_and_url() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = a_call(&store).await;
            store
                .upsert_recording(RecordingUpdate {
                    url: None,
                    ..update(call, "in-progress", Some(0))
                })
                .await
                .unwrap();
            let done = store
                .upsert_recording(update(call, "completed", Some(7)))
                .await
                .unwrap();
            assert_eq!(done.status, "completed");
            assert_eq!(done.duration_secs, Some(7));
            assert!(done.url.is_some());
        }
    }

    #[test]
    fn only_in_progress_ranks_below_the_final_statuses() {
        assert!(status_rank("in-progress") < status_rank("completed"));
        assert_eq!(status_rank("completed"), status_rank("absent"));
        assert_eq!(status_rank("failed"), status_rank("completed"));
    }
}

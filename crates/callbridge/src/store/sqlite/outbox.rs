//! The outbox and the shared pacing slots. SQLite has one writer at a time, so a single
//! `UPDATE … WHERE id IN (SELECT …)` claims exclusively.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Sqlite};

use super::{OutboxRecord, SqliteStore, now_ms, placeholders, to_ms};
use crate::store::rows::{OUTBOX_COLUMNS, SEQ_ATTEMPTS, convert, family_pattern};
use crate::store::{NewOutboxRow, OutboxClaim, OutboxRow, OutboxStore, StoreError, StoreResult};

/// Due rows of one family that are the oldest unfinished row of their key. `$1` is now, `$n`
/// the family's `LIKE` pattern.
fn claimable(n: usize) -> String {
    format!(
        "o.kind LIKE ${n} AND ((o.status = 'pending' AND o.next_attempt_at <= $1) \
         OR (o.status = 'in_flight' AND o.claimed_until < $1)) \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.key = o.key AND p.seq < o.seq \
                         AND p.status IN ('pending', 'in_flight'))"
    )
}

fn lease_end(claim: &OutboxClaim) -> i64 {
    let lease = i64::try_from(claim.lease.as_millis()).unwrap_or(i64::MAX / 2);
    to_ms(claim.now).saturating_add(lease)
}

/// See [`SqliteStore::insert_outbox`]: the row's `seq` follows its key's last.
pub(super) const INSERT_OUTBOX: &str = "INSERT INTO outbox (id, kind, key, seq, payload, status, \
    attempts, next_attempt_at, created_at, updated_at) \
    SELECT $1, $2, $3, COALESCE(MAX(seq), 0) + 1, $4, 'pending', 0, $5, $5, $5 \
    FROM outbox WHERE key = $3";

impl SqliteStore {
    /// The insert of one row, inside the caller's transaction or connection.
    pub(super) async fn insert_outbox<'e, E>(
        executor: E,
        row: &NewOutboxRow,
        now: i64,
    ) -> StoreResult<String>
    where
        E: sqlx::Executor<'e, Database = Sqlite>,
    {
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(INSERT_OUTBOX)
            .bind(id.as_str())
            .bind(row.kind.as_str())
            .bind(row.key.as_str())
            .bind(row.payload.to_string())
            .bind(now)
            .execute(executor)
            .await?;
        Ok(id)
    }

    async fn outbox_row(&self, id: &str) -> StoreResult<OutboxRow> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1");
        let row: OutboxRecord = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.readers)
            .await?;
        OutboxRow::try_from(row)
    }

    async fn claim(&self, claim: &OutboxClaim) -> StoreResult<Vec<OutboxRow>> {
        let sql = format!(
            "UPDATE outbox SET status = 'in_flight', claimed_by = $2, claimed_until = $3, \
             uncertain = CASE WHEN status = 'in_flight' THEN 1 ELSE uncertain END, \
             updated_at = $1 \
             WHERE id IN (SELECT o.id FROM outbox o WHERE {} \
                          ORDER BY o.created_at, o.seq LIMIT $4) \
             RETURNING {OUTBOX_COLUMNS}",
            claimable(5)
        );
        let rows: Vec<OutboxRecord> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(to_ms(claim.now))
            .bind(claim.worker.as_str())
            .bind(lease_end(claim))
            .bind(i64::from(claim.limit))
            .bind(family_pattern(claim.family))
            .fetch_all(&self.pool)
            .await?;
        let mut claimed: Vec<OutboxRow> = convert(rows)?;
        claimed.sort_by_key(|row| (row.created_at, row.seq));
        Ok(claimed)
    }
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue(&self, row: NewOutboxRow) -> StoreResult<OutboxRow> {
        let mut last = None;
        for _ in 0..SEQ_ATTEMPTS {
            match Self::insert_outbox(&self.pool, &row, now_ms()).await {
                Ok(id) => return self.outbox_row(&id).await,
                Err(StoreError::Conflict(what)) => last = Some(what),
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict(last.unwrap_or_default()))
    }

    async fn outbox_ready(&self, family: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let sql = format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM outbox o WHERE {} LIMIT 1) AS due",
            claimable(2)
        );
        let due: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(to_ms(now))
            .bind(family_pattern(family))
            .fetch_one(&self.readers)
            .await?;
        Ok(due > 0)
    }

    async fn claim_outbox(&self, claim: &OutboxClaim) -> StoreResult<Vec<OutboxRow>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        self.claim(claim).await
    }

    async fn outbox_followers(&self, key: &str, seq: i64) -> StoreResult<Vec<OutboxRow>> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = $1 AND seq > $2 \
             AND status = 'pending' ORDER BY seq"
        );
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(key)
            .bind(seq)
            .fetch_all(&self.readers)
            .await
            .map_err(StoreError::from)
            .and_then(convert::<OutboxRecord, OutboxRow>)
    }

    async fn complete_outbox(
        &self,
        head: &str,
        also: &[String],
        worker: &str,
    ) -> StoreResult<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let held = sqlx::query(
            "UPDATE outbox SET status = 'done', claimed_until = NULL, updated_at = $1 \
             WHERE id = $2 AND claimed_by = $3 AND status = 'in_flight'",
        )
        .bind(now)
        .bind(head)
        .bind(worker)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !held {
            tx.rollback().await?;
            return Ok(false);
        }
        if !also.is_empty() {
            let sql = format!(
                "UPDATE outbox SET status = 'done', updated_at = $1 \
                 WHERE status = 'pending' AND id IN ({})",
                placeholders(2, also.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now);
            for id in also {
                query = query.bind(id.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn retry_outbox(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        uncertain: bool,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = $1, \
             next_attempt_at = $2, uncertain = $3, claimed_by = NULL, claimed_until = NULL, \
             updated_at = $4 WHERE id = $5 AND claimed_by = $6 AND status = 'in_flight'",
        )
        .bind(error)
        .bind(to_ms(next_attempt_at))
        .bind(uncertain)
        .bind(now_ms())
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn kill_outbox(&self, id: &str, worker: &str, error: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = $1, \
             claimed_until = NULL, updated_at = $2 \
             WHERE id = $3 AND claimed_by = $4 AND status = 'in_flight'",
        )
        .bind(error)
        .bind(now_ms())
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn outbox_for_key(&self, key: &str) -> StoreResult<Vec<OutboxRow>> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = $1 ORDER BY seq");
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&self.readers)
            .await
            .map_err(StoreError::from)
            .and_then(convert::<OutboxRecord, OutboxRow>)
    }

    async fn take_pacing_slot(
        &self,
        key: &str,
        now: DateTime<Utc>,
        spacing: std::time::Duration,
    ) -> StoreResult<DateTime<Utc>> {
        let spacing = i64::try_from(spacing.as_millis()).unwrap_or(i64::MAX / 4);
        // The slot is max(stored, now); the row moves one spacing past it, in one statement.
        let next: i64 = sqlx::query_scalar(
            "INSERT INTO pacing (key, next_allowed_at) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET next_allowed_at = CASE \
                 WHEN pacing.next_allowed_at > $2 THEN pacing.next_allowed_at + $3 \
                 ELSE $2 + $3 END \
             RETURNING next_allowed_at",
        )
        .bind(key)
        .bind(to_ms(now))
        .bind(spacing)
        .fetch_one(&self.pool)
        .await?;
        let slot = next - spacing;
        DateTime::from_timestamp_millis(slot).ok_or_else(|| StoreError::Corrupt {
            table: "pacing",
            detail: format!("next_allowed_at: {next}"),
        })
    }

    async fn pause_pacing(&self, key: &str, until: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pacing (key, next_allowed_at) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET next_allowed_at = CASE \
                 WHEN pacing.next_allowed_at > $2 THEN pacing.next_allowed_at ELSE $2 END",
        )
        .bind(key)
        .bind(to_ms(until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

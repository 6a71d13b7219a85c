//! The outbox and the shared pacing slots. A claim locks the chosen rows with
//! `FOR UPDATE SKIP LOCKED`, so that concurrent claimers on every instance pass each other by.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Postgres};
use uuid::Uuid;

use super::{OutboxRecord, PgStore, later, micros, now, uuid_of};
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

impl PgStore {
    /// The insert of one row, inside the caller's transaction or connection.
    pub(super) async fn insert_outbox<'e, E>(
        executor: E,
        row: &NewOutboxRow,
        now: DateTime<Utc>,
    ) -> StoreResult<Uuid>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO outbox (id, kind, key, seq, payload, status, attempts, \
             next_attempt_at, created_at, updated_at) \
             SELECT $1, $2, $3, COALESCE(MAX(seq), 0) + 1, $4, 'pending', 0, $5, $5, $5 \
             FROM outbox WHERE key = $3",
        )
        .bind(id)
        .bind(row.kind.as_str())
        .bind(row.key.as_str())
        .bind(&row.payload)
        .bind(now)
        .execute(executor)
        .await?;
        Ok(id)
    }

    async fn outbox_row(&self, id: Uuid) -> StoreResult<OutboxRow> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id = $1");
        let row: OutboxRecord = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        OutboxRow::try_from(row)
    }
}

#[async_trait]
impl OutboxStore for PgStore {
    async fn enqueue(&self, row: NewOutboxRow) -> StoreResult<OutboxRow> {
        let mut last = None;
        for _ in 0..SEQ_ATTEMPTS {
            match Self::insert_outbox(&self.pool, &row, now()).await {
                Ok(id) => return self.outbox_row(id).await,
                Err(StoreError::Conflict(what)) => last = Some(what),
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict(last.unwrap_or_default()))
    }

    async fn outbox_ready(&self, family: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM outbox o WHERE {})",
            claimable(2)
        );
        let due: bool = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(micros(now))
            .bind(family_pattern(family))
            .fetch_one(&self.pool)
            .await?;
        Ok(due)
    }

    async fn claim_outbox(&self, claim: &OutboxClaim) -> StoreResult<Vec<OutboxRow>> {
        if claim.limit == 0 {
            return Ok(Vec::new());
        }
        let now = micros(claim.now);
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT o.id FROM outbox o WHERE {} \
             ORDER BY o.created_at, o.seq LIMIT $2 FOR UPDATE OF o SKIP LOCKED",
            claimable(3)
        );
        let ids: Vec<Uuid> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(now)
            .bind(i64::from(claim.limit))
            .bind(family_pattern(claim.family))
            .fetch_all(&mut *tx)
            .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE outbox SET status = 'in_flight', claimed_by = $2, claimed_until = $3, \
             uncertain = uncertain OR status = 'in_flight', updated_at = $1 \
             WHERE id = ANY($4) RETURNING {OUTBOX_COLUMNS}"
        );
        let rows: Vec<OutboxRecord> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(now)
            .bind(claim.worker.as_str())
            .bind(later(now, claim.lease))
            .bind(ids)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut claimed: Vec<OutboxRow> = convert(rows)?;
        claimed.sort_by_key(|row| (row.created_at, row.seq));
        Ok(claimed)
    }

    async fn outbox_followers(&self, key: &str, seq: i64) -> StoreResult<Vec<OutboxRow>> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = $1 AND seq > $2 \
             AND status = 'pending' ORDER BY seq"
        );
        let rows: Vec<OutboxRecord> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(key)
            .bind(seq)
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn complete_outbox(
        &self,
        head: &str,
        also: &[String],
        worker: &str,
    ) -> StoreResult<bool> {
        let Some(head) = uuid_of(head) else {
            return Ok(false);
        };
        let now = now();
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
        let also: Vec<Uuid> = also.iter().filter_map(|id| uuid_of(id)).collect();
        if !also.is_empty() {
            sqlx::query(
                "UPDATE outbox SET status = 'done', updated_at = $1 \
                 WHERE status = 'pending' AND id = ANY($2)",
            )
            .bind(now)
            .bind(also)
            .execute(&mut *tx)
            .await?;
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
        let Some(id) = uuid_of(id) else {
            return Ok(false);
        };
        let result = sqlx::query(
            "UPDATE outbox SET status = 'pending', attempts = attempts + 1, last_error = $1, \
             next_attempt_at = $2, uncertain = $3, claimed_by = NULL, claimed_until = NULL, \
             updated_at = $4 WHERE id = $5 AND claimed_by = $6 AND status = 'in_flight'",
        )
        .bind(error)
        .bind(micros(next_attempt_at))
        .bind(uncertain)
        .bind(now())
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn kill_outbox(&self, id: &str, worker: &str, error: &str) -> StoreResult<bool> {
        let Some(id) = uuid_of(id) else {
            return Ok(false);
        };
        let result = sqlx::query(
            "UPDATE outbox SET status = 'dead', attempts = attempts + 1, last_error = $1, \
             claimed_until = NULL, updated_at = $2 \
             WHERE id = $3 AND claimed_by = $4 AND status = 'in_flight'",
        )
        .bind(error)
        .bind(now())
        .bind(id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn outbox_for_key(&self, key: &str) -> StoreResult<Vec<OutboxRow>> {
        let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE key = $1 ORDER BY seq");
        let rows: Vec<OutboxRecord> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn take_pacing_slot(
        &self,
        key: &str,
        now: DateTime<Utc>,
        spacing: std::time::Duration,
    ) -> StoreResult<DateTime<Utc>> {
        // The slot is max(stored, now); the row moves one spacing past it, in one statement.
        let slot: DateTime<Utc> = sqlx::query_scalar(
            "INSERT INTO pacing (key, next_allowed_at) VALUES ($1, $2 + $3) \
             ON CONFLICT (key) DO UPDATE SET next_allowed_at = CASE \
                 WHEN pacing.next_allowed_at > $2 THEN pacing.next_allowed_at + $3 \
                 ELSE $2 + $3 END \
             RETURNING next_allowed_at - $3",
        )
        .bind(key)
        .bind(micros(now))
        .bind(spacing)
        .fetch_one(&self.pool)
        .await?;
        Ok(slot)
    }

    async fn pause_pacing(&self, key: &str, until: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pacing (key, next_allowed_at) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET next_allowed_at = GREATEST(pacing.next_allowed_at, $2)",
        )
        .bind(key)
        .bind(micros(until))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

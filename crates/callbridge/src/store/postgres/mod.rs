//! The store on PostgreSQL, shared by every instance, in PostgreSQL's own types: `uuid` ids,
//! `timestamptz` times, `jsonb` payloads, `boolean` flags, and lists bound as arrays
//! (`= ANY($1)`).

mod agents;
mod airtable;
mod audit;
mod call_log;
mod callback;
mod calls;
mod changes;
mod control;
mod dialer;
mod events;
mod idempotency;
mod invites;
mod outbox;
mod ratelimit;
mod recordings;
mod sessions;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, Utc};
use sqlx::Postgres;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use uuid::Uuid;

use super::rows;
use super::{ACQUIRE_TIMEOUT, Backend, MigrationStatus, Store, StoreResult};

pub(super) static MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

type AgentRow = rows::AgentRow<Uuid, DateTime<Utc>>;
type CallRow = rows::CallRow<Uuid, DateTime<Utc>>;
type LegRow = rows::LegRow<Uuid, DateTime<Utc>>;
type EventRow = rows::EventRow<Uuid, DateTime<Utc>, serde_json::Value>;
type RecordingRow = rows::RecordingRow<Uuid, DateTime<Utc>>;
type OutboxRecord = rows::OutboxRecord<Uuid, DateTime<Utc>, serde_json::Value>;
type LinkRow = rows::LinkRow<Uuid, DateTime<Utc>>;
type CampaignRow = rows::CampaignRow<Uuid, DateTime<Utc>>;
type ItemRow = rows::ItemRow<Uuid>;
type AuditRow = rows::AuditRow<Uuid, DateTime<Utc>>;
type KeyRow = rows::KeyRow<Uuid>;
type SessionRow = rows::SessionRow<Uuid, DateTime<Utc>>;
type RateRow = rows::RateRow<DateTime<Utc>>;

/// `at` as `timestamptz` holds it, to the microsecond, so that what is written reads back equal.
fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::TimeDelta::microseconds(1))
        .unwrap_or(at)
}

fn now() -> DateTime<Utc> {
    micros(Utc::now())
}

/// `at` plus `span`, saturating far in the future.
fn later(at: DateTime<Utc>, span: std::time::Duration) -> DateTime<Utc> {
    chrono::TimeDelta::from_std(span)
        .ok()
        .and_then(|span| at.checked_add_signed(span))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// An id the domain keeps as text (outbox rows, campaigns and their items): text that is no
/// UUID names no row.
fn uuid_of(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id).ok()
}

#[derive(Debug, Clone)]
pub(super) struct PgStore {
    pool: PgPool,
    /// For connections outside the pool (`LISTEN`); holds the password.
    url: secrecy::SecretString,
    waiting: callback::WaitingCallbacks,
}

impl PgStore {
    pub(super) async fn connect(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_connections(16)
            .connect(url)
            .await?;
        Ok(Self {
            pool,
            url: secrecy::SecretString::from(url.to_owned()),
            waiting: callback::WaitingCallbacks::default(),
        })
    }

    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        Ok(self.pool.begin().await?)
    }

    /// A read-only transaction whose reads all see the database as of its first one:
    /// PostgreSQL's default, `READ COMMITTED`, takes a new snapshot per statement.
    async fn begin_snapshot(&self) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }

    #[cfg(test)]
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATIONS.run(&self.pool).await?;
        Ok(())
    }

    async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations')",
        )
        .fetch_one(&self.pool)
        .await?;
        if !exists {
            return Ok(MigrationStatus::of(&MIGRATIONS, &[], Vec::new()));
        }
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        let failed: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE NOT success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(MigrationStatus::of(&MIGRATIONS, &applied, failed))
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn check_writable(&self) -> StoreResult<()> {
        // One row, rewritten each time: every probe starts a newer window of the same key.
        crate::store::RateLimitStore::count_hit(self, rows::WRITE_PROBE_KEY, Utc::now()).await?;
        Ok(())
    }

    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn connections(&self) -> u32 {
        self.pool.options().get_max_connections()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CallStore;
    use crate::store::testing::{TestDatabase, fixture_agent_call};

    #[tokio::test]
    async fn a_snapshot_does_not_see_what_was_committed_after_its_first_read() {
        let Some(db) = TestDatabase::postgres().await else {
            return;
        };
        let store = PgStore::connect(db.url()).await.unwrap();
        store.migrate().await.unwrap();
        let call = fixture_agent_call(&store, "snapshot@example.com").await;
        let read = "SELECT duration_secs FROM calls WHERE id = $1";
        let mut tx = store.begin_snapshot().await.unwrap();
        let before: Option<i64> = sqlx::query_scalar(read)
            .bind(call.id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        store.set_call_duration(call.id, 42).await.unwrap();
        let during: Option<i64> = sqlx::query_scalar(read)
            .bind(call.id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!((before, during), (None, None));
        let after = store.call_by_id(call.id).await.unwrap().unwrap();
        assert_eq!(after.duration_secs, Some(42));
        store.close().await;
    }

    #[test]
    fn times_keep_the_microseconds_timestamptz_keeps() {
        let at = DateTime::from_timestamp(1_750_000_000, 123_456_789).unwrap();
        assert_eq!(micros(at).timestamp_subsec_nanos(), 123_456_000);
        assert_eq!(
            later(at, std::time::Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn text_that_is_no_uuid_names_no_row() {
        assert_eq!(uuid_of("campaign-1"), None);
        let id = Uuid::now_v7();
        assert_eq!(uuid_of(&id.to_string()), Some(id));
    }
}

//! The store on SQLite, for one instance: text ids, epoch-millisecond times and 0/1 flags. One
//! writer at a time, so every write transaction takes the lock up front (`BEGIN IMMEDIATE`).

mod agents;
mod airtable;
mod audit;
mod call_log;
mod callback;
mod calls;
mod control;
mod dialer;
mod events;
mod idempotency;
mod inline;
mod invites;
mod native;
mod outbox;
mod ratelimit;
mod recordings;
mod sessions;
mod writer;

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection, Sqlite};

use super::rows;
use super::{
    ACQUIRE_TIMEOUT, Backend, CallChanges, ChangeFeed, MigrationStatus, Store, StoreError,
    StoreResult,
};
use crate::domain::CallId;

pub(super) static MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

type AgentRow = rows::AgentRow<String, i64>;
type CallRow = rows::CallRow<String, i64>;
type LegRow = rows::LegRow<String, i64>;
type EventRow = rows::EventRow<String, i64, String>;
type RecordingRow = rows::RecordingRow<String, i64>;
type OutboxRecord = rows::OutboxRecord<String, i64, String>;
type LinkRow = rows::LinkRow<String, i64>;
type CampaignRow = rows::CampaignRow<String, i64>;
type ItemRow = rows::ItemRow<String>;
type AuditRow = rows::AuditRow<String, i64>;
type KeyRow = rows::KeyRow<String>;
type SessionRow = rows::SessionRow<String, i64>;
type RateRow = rows::RateRow<i64>;

fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn now_ms() -> i64 {
    to_ms(Utc::now())
}

/// `$first, $first+1, …` for an `IN (…)` list of `n` values.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Readers for the many connections that only read; one connection for every write, so writes
/// queue in the pool in arrival order instead of meeting on SQLite's file lock, where the loser
/// sleeps in the busy handler and adds its naps to the tail latency.
#[derive(Debug, Clone)]
pub(super) struct SqliteStore {
    /// The one writer (and, for an in-memory database, the only connection).
    pool: SqlitePool,
    readers: SqlitePool,
    /// An in-memory database has one connection, which serves as both.
    readers_are_the_writer: bool,
    /// Status callbacks, written through `pool` in groups.
    callbacks: callback::CallbackQueue,
    /// The reads of webhooks and of the call log, run on the caller's thread.
    inline: Arc<inline::InlineReaders>,
    /// The thread the callbacks' transactions run on.
    writer: writer::WriterThread,
}

/// Readers beside the writer, for the reads not run in place (`inline.rs`); in WAL they do not
/// wait for writes.
const READERS: u32 = 3;

/// Each connection's page cache, in KiB (SQLite's default is 2 MiB): the hot pages (calls, legs,
/// the indexes' upper levels) fit, and the rest is one read away in the system's file cache,
/// which every connection shares.
pub(super) const CACHE_SIZE: &str = "PRAGMA cache_size = -1024";

impl SqliteStore {
    pub(super) async fn connect(url: &str) -> StoreResult<Self> {
        if is_memory(url) {
            // An in-memory database lives as long as a connection to it: the pool keeps exactly
            // one, forever. It is named, and its cache shared, so that the writer thread opens
            // the same one.
            let name = format!("file:callbridge-memory-{}", uuid::Uuid::new_v4());
            let options = SqliteConnectOptions::from_str(url)?
                .filename(&name)
                .in_memory(true)
                .shared_cache(true);
            let pool = SqlitePoolOptions::new()
                // A connection to a local file does not go away between uses: checking it
                // first would cost a round trip to its thread on every acquire.
                .test_before_acquire(false)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            let thread = writer::WriterThread::open(std::path::Path::new(&name), true).await?;
            return Ok(Self {
                inline: Arc::new(inline::InlineReaders::in_memory(
                    std::path::Path::new(&name),
                    pool.clone(),
                )),
                readers: pool.clone(),
                callbacks: callback::CallbackQueue::start(pool.clone(), thread.clone()),
                writer: thread,
                pool,
                readers_are_the_writer: true,
            });
        }
        let path = prepare_file(url).await?;
        // In WAL mode NORMAL loses no commit when the process dies (it is in the WAL before
        // COMMIT returns), only, on a power cut, the commits since the last checkpoint; FULL
        // would wait for a disk flush on every webhook's commit.
        let writer = SqlitePoolOptions::new()
            // A connection to a local file does not go away between uses: checking it
            // first would cost a round trip to its thread on every acquire.
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *conn, "PRAGMA synchronous = NORMAL").await?;
                    sqlx::Executor::execute(conn, CACHE_SIZE).await?;
                    Ok(())
                })
            })
            .connect(url);
        // A write sent to a reader by mistake fails at once instead of racing the writer.
        let readers = SqlitePoolOptions::new()
            // A connection to a local file does not go away between uses: checking it
            // first would cost a round trip to its thread on every acquire.
            .test_before_acquire(false)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .max_connections(READERS)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::Executor::execute(&mut *conn, "PRAGMA query_only = ON").await?;
                    sqlx::Executor::execute(conn, CACHE_SIZE).await?;
                    Ok(())
                })
            })
            .connect(url);
        // Each opens its own connections, on threads of their own: together, not in turn.
        let (pool, readers, thread) = tokio::try_join!(
            async { writer.await.map_err(StoreError::from) },
            async { readers.await.map_err(StoreError::from) },
            writer::WriterThread::open(&path, false),
        )?;
        Ok(Self {
            inline: Arc::new(inline::InlineReaders::on_file(&path)),
            callbacks: callback::CallbackQueue::start(pool.clone(), thread.clone()),
            writer: thread,
            pool,
            readers,
            readers_are_the_writer: false,
        })
    }

    /// A transaction that will write. SQLite's plain `BEGIN` takes the write lock only at the
    /// first write, and a transaction that has read and then finds another writer holding the
    /// lock fails at once with SQLITE_BUSY (waiting could deadlock); `BEGIN IMMEDIATE` takes it
    /// up front, where busy_timeout waits for it.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        Self::begin_write_on(&self.pool).await
    }

    async fn begin_write_on(
        writer: &SqlitePool,
    ) -> StoreResult<sqlx::Transaction<'static, Sqlite>> {
        Ok(writer.begin_with("BEGIN IMMEDIATE").await?)
    }

    #[cfg(test)]
    pub(super) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn is_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// WAL lets readers proceed while a webhook writes. Setting it needs an exclusive lock that
/// busy_timeout cannot wait for, so it is done once here, before the pool opens; WAL then stays
/// on in the file. Foreign keys and busy_timeout are sqlx's per-connection defaults.
///
/// The file holds agents' emails, phones and the audit log, so only its owner may read it.
/// SQLite gives the `-wal` and `-shm` files the database file's mode, which is why the database
/// is created `0600` before SQLite opens it; the companions are narrowed too in case they
/// predate that.
async fn prepare_file(url: &str) -> StoreResult<std::path::PathBuf> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let path = options.get_filename().to_owned();
    create_private_file(&path)?;
    let mut conn = options.connect().await?;
    conn.ping().await?;
    conn.close().await?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        make_private(std::path::Path::new(&companion))?;
    }
    Ok(path)
}

#[cfg(unix)]
fn create_private_file(path: &std::path::Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::Unavailable(sqlx::Error::Io(err))),
    }
}

#[cfg(not(unix))]
fn create_private_file(_path: &std::path::Path) -> StoreResult<()> {
    Ok(())
}

/// Drops every permission of group and others from `path`, when it exists.
#[cfg(unix)]
fn make_private(path: &std::path::Path) -> StoreResult<()> {
    use std::os::unix::fs::PermissionsExt;
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(StoreError::Unavailable(sqlx::Error::Io(err))),
    };
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))
            .map_err(|err| StoreError::Unavailable(sqlx::Error::Io(err)))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn make_private(_path: &std::path::Path) -> StoreResult<()> {
    Ok(())
}

/// SQLite serves one instance, which needs no news from others.
#[async_trait]
impl ChangeFeed for SqliteStore {
    async fn publish_call_changes(&self, _ids: &[CallId]) -> StoreResult<()> {
        Ok(())
    }

    async fn subscribe_call_changes(&self) -> StoreResult<Option<Box<dyn CallChanges>>> {
        Ok(None)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> StoreResult<()> {
        MIGRATIONS.run(&self.pool).await?;
        Ok(())
    }

    async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        let exists: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_one(&self.readers)
        .await?;
        if exists == 0 {
            return Ok(MigrationStatus::of(&MIGRATIONS, &[], Vec::new()));
        }
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.readers)
        .await?;
        let failed: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE NOT success ORDER BY version",
        )
        .fetch_all(&self.readers)
        .await?;
        Ok(MigrationStatus::of(&MIGRATIONS, &applied, failed))
    }

    async fn close(&self) {
        // SQLite folds the log into the file when its last connection closes: the pools' are
        // closed last, so that it happens there.
        self.inline.close();
        self.writer.close().await;
        self.readers.close().await;
        self.pool.close().await;
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    async fn check_writable(&self) -> StoreResult<()> {
        // One row, rewritten each time: every probe starts a newer window of the same key.
        crate::store::RateLimitStore::count_hit(self, rows::WRITE_PROBE_KEY, Utc::now()).await?;
        Ok(())
    }

    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn connections(&self) -> u32 {
        // The writer thread's and the inline readers' besides the pools'.
        let native = 1 + self.inline.connections();
        let writer = self.pool.options().get_max_connections();
        if self.readers_are_the_writer {
            writer + native
        } else {
            writer + self.readers.options().get_max_connections() + native
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CallStore;
    use crate::store::testing::fixture_agent_call;

    async fn open(url: &str) -> SqliteStore {
        let store = SqliteStore::connect(url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_snapshot_does_not_see_what_was_committed_after_its_first_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&format!(
            "sqlite://{}",
            dir.path().join("snap.db").display()
        ))
        .await;
        let call = fixture_agent_call(&store, "snapshot@example.com").await;
        let path = dir.path().join("snap.db");
        let id = call.id.to_string();
        let (before, during) = store
            .inline
            .read(move |conn| {
                let read = |conn: &rusqlite::Connection| -> Option<i64> {
                    conn.query_row(
                        "SELECT duration_secs FROM calls WHERE id = ?1",
                        [&id],
                        |r| r.get(0),
                    )
                    .unwrap()
                };
                let tx = conn.unchecked_transaction().unwrap();
                let before = read(&tx);
                let other = native::open(&path, false, native::Role::Writer).unwrap();
                other
                    .execute("UPDATE calls SET duration_secs = 42 WHERE id = ?1", [&id])
                    .unwrap();
                let during = read(&tx);
                tx.commit().unwrap();
                Ok((before, during))
            })
            .await
            .unwrap();
        assert_eq!((before, during), (None, None));
        let after = store.call_by_id(call.id).await.unwrap().unwrap();
        assert_eq!(after.duration_secs, Some(42));
    }

    #[tokio::test]
    async fn one_writer_in_wal_mode_with_normal_sync_and_readers_that_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&format!(
            "sqlite://{}",
            dir.path().join("sync.db").display()
        ))
        .await;
        assert_eq!(store.pool().options().get_max_connections(), 1);
        let mut writer = store.pool().acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut *writer)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        // 1 is NORMAL.
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut *writer)
            .await
            .unwrap();
        assert_eq!(sync, 1);
        // Readers go on while the writer is held.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(store.readers.acquire().await.unwrap());
        }
        for conn in &mut held {
            let refused = sqlx::query("DELETE FROM agents")
                .execute(&mut **conn)
                .await
                .unwrap_err();
            assert!(
                refused.to_string().contains("readonly"),
                "a reader wrote: {refused}"
            );
        }
    }

    #[tokio::test]
    async fn a_full_sqlite_file_is_unavailable_not_a_bug() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&format!(
            "sqlite://{}",
            dir.path().join("full.db").display()
        ))
        .await;
        let mut conn = store.pool().acquire().await.unwrap();
        // No page beyond those in use: the next write that needs one finds the disk full.
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {pages}"
        )))
        .execute(&mut *conn)
        .await
        .unwrap();
        let err =
            sqlx::query("INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, 0, 1)")
                .bind("x".repeat(64 * 1024))
                .execute(&mut *conn)
                .await
                .unwrap_err();
        assert!(
            matches!(StoreError::from(err), StoreError::Unavailable(_)),
            "a full disk is worth a retry later"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_sqlite_file_and_its_companions_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("private.db");
        let store = open(&format!("sqlite://{}", path.display())).await;
        store.check_writable().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file:?}");
        }
    }

    #[tokio::test]
    async fn creates_a_missing_sqlite_file_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let store = open(&format!("sqlite://{}", path.display())).await;
        assert!(path.exists());
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn migrating_twice_is_harmless() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("twice.db").display());
        open(&url).await.close().await;
        let again = open(&url).await;
        again.ping().await.unwrap();
    }

    #[tokio::test]
    async fn migration_status_reads_without_migrating() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("status.db").display());
        let fresh = SqliteStore::connect(&url).await.unwrap();
        let before = fresh.migration_status().await.unwrap();
        assert_eq!(before.pending.len(), before.known);
        assert!(before.known > 0 && before.unknown.is_empty() && before.failed.is_empty());
        // Still nothing applied: reading the status created no table.
        assert_eq!(fresh.migration_status().await.unwrap(), before);

        fresh.migrate().await.unwrap();
        let after = fresh.migration_status().await.unwrap();
        assert!(after.pending.is_empty(), "{after:?}");

        sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99990101000000, 'from the future', TRUE, x'00', 0)")
            .execute(fresh.pool())
            .await
            .unwrap();
        let newer = fresh.migration_status().await.unwrap();
        assert_eq!(newer.unknown, vec![99_990_101_000_000]);
    }

    #[tokio::test]
    async fn in_memory_database_keeps_its_schema() {
        let store = open("sqlite::memory:").await;
        sqlx::query("SELECT count(*) FROM agents")
            .execute(store.pool())
            .await
            .unwrap();
    }

    #[test]
    fn placeholders_count_from_the_first_index() {
        assert_eq!(placeholders(6, 3), "$6, $7, $8");
        assert_eq!(placeholders(1, 1), "$1");
        assert_eq!(placeholders(3, 0), "");
    }
}

//! The one SQL implementation, written on `sqlx::any` so the same query text (with `$N`
//! placeholders, which SQLite accepts too) serves SQLite and PostgreSQL. Only portable column
//! types are used; where SQL has to differ, code matches on [`Backend`].

mod agents;
mod airtable;
mod audit;
mod call_log;
mod calls;
mod changes;
mod control;
mod events;
mod idempotency;
mod invites;
mod outbox;
mod ratelimit;
mod recordings;
mod rows;
mod sessions;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};

use super::{Store, StoreError, StoreResult};

/// The `rate_limits` key readiness writes; no limit uses it.
const WRITE_PROBE_KEY: &str = "readyz:write-probe";

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Requests fail fast with 503 rather than queue behind a database that is down.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> StoreResult<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            // Only the scheme: the rest may hold a password.
            let scheme = url.split(':').next().unwrap_or_default();
            Err(StoreError::UnsupportedUrl(format!("{scheme}:…")))
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    fn migrator(&self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// The schema against this build's migrations, by version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// How many migrations this build has.
    pub known: usize,
    /// Known to this build, not applied yet: `migrate` (or `serve`, at start) applies them.
    pub pending: Vec<i64>,
    /// Applied by a build newer than this one: this build refuses to migrate such a database.
    pub unknown: Vec<i64>,
    /// Started and failed part-way: someone has to look at the database.
    pub failed: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    /// For connections outside the pool (PostgreSQL's `LISTEN`); holds the password.
    url: secrecy::SecretString,
}

impl SqlStore {
    /// Opens a pool; a SQLite file is created if missing and switched to WAL. Does not migrate.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let in_memory = backend == Backend::Sqlite && is_sqlite_memory(url);
        let mut options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        match backend {
            Backend::Sqlite if in_memory => {
                // Every connection to `:memory:` is its own empty database: keep exactly one, forever.
                options = options
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            }
            Backend::Sqlite => {
                prepare_sqlite_file(url).await?;
                options = options.max_connections(8).after_connect(|conn, _| {
                    // In WAL mode NORMAL loses no commit when the process dies (it is in the
                    // WAL before COMMIT returns), only, on a power cut, the last few; FULL
                    // would wait for a disk flush on every webhook's commit.
                    Box::pin(async move {
                        sqlx::Executor::execute(conn, "PRAGMA synchronous = NORMAL").await?;
                        Ok(())
                    })
                });
            }
            Backend::Postgres => options = options.max_connections(16),
        }
        let pool = options.connect(url).await?;
        Ok(Self {
            pool,
            backend,
            url: secrecy::SecretString::from(url.to_owned()),
        })
    }

    /// Connects and brings the schema up to date.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> StoreResult<()> {
        self.backend.migrator().run(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction that will write. SQLite's plain `BEGIN` takes the write lock only at the
    /// first write, and a transaction that has read and then finds another writer holding the
    /// lock fails at once with SQLITE_BUSY (waiting could deadlock); `BEGIN IMMEDIATE` takes it
    /// up front, where busy_timeout waits for it.
    async fn begin_write(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }

    /// A read-only transaction whose reads all see the database as of its first one: on
    /// PostgreSQL `REPEATABLE READ` (its default, `READ COMMITTED`, takes a new snapshot per
    /// statement); on SQLite in WAL mode any transaction reads that way.
    async fn begin_snapshot(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Any>> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        Ok(tx)
    }

    /// How the schema compares with this build's migrations. Only reads, so that a check can
    /// run against a production database without changing it.
    pub async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        let table_exists = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let exists: i64 = sqlx::query_scalar(table_exists)
            .fetch_one(&self.pool)
            .await?;
        let (applied, failed): (Vec<i64>, Vec<i64>) = if exists > 0 {
            (
                sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                )
                .fetch_all(&self.pool)
                .await?,
                sqlx::query_scalar(
                    "SELECT version FROM _sqlx_migrations WHERE NOT success ORDER BY version",
                )
                .fetch_all(&self.pool)
                .await?,
            )
        } else {
            (Vec::new(), Vec::new())
        };
        let known: Vec<i64> = self.backend.migrator().iter().map(|m| m.version).collect();
        Ok(MigrationStatus {
            pending: known
                .iter()
                .copied()
                .filter(|v| !applied.contains(v) && !failed.contains(v))
                .collect(),
            unknown: applied
                .iter()
                .copied()
                .filter(|v| !known.contains(v))
                .collect(),
            failed,
            known: known.len(),
        })
    }

    #[cfg(test)]
    fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

fn is_sqlite_memory(url: &str) -> bool {
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
async fn prepare_sqlite_file(url: &str) -> StoreResult<()> {
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
    Ok(())
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

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn check_writable(&self) -> StoreResult<()> {
        // One row, rewritten each time: every probe starts a newer window of the same key.
        crate::store::RateLimitStore::count_hit(self, WRITE_PROBE_KEY, chrono::Utc::now()).await?;
        Ok(())
    }

    fn backend(&self) -> Backend {
        self.backend
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
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = fixture_agent_call(&store, "snapshot@example.com").await;
            let read = "SELECT duration_secs FROM calls WHERE id = $1";
            let mut tx = store.begin_snapshot().await.unwrap();
            let before: Option<i64> = sqlx::query_scalar(read)
                .bind(call.id.to_string())
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            store.set_call_duration(call.id, 42).await.unwrap();
            let during: Option<i64> = sqlx::query_scalar(read)
                .bind(call.id.to_string())
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let backend = db.backend().as_str();
            assert_eq!((before, during), (None, None), "{backend}");
            let after = store.call_by_id(call.id).await.unwrap().unwrap();
            assert_eq!(after.duration_secs, Some(42), "{backend}");
        }
    }

    #[tokio::test]
    async fn every_sqlite_connection_is_in_wal_mode_with_normal_sync() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("sync.db").display());
        let store = SqlStore::open(&url).await.unwrap();
        // Several at once, so that the pool opens more than one connection.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(store.pool().acquire().await.unwrap());
        }
        for conn in &mut held {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            // 1 is NORMAL.
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(sync, 1);
        }
    }

    #[tokio::test]
    async fn a_full_sqlite_file_is_unavailable_not_a_bug() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("full.db").display());
        let store = SqlStore::open(&url).await.unwrap();
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
        let store = SqlStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        store.check_writable().await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file:?}");
        }
    }

    #[test]
    fn backend_follows_the_url_scheme() {
        assert_eq!(Backend::from_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("sqlite::memory:").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
    }

    #[test]
    fn unsupported_url_error_does_not_leak_credentials() {
        let err = Backend::from_url("mysql://root:hunter2@db/x").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(err.to_string().contains("mysql"), "{err}");
    }

    #[tokio::test]
    async fn creates_a_missing_sqlite_file_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fresh.db");
        let store = SqlStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
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
        SqlStore::open(&url).await.unwrap().close().await;
        let again = SqlStore::open(&url).await.unwrap();
        again.ping().await.unwrap();
    }

    #[tokio::test]
    async fn migration_status_reads_without_migrating() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("status.db").display());
        let fresh = SqlStore::connect(&url).await.unwrap();
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

    /// The last migration before browser agents; a database made by it must open and read.
    const BEFORE_BROWSER_AGENTS: i64 = 8;

    #[tokio::test]
    async fn a_database_from_before_browser_agents_migrates_forward_with_its_data() {
        use sqlx::migrate::Migrate;

        use crate::domain::{CallMode, CallState, Endpoint, PhoneNumber};
        use crate::store::AgentStore;

        for db in TestDatabase::all().await {
            let store = SqlStore::connect(db.url()).await.unwrap();
            {
                let mut conn = store.pool().acquire().await.unwrap();
                conn.ensure_migrations_table("_sqlx_migrations")
                    .await
                    .unwrap();
                for migration in store.backend.migrator().iter() {
                    if migration.version <= BEFORE_BROWSER_AGENTS {
                        conn.apply("_sqlx_migrations", migration).await.unwrap();
                    }
                }
            }
            // Rows as that schema stored them, written by hand as an older binary wrote them.
            let agent = crate::domain::AgentId::new();
            let call = crate::domain::CallId::new();
            let now = rows::now_ms();
            sqlx::query(
                "INSERT INTO agents (id, email, email_verified_at, phone, phone_verified_at, \
                 token_version, record_by_default, created_at, updated_at) \
                 VALUES ($1, 'old@example.com', $2, '+14155550100', $2, 0, 1, $2, $2)",
            )
            .bind(agent.to_string())
            .bind(now)
            .execute(store.pool())
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO calls (id, agent_id, state, recipient, agent_number, \
                 conference_name, record, created_at, updated_at) \
                 VALUES ($1, $2, 'completed', '+12025550123', '+14155550100', $3, 1, $4, $4)",
            )
            .bind(call.to_string())
            .bind(agent.to_string())
            .bind(call.conference_name())
            .bind(now)
            .execute(store.pool())
            .await
            .unwrap();

            store.migrate().await.unwrap();
            assert!(store.migration_status().await.unwrap().pending.is_empty());
            let read = store.agent_by_id(agent).await.unwrap().unwrap();
            assert_eq!(read.default_mode, CallMode::Phone, "{:?}", db.backend());
            assert!(read.record_by_default);
            let old = store.call_by_id(call).await.unwrap().unwrap();
            assert_eq!(old.mode, CallMode::Phone);
            assert_eq!(old.state, CallState::Completed);
            assert_eq!(
                old.agent_endpoint,
                Endpoint::Phone(PhoneNumber::parse("+14155550100").unwrap())
            );
        }
    }

    #[tokio::test]
    async fn in_memory_database_keeps_its_schema() {
        let store = SqlStore::open("sqlite::memory:").await.unwrap();
        sqlx::query("SELECT count(*) FROM agents")
            .execute(store.pool())
            .await
            .unwrap();
    }
}

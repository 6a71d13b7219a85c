//! Throw-away databases for tests, on both backends. Public so the end-to-end suites of every
//! module can run against SQLite and PostgreSQL alike.
//!
//! PostgreSQL is expected at `postgres://postgres@127.0.0.1:5432/test` (`TEST_DATABASE_URL`
//! overrides). Each [`TestDatabase`] gets its own schema, dropped afterwards, so tests running at
//! the same time never see each other's rows. When PostgreSQL is unreachable its tests are skipped
//! with a note, unless they are required ([`postgres_required`]: `CALLBRIDGE_REQUIRE_POSTGRES=1`,
//! or a CI run), which turns that into a failure.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::migrate::MigrateDatabase;
use sqlx::{AssertSqlSafe, Connection};

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{Agent, Backend, Call, NewAgent, NewCall, Recording, Store, StoreError, StoreResult};
use crate::domain::{CallId, CallMode, CallState, EmailAddress, PhoneNumber};

/// What only tests do to a store, to set a case up or to look at what it left; the service
/// never needs it, so it stays out of [`Store`].
#[async_trait]
pub trait TestStore: Store {
    /// Stores an agent as given, verified or not (the service creates agents only by
    /// verifying an email). `Conflict` when the email or phone already belongs to an agent.
    async fn insert_agent(&self, agent: NewAgent) -> StoreResult<Agent>;

    /// Forgets sessions that expired before `now`; how many.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64>;

    /// Puts the call in `state` whatever its state; `ended_at` is stamped when it is final.
    async fn set_call_state(
        &self,
        id: CallId,
        state: CallState,
        reason: Option<&str>,
    ) -> StoreResult<Call> {
        if !self
            .transition_call(id, CallState::ALL, state, reason)
            .await?
        {
            return Err(StoreError::NotFound);
        }
        self.call_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    /// The call's recordings, oldest first.
    async fn recordings_for_call(&self, id: CallId) -> StoreResult<Vec<Recording>> {
        Ok(self
            .call_snapshot(id)
            .await?
            .map(|(_, details)| details.recordings)
            .unwrap_or_default())
    }
}

#[async_trait]
impl TestStore for SqliteStore {
    async fn insert_agent(&self, agent: NewAgent) -> StoreResult<Agent> {
        SqliteStore::insert_agent(self, agent).await
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        SqliteStore::purge_sessions(self, now).await
    }
}

#[async_trait]
impl TestStore for PgStore {
    async fn insert_agent(&self, agent: NewAgent) -> StoreResult<Agent> {
        PgStore::insert_agent(self, agent).await
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        PgStore::purge_sessions(self, now).await
    }
}

/// [`super::connect`] for tests: the store on the backend the URL names, with [`TestStore`].
pub async fn connect(url: &str) -> StoreResult<Arc<dyn TestStore>> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(SqliteStore::connect(url).await?),
        Backend::Postgres => Arc::new(PgStore::connect(url).await?),
    })
}

/// [`super::open`] for tests: connected and migrated.
pub async fn open(url: &str) -> StoreResult<Arc<dyn TestStore>> {
    let store = connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    backend: Backend,
    cleanup: Cleanup,
}

#[derive(Debug)]
enum Cleanup {
    Directory(#[allow(dead_code)] tempfile::TempDir),
    Schema { admin_url: String, schema: String },
}

impl TestDatabase {
    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("callbridge.db").display());
        Self {
            url,
            backend: Backend::Sqlite,
            cleanup: Cleanup::Directory(dir),
        }
    }

    /// A new, empty schema on the test PostgreSQL, or `None` when it is unreachable and not
    /// required. Panics when it is required and unreachable.
    pub async fn postgres() -> Option<Self> {
        let admin_url = postgres_url();
        match create_schema(&admin_url).await {
            Ok(schema) => {
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                let url = format!("{admin_url}{sep}options=-c%20search_path%3D{schema}");
                Some(Self {
                    url,
                    backend: Backend::Postgres,
                    cleanup: Cleanup::Schema { admin_url, schema },
                })
            }
            Err(err) if postgres_required() => panic!(
                "PostgreSQL is required (CALLBRIDGE_REQUIRE_POSTGRES=1 or CI) but unreachable \
                 at {admin_url}: {err}"
            ),
            Err(err) => {
                eprintln!(
                    "note: PostgreSQL tests skipped, {admin_url} unreachable ({err}); \
                     set CALLBRIDGE_REQUIRE_POSTGRES=1 to make this an error"
                );
                None
            }
        }
    }

    /// SQLite, plus PostgreSQL when available.
    /// The backend a suite runs on when it doesn't name one: SQLite, or PostgreSQL when
    /// `CALLBRIDGE_TEST_BACKEND=postgres` (the test script runs the end-to-end suite once on each).
    pub async fn default_backend() -> Self {
        match std::env::var("CALLBRIDGE_TEST_BACKEND").as_deref() {
            Ok("postgres") => Self::postgres()
                .await
                .expect("CALLBRIDGE_TEST_BACKEND=postgres but PostgreSQL is not reachable"),
            Ok("sqlite") | Err(_) => Self::sqlite(),
            Ok(other) => panic!("CALLBRIDGE_TEST_BACKEND={other:?}: use sqlite or postgres"),
        }
    }

    pub async fn all() -> Vec<Self> {
        let mut dbs = vec![Self::sqlite()];
        dbs.extend(Self::postgres().await);
        dbs
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A migrated store on this database.
    pub async fn store(&self) -> Arc<dyn TestStore> {
        open(&self.url)
            .await
            .unwrap_or_else(|e| panic!("open {} test store: {e}", self.backend.as_str()))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Cleanup::Schema { admin_url, schema } = &self.cleanup else {
            return;
        };
        let (admin_url, schema) = (admin_url.clone(), schema.clone());
        let name = schema.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived thread
        // with its own runtime can.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin_url).await.ok()?;
                // The test's runtime is blocked while this runs, so a connection of the test's
                // own pool caught inside a transaction would hold its locks forever: give up
                // (and leave the schema) rather than hang the test.
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "SET lock_timeout = '10s'; DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&mut conn)
                .await
                .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("note: could not drop test schema {name}");
        }
    }
}

/// The number every fixture call rings as its customer.
pub const FIXTURE_RECIPIENT: &str = "+12025550123";

/// An agent stored with `phone` (neither it nor the email marked verified), for tests that need
/// calls to hang on.
pub async fn fixture_agent(store: &dyn TestStore, email: &str, phone: &str) -> Agent {
    store
        .insert_agent(NewAgent {
            email: EmailAddress::parse(email).expect("a fixture email"),
            email_verified_at: None,
            phone: Some(PhoneNumber::parse(phone).expect("a fixture phone")),
            phone_verified_at: None,
            record_by_default: false,
        })
        .await
        .unwrap_or_else(|e| panic!("insert fixture agent {email}: {e}"))
}

/// A new call of `agent` (who has a phone) to [`FIXTURE_RECIPIENT`], unlabelled, not recorded.
pub async fn fixture_call(store: &dyn Store, agent: &Agent) -> Call {
    store
        .create_call(NewCall {
            agent_id: agent.id,
            mode: CallMode::Phone,
            recipient: PhoneNumber::parse(FIXTURE_RECIPIENT).expect("a fixture phone"),
            agent_endpoint: agent
                .phone
                .clone()
                .expect("a fixture agent has a phone")
                .into(),
            label: None,
            record: false,
        })
        .await
        .unwrap_or_else(|e| panic!("create fixture call: {e}"))
}

/// One agent with one call, for tests about a call and nothing else.
pub async fn fixture_agent_call(store: &dyn TestStore, email: &str) -> Call {
    let agent = fixture_agent(store, email, "+14155550100").await;
    fixture_call(store, &agent).await
}

pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// `CALLBRIDGE_REQUIRE_POSTGRES=1` (what `scripts/test` sets), or a CI run (`CI=true`, as CI
/// services set it) that did not say `CALLBRIDGE_REQUIRE_POSTGRES=0`: a CI job that lost its
/// PostgreSQL must fail, not pass with half its tests skipped.
pub fn postgres_required() -> bool {
    required(
        std::env::var("CALLBRIDGE_REQUIRE_POSTGRES").ok().as_deref(),
        std::env::var("CI").ok().as_deref(),
    )
}

fn required(require: Option<&str>, ci: Option<&str>) -> bool {
    match require {
        Some("1") => true,
        Some("0") => false,
        _ => ci.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1"),
    }
}

async fn create_schema(admin_url: &str) -> Result<String, sqlx::Error> {
    tokio::time::timeout(CONNECT_TIMEOUT, async {
        if !sqlx::Postgres::database_exists(admin_url).await? {
            // Another test may create it at the same moment; only a real failure matters.
            if let Err(e) = sqlx::Postgres::create_database(admin_url).await
                && !sqlx::Postgres::database_exists(admin_url).await?
            {
                return Err(e);
            }
        }
        let schema = format!("cb_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url).await?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(schema)
    })
    .await
    .map_err(|_| sqlx::Error::PoolTimedOut)?
}

#[cfg(test)]
mod tests {
    use super::required;

    #[test]
    fn postgres_is_required_when_asked_or_on_ci_unless_opted_out() {
        assert!(required(Some("1"), None));
        assert!(required(None, Some("true")));
        assert!(required(None, Some("1")));
        assert!(required(Some("1"), Some("false")));
        assert!(!required(Some("0"), Some("true")));
        assert!(!required(None, None));
        assert!(!required(None, Some("false")));
        assert!(!required(Some(""), None));
    }
}

//! Durable state. One `Store` trait (split by domain) with one implementation per backend, each
//! with its own migrations: `sqlite` (text ids, epoch-millisecond times, 0/1 flags) and
//! `postgres` (native `uuid`, `timestamptz`, `jsonb` and `boolean`). [`connect`] picks one by the
//! URL. What both share (the rows' conversion into models, error classification) lives here.

mod airtable_models;
mod callback;
mod control;
mod dialer;
#[cfg(test)]
mod dialer_tests;
mod idempotency;
#[cfg(test)]
mod migrate_forward;
mod models;
mod postgres;
mod rows;
mod sqlite;
#[cfg(any(test, feature = "simulator"))]
pub mod testing;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;

pub use airtable_models::{
    Campaign, CampaignItem, CampaignStatus, ItemState, LinkChange, LinkedCall, NewCampaignItem,
    NewOutboxRow, OutboxClaim, OutboxRow, OutboxStatus, RecordCall, RecordLink,
};
pub use callback::{CallbackStore, CallbackWrite, CallbackWritten, PlannedMove};
pub use control::ControlStore;
pub use dialer::{
    DialerSession, DialerStore, FinishedItem, ItemOutcome, SessionJoin, SessionState, WrapUp,
};
pub use idempotency::{Claimed, IdempotencyStore, KeyClaim, KeyRecord, SavedResponse};
pub use models::{
    Agent, Call, CallEvent, CallLeg, InboundCall, InboundLeg, LegUpdate, NewAgent, NewCall,
    NewEvent, Recording, RecordingUpdate,
};
pub use models::{AuditEvent, NewAuditEvent, RateWindow, WebSession};
pub use rows::EVENTS_PER_CALL_IN_A_PAGE;

use crate::domain::{AgentId, CallId, CallMode, CallState, EmailAddress, PhoneNumber};

/// How the rest of the service holds the store.
pub type SharedStore = Arc<dyn Store>;

/// Requests fail fast with 503 rather than queue behind a database that is down.
pub const ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

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
}

/// Opens a pool on the backend the URL names; a SQLite file is created if missing and switched
/// to WAL. Does not migrate.
pub async fn connect(url: &str) -> StoreResult<SharedStore> {
    Ok(match Backend::from_url(url)? {
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url).await?),
        Backend::Postgres => Arc::new(postgres::PgStore::connect(url).await?),
    })
}

/// Connects and brings the schema up to date.
pub async fn open(url: &str) -> StoreResult<SharedStore> {
    let store = connect(url).await?;
    store.migrate().await?;
    Ok(store)
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

impl MigrationStatus {
    /// Compares the versions a database recorded with those `migrator` knows.
    fn of(migrator: &sqlx::migrate::Migrator, applied: &[i64], failed: Vec<i64>) -> Self {
        let known: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        Self {
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
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A unique key already holds this value (an email, a phone, a call SID…).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The database could not be reached in time; worth retrying later, never a client error.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported DATABASE_URL {0:?}: use sqlite://path or postgres://…")]
    UnsupportedUrl(String),
    /// A row that our own code wrote no longer parses: a bug or a hand edit, never user input.
    #[error("corrupt row in {table}: {detail}")]
    Corrupt { table: &'static str, detail: String },
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.message().to_owned())
            }
            sqlx::Error::Database(db)
                if db.code().as_deref().is_some_and(|code| {
                    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                        is_sqlite_unavailable(code)
                    } else {
                        is_server_unavailable(code)
                    }
                }) =>
            {
                Self::Unavailable(err)
            }
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err),
            _ => Self::Database(err),
        }
    }
}

/// SQLSTATEs a server sends when it goes away or cannot take us now (a restart terminates every
/// session with 57P01), is out of disk or memory (class 53), is read-only (25006, a standby) or
/// hit an I/O error (58030): the database is unavailable, not our request wrong, and a retry
/// later will do.
fn is_server_unavailable(sqlstate: &str) -> bool {
    sqlstate.starts_with("08")
        || sqlstate.starts_with("53")
        || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "25006" | "58030")
}

/// SQLite's result codes (extended ones carry the primary code in their low byte) for a file
/// that cannot be written now: busy or locked past the wait, read-only, an I/O error, a full
/// disk, a file that cannot be opened.
fn is_sqlite_unavailable(code: &str) -> bool {
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const READONLY: i64 = 8;
    const IOERR: i64 = 10;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    code.parse::<i64>()
        .is_ok_and(|c| matches!(c & 0xff, BUSY | LOCKED | READONLY | IOERR | FULL | CANTOPEN))
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait AgentStore: Send + Sync {
    async fn agent_by_id(&self, id: AgentId) -> StoreResult<Option<Agent>>;
    async fn agent_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Agent>>;
    async fn agent_by_phone(&self, phone: &PhoneNumber) -> StoreResult<Option<Agent>>;
    /// Creates the agent of a just-verified email, or stamps the verification on the existing one.
    async fn upsert_verified_email(
        &self,
        email: &EmailAddress,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Agent>;
    /// Makes `phone` the agent's one verified phone and lifts a revocation (the new token carries
    /// the bumped version, so tokens from before the revocation stay dead). `Conflict` when the
    /// phone belongs to another agent; `NotFound` when the agent does not exist.
    async fn bind_phone(
        &self,
        id: AgentId,
        phone: &PhoneNumber,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Agent>;
    /// Kills every call token issued so far: bumps `token_version` and stamps `revoked_at`.
    async fn revoke_agent(
        &self,
        id: AgentId,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Agent>;
    /// Where the agent talks from unless a request says otherwise.
    async fn set_default_mode(&self, id: AgentId, mode: CallMode) -> StoreResult<Agent>;
    /// Every agent, oldest first.
    async fn list_agents(&self) -> StoreResult<Vec<Agent>>;
}

#[async_trait]
pub trait InviteStore: Send + Sync {
    /// Lets `email` sign up whatever the domain list says; inviting twice keeps the first.
    /// `true` when the invitation is new.
    async fn invite(
        &self,
        email: &EmailAddress,
        by: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool>;
    async fn is_invited(&self, email: &EmailAddress) -> StoreResult<bool>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Keeps a new session under the hash of its cookie's secret.
    async fn create_session(
        &self,
        secret_hash: &str,
        session: &WebSession,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()>;
    /// The session, unless it expired before `now`.
    async fn session(
        &self,
        secret_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Option<WebSession>>;
    /// Ends the session; ending one that is gone is no error.
    async fn end_session(&self, secret_hash: &str) -> StoreResult<()>;
    /// Whether the agent administers the others: promoted, or the first agent there was.
    async fn is_admin(&self, agent: AgentId) -> StoreResult<bool>;
    /// Makes the agent an administrator; `false` when it already was one.
    async fn promote(
        &self,
        agent: AgentId,
        by: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one hit on `key` in the fixed window starting at `window_start`, in one atomic
    /// statement so that every instance sees the same count. A hit in a newer window restarts
    /// the count; a hit from a lagging clock counts in the newer window already stored.
    async fn count_hit(
        &self,
        key: &str,
        window_start: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<RateWindow>;
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, event: NewAuditEvent) -> StoreResult<AuditEvent>;
    /// The newest `limit` events of the agent, or about `subject` (its email) from before the
    /// agent existed; oldest first.
    async fn audit_for_agent(
        &self,
        agent: AgentId,
        subject: &str,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
}

#[async_trait]
pub trait CallStore: Send + Sync {
    async fn create_call(&self, call: NewCall) -> StoreResult<Call>;
    /// Stores a call a browser placed to us together with that call, its agent's leg, in one
    /// transaction. A Twilio retry of the same request (the same `agent_leg.call_sid`) stores
    /// nothing and finds the call the first one stored.
    async fn create_inbound_call(
        &self,
        call: NewCall,
        agent_leg: InboundLeg,
    ) -> StoreResult<InboundCall>;
    async fn call_by_id(&self, id: CallId) -> StoreResult<Option<Call>>;
    /// Newest first.
    async fn calls_for_agent(&self, agent: AgentId, limit: u32) -> StoreResult<Vec<Call>>;
    /// Calls not in a final state that last moved before `updated_before`, the stalest first.
    async fn unfinished_calls(
        &self,
        updated_before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Call>>;
    /// Moves the call to `to` only if it is currently in one of `from`, atomically, so that of
    /// several instances handling the same webhook exactly one wins. Returns whether it moved.
    async fn transition_call(
        &self,
        id: CallId,
        from: &[CallState],
        to: CallState,
        reason: Option<&str>,
    ) -> StoreResult<bool> {
        self.transition_call_queueing(id, from, to, reason, &[])
            .await
    }
    /// [`CallStore::transition_call`], queueing `effects` in the outbox in the same transaction:
    /// they are queued exactly when the call moves, and a crash never separates the two.
    async fn transition_call_queueing(
        &self,
        id: CallId,
        from: &[CallState],
        to: CallState,
        reason: Option<&str>,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool>;
    async fn set_conference_sid(&self, id: CallId, conference_sid: &str) -> StoreResult<()>;
    /// Inserts the leg or updates its status; a leg is identified by its Twilio call SID. The
    /// status only moves forward (queued, initiated, ringing, in-progress, then a final one), so a
    /// callback that arrives late never undoes a newer one.
    async fn upsert_leg(&self, leg: LegUpdate) -> StoreResult<CallLeg>;
    async fn legs_for_call(&self, id: CallId) -> StoreResult<Vec<CallLeg>>;
    /// The leg Twilio knows by `call_sid`, if it is one of ours.
    async fn leg_by_sid(&self, call_sid: &str) -> StoreResult<Option<CallLeg>>;
    /// How long the parties talked; set whenever it becomes known, whatever the call's state.
    async fn set_call_duration(&self, id: CallId, duration_secs: i64) -> StoreResult<()>;
}

#[async_trait]
pub trait RecordingStore: Send + Sync {
    /// Inserts the recording or updates it; a final status (`completed`, `absent`, `failed`) is
    /// never replaced by a late `in-progress`, and a known duration or URL is never erased.
    async fn upsert_recording(&self, recording: RecordingUpdate) -> StoreResult<Recording>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores a webhook once: returns `false` (and changes nothing) when an event with the same
    /// `dedupe_key` was already stored, e.g. because Twilio retried the callback.
    async fn record_event(&self, event: NewEvent) -> StoreResult<bool>;
    /// In the order they were received.
    async fn events_for_call(&self, id: CallId) -> StoreResult<Vec<CallEvent>>;
}

/// One page of an agent's call log, newest first.
#[derive(Debug, Clone)]
pub struct CallPageQuery {
    pub agent: AgentId,
    /// Only calls in one of these states; empty means any.
    pub states: Vec<CallState>,
    /// Only calls that sort after this one (older, or as old with a smaller id).
    pub before: Option<CallCursor>,
    /// Only calls created at or after this instant.
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only calls created before this instant.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// Only calls whose customer's number contains these digits.
    pub number_digits: Option<String>,
    pub limit: u32,
}

/// A position in the call log: the sort key of the last call of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCursor {
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub id: CallId,
}

/// What a page of the call log shows beside its calls. Each list holds the rows of every call
/// asked for, those of one call in the order the single-call reads give them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallDetails {
    pub agents: Vec<Agent>,
    pub legs: Vec<CallLeg>,
    pub events: Vec<CallEvent>,
    /// Oldest first.
    pub recordings: Vec<Recording>,
    /// Calls whose older events were left out (a page of the log holds each call's newest).
    pub events_cut: Vec<CallId>,
}

#[async_trait]
pub trait CallLogStore: Send + Sync {
    /// Ordered by `created_at` then id, both descending.
    async fn calls_page(&self, query: &CallPageQuery) -> StoreResult<Vec<Call>>;
    /// The agents, legs, events and recordings of `calls` in a query each, however many calls;
    /// of each call's events the newest [`EVENTS_PER_CALL_IN_A_PAGE`], with the payloads of
    /// conference events only.
    async fn call_details(&self, calls: &[Call]) -> StoreResult<CallDetails>;
    /// One call with its details, all read as of one moment.
    async fn call_snapshot(&self, id: CallId) -> StoreResult<Option<(Call, CallDetails)>>;
}

/// A durable queue of jobs, safe with several instances and across crashes.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues a job after every job already queued for its key.
    async fn enqueue(&self, row: NewOutboxRow) -> StoreResult<OutboxRow>;
    /// Whether a claim of `family`'s rows made now could return anything.
    async fn outbox_ready(
        &self,
        family: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<bool>;
    /// Leases up to `limit` rows that are due: each the oldest unfinished row of its key (so
    /// a key's rows are never delivered out of order), pending or in flight with a lease that
    /// ran out. Two claimers never get the same row.
    async fn claim_outbox(&self, claim: &OutboxClaim) -> StoreResult<Vec<OutboxRow>>;
    /// The pending rows of `key` queued after `seq`, in order (rows that a claimed row may
    /// stand in for).
    async fn outbox_followers(&self, key: &str, seq: i64) -> StoreResult<Vec<OutboxRow>>;
    /// Marks `head` (claimed by `worker`) and the followers in `also` done, atomically; false
    /// (and nothing changed) when the worker no longer holds `head`.
    async fn complete_outbox(&self, head: &str, also: &[String], worker: &str)
    -> StoreResult<bool>;
    /// Gives a failed row back for another try at `next_attempt_at`, counting the attempt.
    async fn retry_outbox(
        &self,
        id: &str,
        worker: &str,
        error: &str,
        next_attempt_at: chrono::DateTime<chrono::Utc>,
        uncertain: bool,
    ) -> StoreResult<bool>;
    /// Gives up on a row for good.
    async fn kill_outbox(&self, id: &str, worker: &str, error: &str) -> StoreResult<bool>;
    /// Every row of `key`, in order; for inspection.
    async fn outbox_for_key(&self, key: &str) -> StoreResult<Vec<OutboxRow>>;
    /// Takes the next slot of a budget shared by every instance: slots of `key` are at least
    /// `spacing` apart and never before a pause set with [`OutboxStore::pause_pacing`].
    /// Returns the slot's time, which may be in the future.
    async fn take_pacing_slot(
        &self,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
        spacing: std::time::Duration,
    ) -> StoreResult<chrono::DateTime<chrono::Utc>>;
    /// No slot of `key` before `until` (an earlier pause never shortens a later one).
    async fn pause_pacing(
        &self,
        key: &str,
        until: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()>;
}

/// Links between calls and Airtable records, and campaigns.
#[async_trait]
pub trait AirtableStore: Send + Sync {
    /// Stores the call together with its link to the record, unless the record already has a
    /// call that is not over: then nothing is stored and that call is named. One statement
    /// decides (a unique index allows one open link per record), so it holds across instances.
    async fn create_linked_call(
        &self,
        call: NewCall,
        link: RecordLink<'_>,
    ) -> StoreResult<RecordCall>;
    /// Links whose call may still change what the record should show, oldest first.
    async fn open_links(&self, limit: u32) -> StoreResult<Vec<LinkedCall>>;
    async fn link_for_call(&self, call: CallId) -> StoreResult<Option<LinkedCall>>;
    /// In one transaction: moves the link's snapshot from `expected` to the new one and queues
    /// the write. False (nothing changed) when another writer moved the snapshot first.
    async fn enqueue_link_change(&self, change: LinkChange) -> StoreResult<bool>;

    /// A running campaign with its items in this order.
    async fn create_campaign(
        &self,
        agent: AgentId,
        view: &str,
        items: &[NewCampaignItem],
    ) -> StoreResult<Campaign>;
    async fn campaign_by_id(&self, id: &str) -> StoreResult<Option<Campaign>>;
    /// The agent's newest campaigns, newest first.
    async fn campaigns_for_agent(&self, agent: AgentId, limit: u32) -> StoreResult<Vec<Campaign>>;
    /// Every item, in order, with its call's state.
    async fn campaign_items(&self, id: &str) -> StoreResult<Vec<CampaignItem>>;
    /// Moves the campaign to `to` if it is in one of `from`; canceling also cancels its
    /// pending items. Returns whether it moved.
    async fn set_campaign_status(
        &self,
        id: &str,
        from: &[CampaignStatus],
        to: CampaignStatus,
    ) -> StoreResult<bool>;
    /// Leases the running campaigns no other live runner holds (or that `worker` holds).
    async fn claim_campaigns(
        &self,
        worker: &str,
        now: chrono::DateTime<chrono::Utc>,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<Campaign>>;
    /// Moves an item from `from` to `to`, setting its call or error; false if it was not in
    /// `from` any more.
    async fn move_item(
        &self,
        item: &str,
        from: ItemState,
        to: ItemState,
        call: Option<CallId>,
        error: Option<&str>,
    ) -> StoreResult<bool>;
}

/// What another instance said changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallChange {
    Call(CallId),
    /// News may have been missed (the connection was lost): anything may have changed.
    Unknown,
}

/// News of changed calls from other instances, in the order they were sent.
#[async_trait]
pub trait CallChanges: Send {
    async fn next(&mut self) -> CallChange;
}

/// How instances sharing a database tell each other that a call changed, so that live streams
/// on one wake for webhooks handled by another.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Tells the other instances that these calls changed, in one transaction; nothing on a
    /// backend that serves one instance.
    async fn publish_call_changes(&self, ids: &[CallId]) -> StoreResult<()>;
    /// What the other instances tell; `None` on a backend that serves one instance.
    async fn subscribe_call_changes(&self) -> StoreResult<Option<Box<dyn CallChanges>>>;
}

#[async_trait]
pub trait Store:
    AgentStore
    + InviteStore
    + SessionStore
    + CallStore
    + CallLogStore
    + EventStore
    + RecordingStore
    + RateLimitStore
    + AuditStore
    + OutboxStore
    + ControlStore
    + CallbackStore
    + AirtableStore
    + DialerStore
    + IdempotencyStore
    + ChangeFeed
    + std::fmt::Debug
{
    /// Brings the schema up to date with this build's migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// How the schema compares with this build's migrations. Only reads, so that a check can
    /// run against a production database without changing it.
    async fn migration_status(&self) -> StoreResult<MigrationStatus>;
    /// Closes the pool, waiting for the connections in use to come back.
    async fn close(&self);
    /// A round trip to the database (`SELECT 1`).
    async fn ping(&self) -> StoreResult<()>;
    /// A real write, for readiness: a full, read-only or failing disk answers reads but not this.
    async fn check_writable(&self) -> StoreResult<()>;
    fn backend(&self) -> Backend;
    /// The most connections the store holds at once.
    fn connections(&self) -> u32;
}

#[cfg(test)]
mod backend_tests {
    use super::*;

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
}

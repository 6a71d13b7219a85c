//! Durable state. One `Store` trait (split by domain), one SQL implementation that serves both
//! SQLite and PostgreSQL from the same query text.

mod models;
mod sql;
pub mod testing;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;

pub use models::{Agent, Call, CallEvent, CallLeg, LegUpdate, NewAgent, NewCall, NewEvent};
pub use sql::{Backend, SqlStore};

use crate::domain::{AgentId, CallId, CallState, EmailAddress, PhoneNumber};

/// How the rest of the service holds the store.
pub type SharedStore = Arc<dyn Store>;

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
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(err),
            _ => Self::Database(err),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait AgentStore: Send + Sync {
    /// Fails with `Conflict` when the email or phone already belongs to an agent.
    async fn insert_agent(&self, agent: NewAgent) -> StoreResult<Agent>;
    async fn agent_by_id(&self, id: AgentId) -> StoreResult<Option<Agent>>;
    async fn agent_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Agent>>;
    async fn agent_by_phone(&self, phone: &PhoneNumber) -> StoreResult<Option<Agent>>;
}

#[async_trait]
pub trait CallStore: Send + Sync {
    async fn create_call(&self, call: NewCall) -> StoreResult<Call>;
    async fn call_by_id(&self, id: CallId) -> StoreResult<Option<Call>>;
    /// Newest first.
    async fn calls_for_agent(&self, agent: AgentId, limit: u32) -> StoreResult<Vec<Call>>;
    /// Sets the state unconditionally; `ended_at` is stamped when the state is final.
    async fn set_call_state(
        &self,
        id: CallId,
        state: CallState,
        reason: Option<&str>,
    ) -> StoreResult<Call>;
    /// Moves the call to `to` only if it is currently in one of `from`, atomically, so that of
    /// several instances handling the same webhook exactly one wins. Returns whether it moved.
    async fn transition_call(
        &self,
        id: CallId,
        from: &[CallState],
        to: CallState,
        reason: Option<&str>,
    ) -> StoreResult<bool>;
    async fn set_conference_sid(&self, id: CallId, conference_sid: &str) -> StoreResult<()>;
    /// Inserts the leg or updates its status; a leg is identified by its Twilio call SID.
    async fn upsert_leg(&self, leg: LegUpdate) -> StoreResult<CallLeg>;
    async fn legs_for_call(&self, id: CallId) -> StoreResult<Vec<CallLeg>>;
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Stores a webhook once: returns `false` (and changes nothing) when an event with the same
    /// `dedupe_key` was already stored, e.g. because Twilio retried the callback.
    async fn record_event(&self, event: NewEvent) -> StoreResult<bool>;
    /// In the order they were received.
    async fn events_for_call(&self, id: CallId) -> StoreResult<Vec<CallEvent>>;
}

#[async_trait]
pub trait Store: AgentStore + CallStore + EventStore + std::fmt::Debug {
    /// A round trip to the database (`SELECT 1`), for readiness.
    async fn ping(&self) -> StoreResult<()>;
    fn backend(&self) -> Backend;
}

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::native::select_one;
use super::{AgentRow, SqliteStore, now_ms, to_ms};
use crate::domain::{AgentId, CallMode, EmailAddress, PhoneNumber};
use crate::store::rows::{AGENT_COLUMNS, convert, convert_opt};
use crate::store::{Agent, AgentStore, StoreError, StoreResult};

impl SqliteStore {
    async fn existing_agent(&self, id: AgentId) -> StoreResult<Agent> {
        self.agent_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    /// The agent an `UPDATE … WHERE id = …` changed, as it now is.
    async fn updated_agent(&self, rows_affected: u64, id: AgentId) -> StoreResult<Agent> {
        if rows_affected == 0 {
            return Err(StoreError::NotFound);
        }
        self.existing_agent(id).await
    }

    async fn agent_where(&self, column: &str, value: String) -> StoreResult<Option<Agent>> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents WHERE {column} = $1");
        self.inline
            .read(|conn| convert_opt(select_one::<AgentRow>(conn, &sql, &[&value])?))
            .await
    }

    /// Stores an agent as given; the service itself creates agents only through verification.
    #[cfg(any(test, feature = "simulator"))]
    pub(in crate::store) async fn insert_agent(
        &self,
        agent: crate::store::NewAgent,
    ) -> StoreResult<Agent> {
        let id = AgentId::new();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO agents (id, email, email_verified_at, phone, phone_verified_at, \
             token_version, record_by_default, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $7)",
        )
        .bind(id.to_string())
        .bind(agent.email.as_str())
        .bind(agent.email_verified_at.map(to_ms))
        .bind(agent.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(agent.phone_verified_at.map(to_ms))
        .bind(agent.record_by_default)
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.existing_agent(id).await
    }
}

#[async_trait]
impl AgentStore for SqliteStore {
    async fn agent_by_id(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        self.agent_where("id", id.to_string()).await
    }

    async fn agent_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Agent>> {
        self.agent_where("email", email.as_str().to_owned()).await
    }

    async fn agent_by_phone(&self, phone: &PhoneNumber) -> StoreResult<Option<Agent>> {
        self.agent_where("phone", phone.as_str().to_owned()).await
    }

    async fn upsert_verified_email(
        &self,
        email: &EmailAddress,
        at: DateTime<Utc>,
    ) -> StoreResult<Agent> {
        let now = now_ms();
        // One statement, so two instances validating the same email at once both succeed.
        sqlx::query(
            "INSERT INTO agents (id, email, email_verified_at, token_version, record_by_default, \
             created_at, updated_at) VALUES ($1, $2, $3, 0, 0, $4, $4) \
             ON CONFLICT (email) DO UPDATE SET email_verified_at = excluded.email_verified_at, \
             updated_at = excluded.updated_at",
        )
        .bind(AgentId::new().to_string())
        .bind(email.as_str())
        .bind(to_ms(at))
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.agent_by_email(email)
            .await?
            .ok_or(StoreError::NotFound)
    }

    async fn bind_phone(
        &self,
        id: AgentId,
        phone: &PhoneNumber,
        at: DateTime<Utc>,
    ) -> StoreResult<Agent> {
        // The UNIQUE constraint on phone turns "bound to another agent" into Conflict, also
        // when two agents race for one number.
        let done = sqlx::query(
            "UPDATE agents SET phone = $1, phone_verified_at = $2, revoked_at = NULL, \
             updated_at = $3 WHERE id = $4",
        )
        .bind(phone.as_str())
        .bind(to_ms(at))
        .bind(now_ms())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        self.updated_agent(done.rows_affected(), id).await
    }

    async fn set_default_mode(&self, id: AgentId, mode: CallMode) -> StoreResult<Agent> {
        let done =
            sqlx::query("UPDATE agents SET default_mode = $1, updated_at = $2 WHERE id = $3")
                .bind(mode.as_str())
                .bind(now_ms())
                .bind(id.to_string())
                .execute(&self.pool)
                .await?;
        self.updated_agent(done.rows_affected(), id).await
    }

    async fn revoke_agent(&self, id: AgentId, at: DateTime<Utc>) -> StoreResult<Agent> {
        let done = sqlx::query(
            "UPDATE agents SET token_version = token_version + 1, revoked_at = $1, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(to_ms(at))
        .bind(now_ms())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        self.updated_agent(done.rows_affected(), id).await
    }

    async fn list_agents(&self) -> StoreResult<Vec<Agent>> {
        let sql = format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY created_at, id");
        let rows: Vec<AgentRow> = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }
}

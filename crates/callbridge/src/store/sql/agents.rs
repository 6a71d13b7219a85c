use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{Columns, flag, now_ms, to_ms};
use crate::domain::{AgentId, EmailAddress, PhoneNumber};
use crate::store::{Agent, AgentStore, NewAgent, StoreResult};

const COLUMNS: &str = "id, email, email_verified_at, phone, phone_verified_at, token_version, \
                       revoked_at, record_by_default, created_at, updated_at";

fn agent_from_row(row: &AnyRow) -> StoreResult<Agent> {
    let c = Columns::new(row, "agents");
    Ok(Agent {
        id: c.parsed("id")?,
        email: c.parsed("email")?,
        email_verified_at: c.opt_time("email_verified_at")?,
        phone: c.opt_parsed("phone")?,
        phone_verified_at: c.opt_time("phone_verified_at")?,
        token_version: c.int("token_version")?,
        revoked_at: c.opt_time("revoked_at")?,
        record_by_default: c.flag("record_by_default")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

impl SqlStore {
    async fn agent_where(&self, column: &str, value: String) -> StoreResult<Option<Agent>> {
        let sql = format!("SELECT {COLUMNS} FROM agents WHERE {column} = $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(agent_from_row)
            .transpose()
    }
}

#[async_trait]
impl AgentStore for SqlStore {
    async fn insert_agent(&self, agent: NewAgent) -> StoreResult<Agent> {
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
        .bind(flag(agent.record_by_default))
        .bind(now)
        .execute(&self.pool)
        .await?;
        self.agent_by_id(id)
            .await?
            .ok_or(crate::store::StoreError::NotFound)
    }

    async fn agent_by_id(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        self.agent_where("id", id.to_string()).await
    }

    async fn agent_by_email(&self, email: &EmailAddress) -> StoreResult<Option<Agent>> {
        self.agent_where("email", email.as_str().to_owned()).await
    }

    async fn agent_by_phone(&self, phone: &PhoneNumber) -> StoreResult<Option<Agent>> {
        self.agent_where("phone", phone.as_str().to_owned()).await
    }
}

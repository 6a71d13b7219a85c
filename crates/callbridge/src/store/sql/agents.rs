use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{Columns, flag, now_ms, to_ms};
use crate::domain::{AgentId, CallMode, EmailAddress, PhoneNumber};
use crate::store::{Agent, AgentStore, NewAgent, StoreError, StoreResult};

pub(super) const AGENT_COLUMNS: &str = "id, email, email_verified_at, phone, phone_verified_at, token_version, \
                       revoked_at, record_by_default, default_mode, created_at, updated_at";

pub(super) fn agent_from_row(row: &AnyRow) -> StoreResult<Agent> {
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
        default_mode: c.parsed("default_mode")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
    })
}

impl SqlStore {
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
        sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(agent_from_row)
            .collect()
    }
}

#[cfg(test)]
mod onboarding_tests {
    use super::*;
    use crate::store::testing::TestDatabase;

    fn email(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[tokio::test]
    async fn verifying_an_email_twice_keeps_one_agent() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let first = store
                .upsert_verified_email(&email("ada@example.com"), Utc::now())
                .await
                .unwrap();
            let second = store
                .upsert_verified_email(&email("ada@example.com"), Utc::now())
                .await
                .unwrap();
            assert_eq!(first.id, second.id);
            assert!(second.email_verified_at >= first.email_verified_at);
            assert_eq!(store.list_agents().await.unwrap().len(), 1);
        }
    }

    #[tokio::test]
    async fn a_phone_binds_to_one_agent_and_revocation_is_lifted_by_a_new_binding() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let ada = store
                .upsert_verified_email(&email("ada@example.com"), Utc::now())
                .await
                .unwrap();
            let bob = store
                .upsert_verified_email(&email("bob@example.com"), Utc::now())
                .await
                .unwrap();
            let bound = store
                .bind_phone(ada.id, &phone("+14155550100"), Utc::now())
                .await
                .unwrap();
            assert_eq!(bound.phone, Some(phone("+14155550100")));
            assert!(matches!(
                store
                    .bind_phone(bob.id, &phone("+14155550100"), Utc::now())
                    .await,
                Err(StoreError::Conflict(_))
            ));

            let revoked = store.revoke_agent(ada.id, Utc::now()).await.unwrap();
            assert_eq!(revoked.token_version, bound.token_version + 1);
            assert!(revoked.revoked_at.is_some());
            let again = store
                .bind_phone(ada.id, &phone("+14155550100"), Utc::now())
                .await
                .unwrap();
            assert!(again.revoked_at.is_none());
            assert_eq!(
                again.token_version, revoked.token_version,
                "old tokens stay dead"
            );

            assert!(matches!(
                store.revoke_agent(AgentId::new(), Utc::now()).await,
                Err(StoreError::NotFound)
            ));
        }
    }
}

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SessionRow, SqliteStore, to_ms};
use crate::domain::AgentId;
use crate::store::rows::convert_opt;
use crate::store::{SessionStore, StoreResult, WebSession};

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(
        &self,
        secret_hash: &str,
        session: &WebSession,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO web_sessions (secret_hash, agent_id, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(secret_hash)
        .bind(session.agent_id.to_string())
        .bind(&session.csrf_token)
        .bind(to_ms(at))
        .bind(to_ms(session.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session(
        &self,
        secret_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<WebSession>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT agent_id, csrf_token, expires_at FROM web_sessions \
             WHERE secret_hash = $1 AND expires_at > $2",
        )
        .bind(secret_hash)
        .bind(to_ms(now))
        .fetch_optional(&self.readers)
        .await?;
        convert_opt(row)
    }

    async fn end_session(&self, secret_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE secret_hash = $1")
            .bind(secret_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn is_admin(&self, agent: AgentId) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM admins WHERE agent_id = $1) \
             OR $1 = (SELECT id FROM agents ORDER BY created_at, id LIMIT 1)",
        )
        .bind(agent.to_string())
        .fetch_optional(&self.readers)
        .await?;
        Ok(row.is_some())
    }

    async fn promote(&self, agent: AgentId, by: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO admins (agent_id, promoted_by, promoted_at) VALUES ($1, $2, $3) \
             ON CONFLICT (agent_id) DO NOTHING",
        )
        .bind(agent.to_string())
        .bind(by)
        .bind(to_ms(at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl SqliteStore {
    /// Sessions expire by their `expires_at` alone; removing them is for tidiness.
    #[cfg(any(test, feature = "simulator"))]
    pub(in crate::store) async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqlStore;
use super::rows::{Columns, to_ms};
use crate::domain::AgentId;
use crate::store::{SessionStore, StoreResult, WebSession};

#[async_trait]
impl SessionStore for SqlStore {
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
        let row = sqlx::query(
            "SELECT agent_id, csrf_token, expires_at FROM web_sessions \
             WHERE secret_hash = $1 AND expires_at > $2",
        )
        .bind(secret_hash)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let c = Columns::new(&row, "web_sessions");
            Ok(WebSession {
                agent_id: c.parsed("agent_id")?,
                csrf_token: c.text("csrf_token")?,
                expires_at: c.time("expires_at")?,
            })
        })
        .transpose()
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
        .fetch_optional(&self.pool)
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

    async fn purge_sessions(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM web_sessions WHERE expires_at <= $1")
            .bind(to_ms(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::EmailAddress;
    use crate::store::AgentStore;
    use crate::store::testing::TestDatabase;

    #[tokio::test]
    async fn a_session_is_found_until_it_expires_or_ends() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let now = Utc::now();
            let email = EmailAddress::parse("ada@example.com").unwrap();
            let agent = store.upsert_verified_email(&email, now).await.unwrap();
            let session = WebSession {
                agent_id: agent.id,
                csrf_token: "csrf".into(),
                expires_at: now + Duration::hours(1),
            };
            store.create_session("h1", &session, now).await.unwrap();
            let found = store.session("h1", now).await.unwrap().unwrap();
            assert_eq!(found.agent_id, agent.id);
            assert_eq!(found.csrf_token, "csrf");
            assert_eq!(store.session("h2", now).await.unwrap(), None);
            let later = now + Duration::hours(2);
            assert_eq!(
                store.session("h1", later).await.unwrap(),
                None,
                "{:?}",
                db.backend()
            );
            assert_eq!(store.purge_sessions(later).await.unwrap(), 1);

            let other = EmailAddress::parse("bob@example.com").unwrap();
            let bob = store.upsert_verified_email(&other, now).await.unwrap();
            assert!(
                store.is_admin(agent.id).await.unwrap(),
                "the first agent administers"
            );
            assert!(!store.is_admin(bob.id).await.unwrap());
            assert!(store.promote(bob.id, "cli:ops", now).await.unwrap());
            assert!(!store.promote(bob.id, "cli:ops", now).await.unwrap());
            assert!(store.is_admin(bob.id).await.unwrap());

            store.create_session("h3", &session, now).await.unwrap();
            store.end_session("h3").await.unwrap();
            store.end_session("h3").await.unwrap();
            assert_eq!(store.session("h3", now).await.unwrap(), None);
        }
    }
}

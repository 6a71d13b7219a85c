use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqlStore;
use super::rows::to_ms;
use crate::domain::EmailAddress;
use crate::store::{InviteStore, StoreResult};

#[async_trait]
impl InviteStore for SqlStore {
    async fn invite(&self, email: &EmailAddress, by: &str, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "INSERT INTO invites (email, invited_by, invited_at) VALUES ($1, $2, $3) \
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(email.as_str())
        .bind(by)
        .bind(to_ms(at))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn is_invited(&self, email: &EmailAddress) -> StoreResult<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM invites WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::TestDatabase;

    #[tokio::test]
    async fn an_invitation_is_kept_once_per_email() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let bob = EmailAddress::parse("Bob@Other.org").unwrap();
            let carol = EmailAddress::parse("carol@other.org").unwrap();
            assert!(!store.is_invited(&bob).await.unwrap());
            assert!(store.invite(&bob, "cli:ops", Utc::now()).await.unwrap());
            assert!(!store.invite(&bob, "cli:ops", Utc::now()).await.unwrap());
            assert!(store.is_invited(&bob).await.unwrap(), "{:?}", db.backend());
            assert!(!store.is_invited(&carol).await.unwrap());
        }
    }
}

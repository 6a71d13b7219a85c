use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqliteStore, to_ms};
use crate::domain::EmailAddress;
use crate::store::{InviteStore, StoreResult};

#[async_trait]
impl InviteStore for SqliteStore {
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
            .fetch_optional(&self.readers)
            .await?;
        Ok(row.is_some())
    }
}

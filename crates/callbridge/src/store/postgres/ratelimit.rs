use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PgStore, RateRow, micros};
use crate::store::{RateLimitStore, RateWindow, StoreResult};

#[async_trait]
impl RateLimitStore for PgStore {
    async fn count_hit(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<RateWindow> {
        // Both SET expressions read the row as it was.
        let row: RateRow = sqlx::query_as(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             hits = CASE WHEN rate_limits.window_start >= excluded.window_start \
                    THEN rate_limits.hits + 1 ELSE 1 END, \
             window_start = CASE WHEN rate_limits.window_start >= excluded.window_start \
                    THEN rate_limits.window_start ELSE excluded.window_start END \
             RETURNING window_start, hits",
        )
        .bind(key)
        .bind(micros(window_start))
        .fetch_one(&self.pool)
        .await?;
        RateWindow::try_from(row)
    }
}

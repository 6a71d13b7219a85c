use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::SqlStore;
use super::rows::{Columns, to_ms};
use crate::store::{RateLimitStore, RateWindow, StoreResult};

#[async_trait]
impl RateLimitStore for SqlStore {
    async fn count_hit(&self, key: &str, window_start: DateTime<Utc>) -> StoreResult<RateWindow> {
        // Both SET expressions read the row as it was, on SQLite and PostgreSQL alike.
        let row = sqlx::query(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             hits = CASE WHEN rate_limits.window_start >= excluded.window_start \
                    THEN rate_limits.hits + 1 ELSE 1 END, \
             window_start = CASE WHEN rate_limits.window_start >= excluded.window_start \
                    THEN rate_limits.window_start ELSE excluded.window_start END \
             RETURNING window_start, hits",
        )
        .bind(key)
        .bind(to_ms(window_start))
        .fetch_one(&self.pool)
        .await?;
        let c = Columns::new(&row, "rate_limits");
        Ok(RateWindow {
            window_start: c.time("window_start")?,
            hits: c.int("hits")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::testing::TestDatabase;

    fn at(ms: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(ms).unwrap()
    }

    #[tokio::test]
    async fn hits_count_up_within_a_window_and_restart_in_the_next() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            for want in 1..=3 {
                let w = store.count_hit("k", at(60_000)).await.unwrap();
                assert_eq!((w.hits, w.window_start), (want, at(60_000)));
            }
            let next = store.count_hit("k", at(120_000)).await.unwrap();
            assert_eq!((next.hits, next.window_start), (1, at(120_000)));
            // An instance whose clock lags counts in the newer window rather than resetting it.
            let late = store.count_hit("k", at(60_000)).await.unwrap();
            assert_eq!((late.hits, late.window_start), (2, at(120_000)));
            let other = store.count_hit("other", at(120_000)).await.unwrap();
            assert_eq!(other.hits, 1, "{:?}", db.backend());
        }
    }

    #[tokio::test]
    async fn concurrent_hits_are_all_counted() {
        for db in TestDatabase::all().await {
            let store = std::sync::Arc::new(db.store().await);
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let store = std::sync::Arc::clone(&store);
                    tokio::spawn(async move { store.count_hit("busy", at(0)).await.unwrap().hits })
                })
                .collect();
            let mut seen = Vec::new();
            for task in tasks {
                seen.push(task.await.unwrap());
            }
            seen.sort_unstable();
            assert_eq!(seen, (1..=20).collect::<Vec<_>>(), "{:?}", db.backend());
        }
    }
}

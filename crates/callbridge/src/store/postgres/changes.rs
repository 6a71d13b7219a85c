//! News of changed calls between instances: `LISTEN`/`NOTIFY` on one channel, the call id as
//! payload.

use async_trait::async_trait;
use secrecy::ExposeSecret as _;
use sqlx::postgres::PgListener;

use super::PgStore;
use crate::domain::CallId;
use crate::store::{CallChange, CallChanges, ChangeFeed, StoreResult};

const CHANNEL: &str = "callbridge_call_changes";

#[async_trait]
impl ChangeFeed for PgStore {
    async fn publish_call_changes(&self, ids: &[CallId]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        // A transaction that notifies takes a transaction id and commits like a write: one for
        // the lot, not one per call.
        sqlx::query("SELECT pg_notify($1, id) FROM unnest($2::text[]) AS id")
            .bind(CHANNEL)
            .bind(ids.iter().map(ToString::to_string).collect::<Vec<_>>())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn subscribe_call_changes(&self) -> StoreResult<Option<Box<dyn CallChanges>>> {
        let mut listener = PgListener::connect(self.url.expose_secret()).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(Box::new(Listener(listener))))
    }
}

struct Listener(PgListener);

#[async_trait]
impl CallChanges for Listener {
    async fn next(&mut self) -> CallChange {
        match self.0.try_recv().await {
            Ok(Some(notification)) => notification
                .payload()
                .parse()
                .map_or(CallChange::Unknown, CallChange::Call),
            // The connection was lost (and is made again on the next call): whatever was
            // said meanwhile is gone.
            Ok(None) => CallChange::Unknown,
            Err(error) => {
                tracing::warn!(%error, "lost the database's news of changed calls; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                CallChange::Unknown
            }
        }
    }
}

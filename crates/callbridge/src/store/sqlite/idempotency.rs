use async_trait::async_trait;

use super::{KeyRow, SqliteStore, to_ms};
use crate::domain::{AgentId, CallId};
use crate::store::rows::convert_opt;
use crate::store::{
    Claimed, IdempotencyStore, KeyClaim, KeyRecord, SavedResponse, StoreError, StoreResult,
};

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn claim_key(&self, claim: &KeyClaim<'_>) -> StoreResult<Claimed> {
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(to_ms(claim.expired_before))
            .execute(&self.pool)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (agent_id, key, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (agent_id, key) DO NOTHING",
        )
        .bind(claim.agent_id.to_string())
        .bind(claim.key)
        .bind(claim.fingerprint)
        .bind(to_ms(claim.now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Claimed::New);
        }
        match self.key_record(claim.agent_id, claim.key).await? {
            Some(record) => Ok(Claimed::Taken(record)),
            // Released between our insert and our read: the holder changed nothing, so the
            // caller may simply claim again.
            None => Err(StoreError::Conflict(
                "idempotency key released while being claimed".into(),
            )),
        }
    }

    async fn key_record(&self, agent_id: AgentId, key: &str) -> StoreResult<Option<KeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT fingerprint, call_id, response_status, response_retry_after, response_body \
             FROM idempotency_keys WHERE agent_id = $1 AND key = $2",
        )
        .bind(agent_id.to_string())
        .bind(key)
        .fetch_optional(&self.readers)
        .await?;
        convert_opt(row)
    }

    async fn bind_key_to_call(
        &self,
        agent_id: AgentId,
        key: &str,
        call: CallId,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE idempotency_keys SET call_id = $3 WHERE agent_id = $1 AND key = $2")
            .bind(agent_id.to_string())
            .bind(key)
            .bind(call.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn save_key_response(
        &self,
        agent_id: AgentId,
        key: &str,
        response: &SavedResponse,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE idempotency_keys SET response_status = $3, response_retry_after = $4, \
             response_body = $5 WHERE agent_id = $1 AND key = $2",
        )
        .bind(agent_id.to_string())
        .bind(key)
        .bind(i64::from(response.status))
        .bind(
            response
                .retry_after_secs
                .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        )
        .bind(response.body.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn release_key(&self, agent_id: AgentId, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM idempotency_keys WHERE agent_id = $1 AND key = $2")
            .bind(agent_id.to_string())
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

use async_trait::async_trait;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{Columns, to_ms};
use crate::domain::{AgentId, CallId};
use crate::store::{
    Claimed, IdempotencyStore, KeyClaim, KeyRecord, SavedResponse, StoreError, StoreResult,
};

fn record_from_row(row: &AnyRow) -> StoreResult<KeyRecord> {
    let c = Columns::new(row, "idempotency_keys");
    let response = match c.opt_int("response_status")? {
        None => None,
        Some(status) => Some(SavedResponse {
            status: u16::try_from(status).map_err(|_| StoreError::Corrupt {
                table: "idempotency_keys",
                detail: format!("response_status: {status}"),
            })?,
            retry_after_secs: c
                .opt_int("response_retry_after")?
                .map(|s| u64::try_from(s).unwrap_or_default()),
            body: c.opt_text("response_body")?.unwrap_or_default(),
        }),
    };
    Ok(KeyRecord {
        fingerprint: c.text("fingerprint")?,
        call_id: c.opt_parsed("call_id")?,
        response,
    })
}

#[async_trait]
impl IdempotencyStore for SqlStore {
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
        let row = sqlx::query(
            "SELECT fingerprint, call_id, response_status, response_retry_after, response_body \
             FROM idempotency_keys WHERE agent_id = $1 AND key = $2",
        )
        .bind(agent_id.to_string())
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record_from_row).transpose()
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, Utc};

    use super::*;
    use crate::domain::{EmailAddress, PhoneNumber};
    use crate::store::testing::TestDatabase;
    use crate::store::{AgentStore, CallStore, NewAgent, NewCall};

    async fn agent(store: &SqlStore) -> AgentId {
        store
            .insert_agent(NewAgent {
                email: EmailAddress::parse("keys@example.com").unwrap(),
                email_verified_at: Some(Utc::now()),
                phone: Some(PhoneNumber::parse("+14155550100").unwrap()),
                phone_verified_at: Some(Utc::now()),
                record_by_default: false,
            })
            .await
            .unwrap()
            .id
    }

    fn claim(agent_id: AgentId, fingerprint: &str) -> KeyClaim<'_> {
        let now = Utc::now();
        KeyClaim {
            agent_id,
            key: "key-1",
            fingerprint,
            now,
            expired_before: now - Duration::hours(24),
        }
    }

    #[tokio::test]
    async fn a_key_is_claimed_once_then_holds_its_call_and_answer() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent_id = agent(&store).await;
            assert_eq!(
                store.claim_key(&claim(agent_id, "f")).await.unwrap(),
                Claimed::New
            );
            let call = store
                .create_call(NewCall {
                    mode: crate::domain::CallMode::Phone,
                    agent_id,
                    recipient: PhoneNumber::parse("+12025550123").unwrap(),
                    agent_endpoint: PhoneNumber::parse("+14155550100").unwrap().into(),
                    label: None,
                    record: false,
                })
                .await
                .unwrap();
            store
                .bind_key_to_call(agent_id, "key-1", call.id)
                .await
                .unwrap();
            let Claimed::Taken(in_flight) = store.claim_key(&claim(agent_id, "g")).await.unwrap()
            else {
                panic!("claimed twice");
            };
            assert_eq!(in_flight.fingerprint, "f");
            assert_eq!(in_flight.call_id, Some(call.id));
            assert_eq!(in_flight.response, None);
            let answer = SavedResponse {
                status: 503,
                retry_after_secs: Some(4),
                body: "{}".into(),
            };
            store
                .save_key_response(agent_id, "key-1", &answer)
                .await
                .unwrap();
            let record = store.key_record(agent_id, "key-1").await.unwrap().unwrap();
            assert_eq!(record.response, Some(answer), "{:?}", db.backend());
            store.release_key(agent_id, "key-1").await.unwrap();
            assert_eq!(
                store.claim_key(&claim(agent_id, "g")).await.unwrap(),
                Claimed::New
            );
        }
    }

    #[tokio::test]
    async fn an_expired_key_is_claimed_afresh() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent_id = agent(&store).await;
            let mut old = claim(agent_id, "f");
            old.now -= Duration::hours(25);
            assert_eq!(store.claim_key(&old).await.unwrap(), Claimed::New);
            assert_eq!(
                store.claim_key(&claim(agent_id, "g")).await.unwrap(),
                Claimed::New
            );
        }
    }

    #[tokio::test]
    async fn of_concurrent_claims_exactly_one_wins() {
        for db in TestDatabase::all().await {
            let store = Arc::new(db.store().await);
            let agent_id = agent(&store).await;
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let store = Arc::clone(&store);
                    tokio::spawn(async move { store.claim_key(&claim(agent_id, "f")).await })
                })
                .collect();
            let mut won = 0;
            for task in tasks {
                if task.await.unwrap().unwrap() == Claimed::New {
                    won += 1;
                }
            }
            assert_eq!(won, 1, "{:?}", db.backend());
        }
    }
}

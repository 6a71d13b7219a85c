use async_trait::async_trait;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{Columns, to_ms};
use crate::domain::AgentId;
use crate::store::{AuditEvent, AuditStore, NewAuditEvent, StoreResult};

const COLUMNS: &str = "id, kind, actor, subject, agent_id, client_ip, detail, created_at";

fn audit_from_row(row: &AnyRow) -> StoreResult<AuditEvent> {
    let c = Columns::new(row, "audit_events");
    Ok(AuditEvent {
        id: c.text("id")?,
        kind: c.text("kind")?,
        actor: c.text("actor")?,
        subject: c.text("subject")?,
        agent_id: c.opt_parsed("agent_id")?,
        client_ip: c.opt_text("client_ip")?,
        detail: c.opt_text("detail")?,
        created_at: c.time("created_at")?,
    })
}

#[async_trait]
impl AuditStore for SqlStore {
    async fn record_audit(&self, event: NewAuditEvent) -> StoreResult<AuditEvent> {
        // Time-ordered ids keep events of the same millisecond in the order they happened.
        let id = uuid::Uuid::now_v7().to_string();
        sqlx::query(
            "INSERT INTO audit_events (id, kind, actor, subject, agent_id, client_ip, detail, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&event.kind)
        .bind(&event.actor)
        .bind(&event.subject)
        .bind(event.agent_id.map(|a| a.to_string()))
        .bind(event.client_ip.clone())
        .bind(event.detail.clone())
        .bind(to_ms(event.at))
        .execute(&self.pool)
        .await?;
        Ok(AuditEvent {
            id,
            kind: event.kind,
            actor: event.actor,
            subject: event.subject,
            agent_id: event.agent_id,
            client_ip: event.client_ip,
            detail: event.detail,
            created_at: chrono::DateTime::from_timestamp_millis(to_ms(event.at))
                .unwrap_or(event.at),
        })
    }

    async fn audit_for_agent(
        &self,
        agent: AgentId,
        subject: &str,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM audit_events WHERE agent_id = $1 OR subject = $2 \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        // The newest `limit`, shown oldest first.
        let mut events = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(agent.to_string())
            .bind(subject)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(audit_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::domain::EmailAddress;
    use crate::store::AgentStore;
    use crate::store::testing::TestDatabase;

    fn event(kind: &str, subject: &str, agent: Option<AgentId>, ms: i64) -> NewAuditEvent {
        NewAuditEvent {
            kind: kind.into(),
            actor: "setup".into(),
            subject: subject.into(),
            agent_id: agent,
            client_ip: Some("127.0.0.1".into()),
            detail: None,
            at: Utc.timestamp_millis_opt(ms).unwrap(),
        }
    }

    #[tokio::test]
    async fn an_agents_events_include_those_about_its_email_from_before_it_existed() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let email = EmailAddress::parse("ada@example.com").unwrap();
            store
                .record_audit(event("failed", "ada@example.com", None, 1_000))
                .await
                .unwrap();
            let agent = store
                .upsert_verified_email(&email, Utc::now())
                .await
                .unwrap();
            store
                .record_audit(event("verified", "ada@example.com", Some(agent.id), 2_000))
                .await
                .unwrap();
            store
                .record_audit(event("verified", "+14155550100", Some(agent.id), 3_000))
                .await
                .unwrap();
            store
                .record_audit(event("otp_sent", "someone@else.com", None, 4_000))
                .await
                .unwrap();
            let kinds: Vec<(String, String)> = store
                .audit_for_agent(agent.id, email.as_str(), 10)
                .await
                .unwrap()
                .into_iter()
                .map(|e| (e.kind, e.subject))
                .collect();
            assert_eq!(
                kinds,
                [
                    ("failed".into(), "ada@example.com".into()),
                    ("verified".into(), "ada@example.com".into()),
                    ("verified".into(), "+14155550100".into()),
                ]
            );
            let newest = store
                .audit_for_agent(agent.id, email.as_str(), 1)
                .await
                .unwrap();
            assert_eq!(
                newest[0].subject, "+14155550100",
                "the newest, when limited"
            );
        }
    }
}

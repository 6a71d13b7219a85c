use async_trait::async_trait;

use super::{AuditRow, SqliteStore, to_ms};
use crate::domain::AgentId;
use crate::store::rows::convert;
use crate::store::{AuditEvent, AuditStore, NewAuditEvent, StoreResult};

const COLUMNS: &str = "id, kind, actor, subject, agent_id, client_ip, detail, created_at";

#[async_trait]
impl AuditStore for SqliteStore {
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
        let rows: Vec<AuditRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(agent.to_string())
            .bind(subject)
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await?;
        let mut events: Vec<AuditEvent> = convert(rows)?;
        events.reverse();
        Ok(events)
    }
}

use async_trait::async_trait;

use super::{AuditRow, PgStore, micros};
use crate::domain::AgentId;
use crate::store::rows::convert;
use crate::store::{AuditEvent, AuditStore, NewAuditEvent, StoreResult};

const COLUMNS: &str = "id, kind, actor, subject, agent_id, client_ip, detail, created_at";

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, event: NewAuditEvent) -> StoreResult<AuditEvent> {
        // Time-ordered ids keep events of the same millisecond in the order they happened.
        let id = uuid::Uuid::now_v7();
        let at = micros(event.at);
        sqlx::query(
            "INSERT INTO audit_events (id, kind, actor, subject, agent_id, client_ip, detail, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(&event.kind)
        .bind(&event.actor)
        .bind(&event.subject)
        .bind(event.agent_id.map(|a| a.as_uuid()))
        .bind(event.client_ip.clone())
        .bind(event.detail.clone())
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(AuditEvent {
            id: id.to_string(),
            kind: event.kind,
            actor: event.actor,
            subject: event.subject,
            agent_id: event.agent_id,
            client_ip: event.client_ip,
            detail: event.detail,
            created_at: at,
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
            .bind(agent.as_uuid())
            .bind(subject)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        let mut events: Vec<AuditEvent> = convert(rows)?;
        events.reverse();
        Ok(events)
    }
}

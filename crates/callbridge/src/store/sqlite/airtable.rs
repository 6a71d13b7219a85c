//! Links between calls and Airtable records, and campaigns.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;

use super::{CampaignRow, ItemRow, LinkRow, SqliteStore, now_ms, placeholders, to_ms};
use crate::domain::{AgentId, CallId};
use crate::store::rows::{
    CAMPAIGN_COLUMNS, LINK_ATTEMPTS, LINK_SELECT, convert, convert_opt, corrupt,
};
use crate::store::{
    AirtableStore, Campaign, CampaignItem, CampaignStatus, ItemState, LinkChange, LinkedCall,
    NewCall, NewCampaignItem, RecordCall, RecordLink, StoreError, StoreResult,
};

fn lease_ms(lease: std::time::Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 4)
}

impl SqliteStore {
    /// A running campaign with its items, and its dialer settings if it is worked in sessions.
    pub(super) async fn insert_campaign(
        &self,
        agent: AgentId,
        view: &str,
        items: &[NewCampaignItem],
        dialer: Option<&serde_json::Value>,
    ) -> StoreResult<Campaign> {
        let id = uuid::Uuid::now_v7().to_string();
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO airtable_campaigns (id, agent_id, view_name, status, created_at, \
             updated_at, dialer) VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(id.as_str())
        .bind(agent.to_string())
        .bind(view)
        .bind(CampaignStatus::Running.as_str())
        .bind(now)
        .bind(dialer.map(serde_json::Value::to_string))
        .execute(&mut *tx)
        .await?;
        for (position, item) in (1_i64..).zip(items) {
            sqlx::query(
                "INSERT INTO campaign_items (id, campaign_id, position, record_id, phone, \
                 state, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(id.as_str())
            .bind(position)
            .bind(item.record_id.as_str())
            .bind(item.phone.clone())
            .bind(ItemState::Pending.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.campaign_by_id(&id).await?.ok_or(StoreError::NotFound)
    }

    async fn open_call_of_record(&self, record_id: &str) -> StoreResult<Option<CallId>> {
        let open: Option<String> = sqlx::query_scalar(
            "SELECT call_id FROM airtable_links WHERE record_id = $1 AND call_open = 1",
        )
        .bind(record_id)
        .fetch_optional(&self.readers)
        .await?;
        open.map(|id| {
            id.parse()
                .map_err(|e| corrupt("airtable_links", "call_id", e))
        })
        .transpose()
    }
}

#[async_trait]
impl AirtableStore for SqliteStore {
    async fn create_linked_call(
        &self,
        call: NewCall,
        link: RecordLink<'_>,
    ) -> StoreResult<RecordCall> {
        for _ in 0..LINK_ATTEMPTS {
            let mut tx = self.begin_write().await?;
            let id = Self::insert_call(&mut *tx, &call).await?;
            let linked = sqlx::query(
                "INSERT INTO airtable_links (call_id, record_id, campaign_id, call_open, \
                 created_at) VALUES ($1, $2, $3, 1, $4)",
            )
            .bind(id.to_string())
            .bind(link.record_id)
            .bind(link.campaign_id.map(str::to_owned))
            .bind(now_ms())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::from);
            match linked {
                Ok(_) => {
                    tx.commit().await?;
                    return Ok(RecordCall::Created(self.require_call(id).await?));
                }
                Err(StoreError::Conflict(_)) => {
                    tx.rollback().await?;
                    if let Some(open) = self.open_call_of_record(link.record_id).await? {
                        return Ok(RecordCall::InProgress(open));
                    }
                    // That call ended between the refusal and the look: try again.
                }
                Err(other) => return Err(other),
            }
        }
        Err(StoreError::Conflict(format!(
            "record {} kept getting new calls",
            link.record_id
        )))
    }

    async fn open_links(&self, limit: u32) -> StoreResult<Vec<LinkedCall>> {
        let sql = format!("{LINK_SELECT} WHERE l.settled = 0 ORDER BY l.created_at LIMIT $1");
        let rows: Vec<LinkRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }

    async fn link_for_call(&self, call: CallId) -> StoreResult<Option<LinkedCall>> {
        let sql = format!("{LINK_SELECT} WHERE l.call_id = $1");
        let row: Option<LinkRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(call.to_string())
            .fetch_optional(&self.readers)
            .await?;
        convert_opt(row)
    }

    async fn enqueue_link_change(&self, change: LinkChange) -> StoreResult<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        // The write lock first: on SQLite a transaction that read first could not upgrade.
        let moved = sqlx::query(
            "UPDATE airtable_links SET last_enqueued = $1, settled = $2 \
             WHERE call_id = $3 AND last_enqueued = $4",
        )
        .bind(change.snapshot.as_str())
        .bind(change.settled)
        .bind(change.call_id.to_string())
        .bind(change.expected.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !moved {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(write) = &change.write {
            Self::insert_outbox(&mut *tx, write, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn create_campaign(
        &self,
        agent: AgentId,
        view: &str,
        items: &[NewCampaignItem],
    ) -> StoreResult<Campaign> {
        self.insert_campaign(agent, view, items, None).await
    }

    async fn campaign_by_id(&self, id: &str) -> StoreResult<Option<Campaign>> {
        let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM airtable_campaigns WHERE id = $1");
        let row: Option<CampaignRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.readers)
            .await?;
        convert_opt(row)
    }

    async fn campaigns_for_agent(&self, agent: AgentId, limit: u32) -> StoreResult<Vec<Campaign>> {
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM airtable_campaigns WHERE agent_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<CampaignRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(agent.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }

    async fn campaign_items(&self, id: &str) -> StoreResult<Vec<CampaignItem>> {
        let rows: Vec<ItemRow> = sqlx::query_as(
            "SELECT i.id, i.campaign_id, i.position, i.record_id, i.phone, i.state, i.call_id, \
             i.error, c.state AS call_state FROM campaign_items i \
             LEFT JOIN calls c ON c.id = i.call_id \
             WHERE i.campaign_id = $1 ORDER BY i.position",
        )
        .bind(id)
        .fetch_all(&self.readers)
        .await?;
        convert(rows)
    }

    async fn set_campaign_status(
        &self,
        id: &str,
        from: &[CampaignStatus],
        to: CampaignStatus,
    ) -> StoreResult<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE airtable_campaigns SET status = $1, updated_at = $2 \
             WHERE id = $3 AND status IN ({})",
            placeholders(4, from.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(now)
            .bind(id);
        for status in from {
            query = query.bind(status.as_str());
        }
        let moved = query.execute(&mut *tx).await?.rows_affected() == 1;
        if moved && to == CampaignStatus::Canceled {
            sqlx::query(
                "UPDATE campaign_items SET state = $1, updated_at = $2 \
                 WHERE campaign_id = $3 AND state = $4",
            )
            .bind(ItemState::Canceled.as_str())
            .bind(now)
            .bind(id)
            .bind(ItemState::Pending.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(moved)
    }

    async fn claim_campaigns(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<Campaign>> {
        let now = to_ms(now);
        // One conditional UPDATE per campaign: of two runners only one sees the lease free.
        let candidates: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM airtable_campaigns WHERE status = $1 AND dialer IS NULL \
             AND (claimed_until IS NULL OR claimed_until < $2 OR claimed_by = $3) \
             ORDER BY created_at",
        )
        .bind(CampaignStatus::Running.as_str())
        .bind(now)
        .bind(worker)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::new();
        for id in candidates {
            let sql = format!(
                "UPDATE airtable_campaigns SET claimed_by = $1, claimed_until = $2 \
                 WHERE id = $3 AND status = $4 \
                 AND (claimed_until IS NULL OR claimed_until < $5 OR claimed_by = $1) \
                 RETURNING {CAMPAIGN_COLUMNS}"
            );
            let row: Option<CampaignRow> = sqlx::query_as(AssertSqlSafe(sql))
                .bind(worker)
                .bind(now.saturating_add(lease_ms(lease)))
                .bind(id.as_str())
                .bind(CampaignStatus::Running.as_str())
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
            if let Some(row) = row {
                claimed.push(Campaign::try_from(row)?);
            }
        }
        Ok(claimed)
    }

    async fn move_item(
        &self,
        item: &str,
        from: ItemState,
        to: ItemState,
        call: Option<CallId>,
        error: Option<&str>,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE campaign_items SET state = $1, call_id = COALESCE($2, call_id), \
             error = COALESCE($3, error), updated_at = $4 WHERE id = $5 AND state = $6",
        )
        .bind(to.as_str())
        .bind(call.map(|c| c.to_string()))
        .bind(error.map(str::to_owned))
        .bind(now_ms())
        .bind(item)
        .bind(from.as_str())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}

//! Agents' sessions of campaigns worked as a power dialer. SQLite has one writer, so a write
//! transaction alone decides which session gets an item.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use chrono::{DateTime, Utc};

use super::{CampaignRow, ItemRow, SqliteStore, now_ms, placeholders, to_ms};
use crate::domain::AgentId;
use crate::store::control::retrying_lost_races;
use crate::store::rows::{
    CAMPAIGN_COLUMNS, DIALER_SESSION_COLUMNS, DialerSessionRow, OUTCOME_COLUMNS, OutcomeRow,
    convert, convert_opt,
};
use crate::store::{
    Campaign, CampaignItem, CampaignStatus, DialerSession, DialerStore, FinishedItem, ItemOutcome,
    ItemState, NewCampaignItem, SessionJoin, SessionState, StoreError, StoreResult, WrapUp,
};

type Session = DialerSessionRow<String, i64>;

const ITEM_SELECT: &str = "SELECT i.id, i.campaign_id, i.position, i.record_id, i.phone, \
     i.state, i.call_id, i.error, c.state AS call_state FROM campaign_items i \
     LEFT JOIN calls c ON c.id = i.call_id";

impl SqliteStore {
    /// Frees the session (`ringing` to `ready`) if it is still dialling `item`.
    async fn free_session(
        tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        session: &str,
        item: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let freed = sqlx::query(
            "UPDATE dialer_sessions SET state = $1, current_item = NULL, updated_at = $2 \
             WHERE id = $3 AND state = $4 AND current_item = $5",
        )
        .bind(SessionState::Ready.as_str())
        .bind(now)
        .bind(session)
        .bind(SessionState::Ringing.as_str())
        .bind(item)
        .execute(&mut **tx)
        .await?;
        Ok(freed.rows_affected() == 1)
    }

    async fn try_finish_item(&self, finished: &FinishedItem<'_>) -> StoreResult<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(
            "UPDATE campaign_items SET written = 1, talk_secs = COALESCE($1, talk_secs), \
             updated_at = $2 WHERE id = $3 AND written = 0",
        )
        .bind(finished.talk_secs)
        .bind(now)
        .bind(finished.item_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !first {
            return Ok(false);
        }
        if let Some((from, to)) = finished.moves {
            sqlx::query(
                "UPDATE campaign_items SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4",
            )
            .bind(to.as_str())
            .bind(now)
            .bind(finished.item_id)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
        }
        Self::insert_outbox(&mut *tx, &finished.write, now).await?;
        if let Some(session) = finished.session_id {
            Self::free_session(&mut tx, session, finished.item_id, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn try_end_wrap_up(&self, wrap_up: &WrapUp<'_>) -> StoreResult<bool> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let item: Option<Option<String>> = sqlx::query_scalar(
            "SELECT current_item FROM dialer_sessions WHERE id = $1 AND state = $2",
        )
        .bind(wrap_up.session_id)
        .bind(SessionState::WrapUp.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(item) = item else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE dialer_sessions SET state = $1, current_item = NULL, updated_at = $2 \
             WHERE id = $3",
        )
        .bind(SessionState::Ready.as_str())
        .bind(now)
        .bind(wrap_up.session_id)
        .execute(&mut *tx)
        .await?;
        let mut first = false;
        if let Some(item) = item {
            first = sqlx::query(
                "UPDATE campaign_items SET disposition = $1, notes = $2, written = 1, \
                 updated_at = $3 WHERE id = $4 AND written = 0",
            )
            .bind(wrap_up.disposition)
            .bind(wrap_up.notes)
            .bind(now)
            .bind(item)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
        }
        if let Some(write) = wrap_up.write.as_ref().filter(|_| first) {
            Self::insert_outbox(&mut *tx, write, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl DialerStore for SqliteStore {
    async fn create_dialer_campaign(
        &self,
        agent: AgentId,
        view: &str,
        items: &[NewCampaignItem],
        dialer: &serde_json::Value,
    ) -> StoreResult<Campaign> {
        self.insert_campaign(agent, view, items, Some(dialer)).await
    }

    async fn campaign_dialer(&self, campaign: &str) -> StoreResult<Option<serde_json::Value>> {
        let text: Option<Option<String>> =
            sqlx::query_scalar("SELECT dialer FROM airtable_campaigns WHERE id = $1")
                .bind(campaign)
                .fetch_optional(&self.readers)
                .await?;
        text.flatten()
            .map(|t| {
                serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
                    table: "airtable_campaigns",
                    detail: format!("dialer: {e}"),
                })
            })
            .transpose()
    }

    async fn join_session(&self, join: SessionJoin<'_>) -> StoreResult<DialerSession> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO dialer_sessions (id, campaign_id, agent_id, mode, state, conference, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(join.campaign_id)
        .bind(join.agent_id.to_string())
        .bind(join.mode.as_str())
        .bind(SessionState::Joining.as_str())
        .bind(join.conference)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let sql = format!(
            "SELECT {DIALER_SESSION_COLUMNS} FROM dialer_sessions \
             WHERE campaign_id = $1 AND agent_id = $2 AND state <> $3"
        );
        let row: Session = sqlx::query_as(AssertSqlSafe(sql))
            .bind(join.campaign_id)
            .bind(join.agent_id.to_string())
            .bind(SessionState::Left.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        DialerSession::try_from(row)
    }

    async fn session_by_id(&self, id: &str) -> StoreResult<Option<DialerSession>> {
        let sql = format!("SELECT {DIALER_SESSION_COLUMNS} FROM dialer_sessions WHERE id = $1");
        let row: Option<Session> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.readers)
            .await?;
        convert_opt(row)
    }

    async fn session_of_agent_leg(&self, call_sid: &str) -> StoreResult<Option<DialerSession>> {
        let sql = format!(
            "SELECT {DIALER_SESSION_COLUMNS} FROM dialer_sessions WHERE agent_call_sid = $1"
        );
        let row: Option<Session> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(call_sid)
            .fetch_optional(&self.readers)
            .await?;
        convert_opt(row)
    }

    async fn campaign_sessions(&self, campaign: &str) -> StoreResult<Vec<DialerSession>> {
        let sql = format!(
            "SELECT {DIALER_SESSION_COLUMNS} FROM dialer_sessions WHERE campaign_id = $1 \
             ORDER BY created_at, id"
        );
        let rows: Vec<Session> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(campaign)
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }

    async fn move_session(
        &self,
        id: &str,
        from: &[SessionState],
        to: SessionState,
    ) -> StoreResult<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let keep_item = if matches!(to, SessionState::Ready | SessionState::Left) {
            "NULL"
        } else {
            "current_item"
        };
        let sql = format!(
            "UPDATE dialer_sessions SET state = $1, current_item = {keep_item}, updated_at = $2 \
             WHERE id = $3 AND state IN ({})",
            placeholders(4, from.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(now_ms())
            .bind(id);
        for state in from {
            query = query.bind(state.as_str());
        }
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }

    async fn set_session_agent_leg(&self, id: &str, call_sid: Option<&str>) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE dialer_sessions SET agent_call_sid = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(call_sid)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn claim_session_agent_leg(&self, id: &str, marker: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE dialer_sessions SET agent_call_sid = $1, updated_at = $2 \
             WHERE id = $3 AND agent_call_sid IS NULL",
        )
        .bind(marker)
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn running_dialer_campaigns(&self) -> StoreResult<Vec<Campaign>> {
        let sql = format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM airtable_campaigns \
             WHERE status = $1 AND dialer IS NOT NULL ORDER BY created_at"
        );
        let rows: Vec<CampaignRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(CampaignStatus::Running.as_str())
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }

    async fn claim_item_for_session(
        &self,
        session: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<CampaignItem>> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let campaign: Option<String> = sqlx::query_scalar(
            "SELECT campaign_id FROM dialer_sessions WHERE id = $1 AND state = $2",
        )
        .bind(session)
        .bind(SessionState::Ready.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(campaign) = campaign else {
            return Ok(None);
        };
        let item: Option<String> = sqlx::query_scalar(
            "SELECT id FROM campaign_items WHERE campaign_id = $1 AND state = $2 \
             AND (not_before IS NULL OR not_before <= $3) ORDER BY position LIMIT 1",
        )
        .bind(campaign.as_str())
        .bind(ItemState::Pending.as_str())
        .bind(to_ms(at))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(item) = item else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE campaign_items SET state = $1, session_id = $2, updated_at = $3 \
             WHERE id = $4 AND state = $5",
        )
        .bind(ItemState::Starting.as_str())
        .bind(session)
        .bind(now)
        .bind(item.as_str())
        .bind(ItemState::Pending.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE dialer_sessions SET state = $1, current_item = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(SessionState::Ringing.as_str())
        .bind(item.as_str())
        .bind(now)
        .bind(session)
        .execute(&mut *tx)
        .await?;
        let sql = format!("{ITEM_SELECT} WHERE i.id = $1");
        let row: ItemRow = sqlx::query_as(AssertSqlSafe(sql))
            .bind(item.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        CampaignItem::try_from(row).map(Some)
    }

    async fn set_item_outcome(&self, item: &str, outcome: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE campaign_items SET outcome = $1, updated_at = $2 \
             WHERE id = $3 AND outcome IS NULL",
        )
        .bind(outcome)
        .bind(now_ms())
        .bind(item)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn defer_item(&self, item: &str, session: &str, until: DateTime<Utc>) -> StoreResult<()> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE campaign_items SET state = $1, not_before = $2, updated_at = $3 \
             WHERE id = $4 AND state = $5",
        )
        .bind(ItemState::Pending.as_str())
        .bind(to_ms(until))
        .bind(now)
        .bind(item)
        .bind(ItemState::Starting.as_str())
        .execute(&mut *tx)
        .await?;
        Self::free_session(&mut tx, session, item, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_session(&self, session: &str, item: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let freed = Self::free_session(&mut tx, session, item, now_ms()).await?;
        tx.commit().await?;
        Ok(freed)
    }

    async fn set_item_answered_by(&self, item: &str, answered_by: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE campaign_items SET answered_by = $1, updated_at = $2 \
             WHERE id = $3 AND answered_by IS NULL",
        )
        .bind(answered_by)
        .bind(now_ms())
        .bind(item)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_item(&self, finished: FinishedItem<'_>) -> StoreResult<bool> {
        retrying_lost_races(true, || self.try_finish_item(&finished)).await
    }

    async fn set_item_call_sid(&self, item: &str, call_sid: &str) -> StoreResult<()> {
        sqlx::query("UPDATE campaign_items SET call_sid = $1, updated_at = $2 WHERE id = $3")
            .bind(call_sid)
            .bind(now_ms())
            .bind(item)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_item_talk_secs(&self, item: &str, secs: i64) -> StoreResult<()> {
        sqlx::query("UPDATE campaign_items SET talk_secs = $1, updated_at = $2 WHERE id = $3")
            .bind(secs)
            .bind(now_ms())
            .bind(item)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn item_outcomes(&self, campaign: &str) -> StoreResult<Vec<ItemOutcome>> {
        let sql = format!(
            "SELECT {OUTCOME_COLUMNS} FROM campaign_items WHERE campaign_id = $1 ORDER BY position"
        );
        let rows: Vec<OutcomeRow<String, i64>> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(campaign)
            .fetch_all(&self.readers)
            .await?;
        convert(rows)
    }

    async fn end_wrap_up(&self, wrap_up: WrapUp<'_>) -> StoreResult<bool> {
        retrying_lost_races(wrap_up.write.is_some(), || self.try_end_wrap_up(&wrap_up)).await
    }
}

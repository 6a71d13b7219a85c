//! Agents' sessions of campaigns worked as a power dialer. Rows are locked as they are read
//! (`FOR UPDATE`, items with `SKIP LOCKED`), so that two instances stepping sessions at once
//! never give one item to both.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::{CampaignRow, ItemRow, PgStore, now, uuid_of};
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

type Session = DialerSessionRow<Uuid, DateTime<Utc>>;

const ITEM_SELECT: &str = "SELECT i.id, i.campaign_id, i.position, i.record_id, i.phone, \
     i.state, i.call_id, i.error, c.state AS call_state FROM campaign_items i \
     LEFT JOIN calls c ON c.id = i.call_id";

impl PgStore {
    /// Frees the session (`ringing` to `ready`) if it is still dialling `item`.
    async fn free_session(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        session: Uuid,
        item: Uuid,
        now: DateTime<Utc>,
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

    async fn try_finish_item(
        &self,
        item: Uuid,
        session: Option<Uuid>,
        finished: &FinishedItem<'_>,
    ) -> StoreResult<bool> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(
            "UPDATE campaign_items SET written = true, talk_secs = COALESCE($1, talk_secs), \
             updated_at = $2 WHERE id = $3 AND NOT written",
        )
        .bind(finished.talk_secs)
        .bind(now)
        .bind(item)
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
            .bind(item)
            .bind(from.as_str())
            .execute(&mut *tx)
            .await?;
        }
        Self::insert_outbox(&mut *tx, &finished.write, now).await?;
        if let Some(session) = session {
            Self::free_session(&mut tx, session, item, now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn try_end_wrap_up(&self, session: Uuid, wrap_up: &WrapUp<'_>) -> StoreResult<bool> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let item: Option<Option<Uuid>> = sqlx::query_scalar(
            "SELECT current_item FROM dialer_sessions WHERE id = $1 AND state = $2 FOR UPDATE",
        )
        .bind(session)
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
        .bind(session)
        .execute(&mut *tx)
        .await?;
        let mut first = false;
        if let Some(item) = item {
            first = sqlx::query(
                "UPDATE campaign_items SET disposition = $1, notes = $2, written = true, \
                 updated_at = $3 WHERE id = $4 AND NOT written",
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
impl DialerStore for PgStore {
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
        let Some(campaign) = uuid_of(campaign) else {
            return Ok(None);
        };
        let dialer: Option<Option<serde_json::Value>> =
            sqlx::query_scalar("SELECT dialer FROM airtable_campaigns WHERE id = $1")
                .bind(campaign)
                .fetch_optional(&self.pool)
                .await?;
        Ok(dialer.flatten())
    }

    async fn join_session(&self, join: SessionJoin<'_>) -> StoreResult<DialerSession> {
        let campaign = uuid_of(join.campaign_id).ok_or(StoreError::NotFound)?;
        let now = now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO dialer_sessions (id, campaign_id, agent_id, mode, state, conference, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT DO NOTHING",
        )
        .bind(Uuid::now_v7())
        .bind(campaign)
        .bind(join.agent_id.as_uuid())
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
            .bind(campaign)
            .bind(join.agent_id.as_uuid())
            .bind(SessionState::Left.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        DialerSession::try_from(row)
    }

    async fn session_by_id(&self, id: &str) -> StoreResult<Option<DialerSession>> {
        let Some(id) = uuid_of(id) else {
            return Ok(None);
        };
        let sql = format!("SELECT {DIALER_SESSION_COLUMNS} FROM dialer_sessions WHERE id = $1");
        let row: Option<Session> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        convert_opt(row)
    }

    async fn session_of_agent_leg(&self, call_sid: &str) -> StoreResult<Option<DialerSession>> {
        let sql = format!(
            "SELECT {DIALER_SESSION_COLUMNS} FROM dialer_sessions WHERE agent_call_sid = $1"
        );
        let row: Option<Session> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(call_sid)
            .fetch_optional(&self.pool)
            .await?;
        convert_opt(row)
    }

    async fn campaign_sessions(&self, campaign: &str) -> StoreResult<Vec<DialerSession>> {
        let Some(campaign) = uuid_of(campaign) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {DIALER_SESSION_COLUMNS} FROM dialer_sessions WHERE campaign_id = $1 \
             ORDER BY created_at, id"
        );
        let rows: Vec<Session> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(campaign)
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn move_session(
        &self,
        id: &str,
        from: &[SessionState],
        to: SessionState,
    ) -> StoreResult<bool> {
        let Some(id) = uuid_of(id) else {
            return Ok(false);
        };
        let from: Vec<&str> = from.iter().map(SessionState::as_str).collect();
        let keep_item = if matches!(to, SessionState::Ready | SessionState::Left) {
            "NULL"
        } else {
            "current_item"
        };
        let sql = format!(
            "UPDATE dialer_sessions SET state = $1, current_item = {keep_item}, updated_at = $2 \
             WHERE id = $3 AND state = ANY($4)"
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(now())
            .bind(id)
            .bind(&from)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_session_agent_leg(&self, id: &str, call_sid: Option<&str>) -> StoreResult<()> {
        let id = uuid_of(id).ok_or(StoreError::NotFound)?;
        let done = sqlx::query(
            "UPDATE dialer_sessions SET agent_call_sid = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(call_sid)
        .bind(now())
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn claim_session_agent_leg(&self, id: &str, marker: &str) -> StoreResult<bool> {
        let id = uuid_of(id).ok_or(StoreError::NotFound)?;
        let done = sqlx::query(
            "UPDATE dialer_sessions SET agent_call_sid = $1, updated_at = $2 \
             WHERE id = $3 AND agent_call_sid IS NULL",
        )
        .bind(marker)
        .bind(now())
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
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn claim_item_for_session(
        &self,
        session: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<Option<CampaignItem>> {
        let Some(session) = uuid_of(session) else {
            return Ok(None);
        };
        let now = now();
        let mut tx = self.begin_write().await?;
        let campaign: Option<Uuid> = sqlx::query_scalar(
            "SELECT campaign_id FROM dialer_sessions WHERE id = $1 AND state = $2 FOR UPDATE",
        )
        .bind(session)
        .bind(SessionState::Ready.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(campaign) = campaign else {
            return Ok(None);
        };
        let item: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM campaign_items WHERE campaign_id = $1 AND state = $2 \
             AND (not_before IS NULL OR not_before <= $3) \
             ORDER BY position LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(campaign)
        .bind(ItemState::Pending.as_str())
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(item) = item else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE campaign_items SET state = $1, session_id = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(ItemState::Starting.as_str())
        .bind(session)
        .bind(now)
        .bind(item)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE dialer_sessions SET state = $1, current_item = $2, updated_at = $3 \
             WHERE id = $4",
        )
        .bind(SessionState::Ringing.as_str())
        .bind(item)
        .bind(now)
        .bind(session)
        .execute(&mut *tx)
        .await?;
        let sql = format!("{ITEM_SELECT} WHERE i.id = $1");
        let row: ItemRow = sqlx::query_as(AssertSqlSafe(sql))
            .bind(item)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        CampaignItem::try_from(row).map(Some)
    }

    async fn set_item_outcome(&self, item: &str, outcome: &str) -> StoreResult<bool> {
        let Some(item) = uuid_of(item) else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE campaign_items SET outcome = $1, updated_at = $2 \
             WHERE id = $3 AND outcome IS NULL",
        )
        .bind(outcome)
        .bind(now())
        .bind(item)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn defer_item(&self, item: &str, session: &str, until: DateTime<Utc>) -> StoreResult<()> {
        let (Some(item), Some(session)) = (uuid_of(item), uuid_of(session)) else {
            return Err(StoreError::NotFound);
        };
        let now = now();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE campaign_items SET state = $1, not_before = $2, updated_at = $3 \
             WHERE id = $4 AND state = $5",
        )
        .bind(ItemState::Pending.as_str())
        .bind(until)
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
        let (Some(session), Some(item)) = (uuid_of(session), uuid_of(item)) else {
            return Ok(false);
        };
        let mut tx = self.begin_write().await?;
        let freed = Self::free_session(&mut tx, session, item, now()).await?;
        tx.commit().await?;
        Ok(freed)
    }

    async fn set_item_answered_by(&self, item: &str, answered_by: &str) -> StoreResult<bool> {
        let Some(item) = uuid_of(item) else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE campaign_items SET answered_by = $1, updated_at = $2 \
             WHERE id = $3 AND answered_by IS NULL",
        )
        .bind(answered_by)
        .bind(now())
        .bind(item)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_item(&self, finished: FinishedItem<'_>) -> StoreResult<bool> {
        let Some(item) = uuid_of(finished.item_id) else {
            return Ok(false);
        };
        let session = finished.session_id.and_then(uuid_of);
        retrying_lost_races(true, || self.try_finish_item(item, session, &finished)).await
    }

    async fn set_item_call_sid(&self, item: &str, call_sid: &str) -> StoreResult<()> {
        let Some(item) = uuid_of(item) else {
            return Err(StoreError::NotFound);
        };
        sqlx::query("UPDATE campaign_items SET call_sid = $1, updated_at = $2 WHERE id = $3")
            .bind(call_sid)
            .bind(now())
            .bind(item)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_item_talk_secs(&self, item: &str, secs: i64) -> StoreResult<()> {
        let Some(item) = uuid_of(item) else {
            return Err(StoreError::NotFound);
        };
        sqlx::query("UPDATE campaign_items SET talk_secs = $1, updated_at = $2 WHERE id = $3")
            .bind(secs)
            .bind(now())
            .bind(item)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn item_outcomes(&self, campaign: &str) -> StoreResult<Vec<ItemOutcome>> {
        let Some(campaign) = uuid_of(campaign) else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT {OUTCOME_COLUMNS} FROM campaign_items WHERE campaign_id = $1 ORDER BY position"
        );
        let rows: Vec<OutcomeRow<Uuid, DateTime<Utc>>> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(campaign)
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn end_wrap_up(&self, wrap_up: WrapUp<'_>) -> StoreResult<bool> {
        let Some(session) = uuid_of(wrap_up.session_id) else {
            return Ok(false);
        };
        retrying_lost_races(wrap_up.write.is_some(), || {
            self.try_end_wrap_up(session, &wrap_up)
        })
        .await
    }
}

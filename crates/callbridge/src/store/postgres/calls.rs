use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, Postgres};

use super::{CallRow, LegRow, PgStore, micros, now};
use crate::domain::{AgentId, CallId, CallState, LegRole};
use crate::store::rows::{
    CALL_COLUMNS, LEG_COLUMNS, SEQ_ATTEMPTS, convert, convert_opt, leg_status_rank,
};
use crate::store::{
    Call, CallLeg, CallStore, InboundCall, InboundLeg, LegUpdate, NewCall, NewOutboxRow,
    StoreError, StoreResult,
};

/// Runs an `UPDATE calls SET <one column> = $1, updated_at = $2 WHERE id = $3` whose `$1` is
/// bound already; `NotFound` when there is no such call.
async fn update_one_call<'q>(
    pool: &sqlx::PgPool,
    query: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    id: CallId,
) -> StoreResult<()> {
    let result = query.bind(now()).bind(id.as_uuid()).execute(pool).await?;
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

impl PgStore {
    pub(super) async fn require_call(&self, id: CallId) -> StoreResult<Call> {
        self.call_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    /// The insert of a new call, inside the caller's transaction or connection.
    pub(super) async fn insert_call<'e, E>(executor: E, call: &NewCall) -> StoreResult<CallId>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        let id = CallId::new();
        sqlx::query(
            "INSERT INTO calls (id, agent_id, mode, state, label, recipient, agent_number, \
             conference_name, record, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(id.as_uuid())
        .bind(call.agent_id.as_uuid())
        .bind(call.mode.as_str())
        .bind(CallState::Created.as_str())
        .bind(call.label.clone())
        .bind(call.recipient.as_str())
        .bind(call.agent_endpoint.to_twilio())
        .bind(id.conference_name())
        .bind(call.record)
        .bind(now())
        .execute(executor)
        .await?;
        Ok(id)
    }
}

impl PgStore {
    /// The compare-and-swap of a call's state, inside the caller's transaction. `ended_at`
    /// keeps the first time the call reached a final state, and a final state also frees the
    /// call's Airtable record for its next call: a trigger does it within this statement (see
    /// the migration 0005).
    pub(super) async fn move_call<'e, E>(
        executor: E,
        id: CallId,
        from: &[CallState],
        to: CallState,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        let query = sqlx::query(
            "UPDATE calls SET state = $1, reason = $2, updated_at = $3, \
             ended_at = CASE WHEN $4 THEN COALESCE(ended_at, $3) ELSE ended_at END \
             WHERE id = $5 AND state = ANY($6)",
        )
        .bind(to.as_str())
        .bind(reason.map(str::to_owned))
        .bind(now)
        .bind(to.is_final())
        .bind(id.as_uuid())
        .bind(from.iter().map(CallState::as_str).collect::<Vec<_>>());
        Ok(query.execute(executor).await?.rows_affected() == 1)
    }

    /// The leg's insert or update, inside the caller's transaction or connection (see
    /// `rows::leg_conflict`).
    pub(super) async fn upsert_leg_in<'e, E>(
        executor: E,
        leg: &LegUpdate,
        now: DateTime<Utc>,
    ) -> StoreResult<CallLeg>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        let sql = format!(
            concat!(
                "INSERT INTO call_legs (call_sid, call_id, role, status, status_rank, number, \
             created_at, updated_at, duration_secs) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ",
                crate::store::rows::leg_conflict!(),
                " RETURNING {}"
            ),
            LEG_COLUMNS
        );
        let row: LegRow = sqlx::query_as(AssertSqlSafe(sql))
            .bind(leg.call_sid.as_str())
            .bind(leg.call_id.as_uuid())
            .bind(leg.role.as_str())
            .bind(leg.status.as_str())
            .bind(leg_status_rank(&leg.status))
            .bind(leg.number.to_twilio())
            .bind(now)
            .bind(leg.duration_secs)
            .fetch_one(executor)
            .await?;
        CallLeg::try_from(row)
    }

    async fn try_transition(
        &self,
        id: CallId,
        from: &[CallState],
        to: CallState,
        reason: Option<&str>,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool> {
        let now = now();
        let mut tx = self.begin_write().await?;
        let moved = Self::move_call(&mut *tx, id, from, to, reason, now).await?;
        if moved {
            for effect in effects {
                Self::insert_outbox(&mut *tx, effect, now).await?;
            }
        }
        tx.commit().await?;
        Ok(moved)
    }
}

#[async_trait]
impl CallStore for PgStore {
    async fn create_call(&self, call: NewCall) -> StoreResult<Call> {
        let id = Self::insert_call(&self.pool, &call).await?;
        self.require_call(id).await
    }

    async fn create_inbound_call(
        &self,
        call: NewCall,
        agent_leg: InboundLeg,
    ) -> StoreResult<InboundCall> {
        let mut tx = self.begin_write().await?;
        let id = Self::insert_call(&mut *tx, &call).await?;
        let now = now();
        let inserted = sqlx::query(
            "INSERT INTO call_legs (call_sid, call_id, role, status, status_rank, number, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (call_sid) DO NOTHING",
        )
        .bind(agent_leg.call_sid.as_str())
        .bind(id.as_uuid())
        .bind(LegRole::Agent.as_str())
        .bind(agent_leg.status.as_str())
        .bind(leg_status_rank(&agent_leg.status))
        .bind(call.agent_endpoint.to_twilio())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(InboundCall::Created(self.require_call(id).await?));
        }
        tx.rollback().await?;
        let leg = self
            .leg_by_sid(&agent_leg.call_sid)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(InboundCall::Existing(self.require_call(leg.call_id).await?))
    }

    async fn call_by_id(&self, id: CallId) -> StoreResult<Option<Call>> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        let row: Option<CallRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await?;
        convert_opt(row)
    }

    async fn calls_for_agent(&self, agent: AgentId, limit: u32) -> StoreResult<Vec<Call>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE agent_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<CallRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(agent.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn unfinished_calls(
        &self,
        updated_before: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Call>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE state NOT IN ('completed', 'failed') \
             AND updated_at < $1 ORDER BY updated_at LIMIT $2"
        );
        let rows: Vec<CallRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(micros(updated_before))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn transition_call_queueing(
        &self,
        id: CallId,
        from: &[CallState],
        to: CallState,
        reason: Option<&str>,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool> {
        if from.is_empty() {
            return Ok(false);
        }
        let mut last = None;
        // Another writer may take the next `seq` of the call's effects first; the loser's
        // transaction is rolled back whole and tried again.
        for _ in 0..SEQ_ATTEMPTS {
            match self.try_transition(id, from, to, reason, effects).await {
                Err(StoreError::Conflict(what)) if !effects.is_empty() => last = Some(what),
                other => return other,
            }
        }
        Err(StoreError::Conflict(last.unwrap_or_default()))
    }

    async fn set_conference_sid(&self, id: CallId, conference_sid: &str) -> StoreResult<()> {
        let query =
            sqlx::query("UPDATE calls SET conference_sid = $1, updated_at = $2 WHERE id = $3")
                .bind(conference_sid);
        update_one_call(&self.pool, query, id).await
    }

    async fn upsert_leg(&self, leg: LegUpdate) -> StoreResult<CallLeg> {
        Self::upsert_leg_in(&self.pool, &leg, now()).await
    }

    async fn legs_for_call(&self, id: CallId) -> StoreResult<Vec<CallLeg>> {
        let sql = format!(
            "SELECT {LEG_COLUMNS} FROM call_legs WHERE call_id = $1 \
             ORDER BY created_at, call_sid"
        );
        let rows: Vec<LegRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .fetch_all(&self.pool)
            .await?;
        convert(rows)
    }

    async fn leg_by_sid(&self, call_sid: &str) -> StoreResult<Option<CallLeg>> {
        let sql = format!("SELECT {LEG_COLUMNS} FROM call_legs WHERE call_sid = $1");
        let row: Option<LegRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(call_sid)
            .fetch_optional(&self.pool)
            .await?;
        convert_opt(row)
    }

    async fn set_call_duration(&self, id: CallId, duration_secs: i64) -> StoreResult<()> {
        let query =
            sqlx::query("UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3")
                .bind(duration_secs);
        update_one_call(&self.pool, query, id).await
    }
}

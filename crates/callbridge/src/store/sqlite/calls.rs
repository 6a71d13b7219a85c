use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Sqlite};

use super::native::{select, select_one};
use super::{CallRow, LegRow, SqliteStore, now_ms, placeholders, to_ms};
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
    pool: &sqlx::SqlitePool,
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    id: CallId,
) -> StoreResult<()> {
    let result = query
        .bind(now_ms())
        .bind(id.to_string())
        .execute(pool)
        .await?;
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

impl SqliteStore {
    pub(super) async fn require_call(&self, id: CallId) -> StoreResult<Call> {
        self.call_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    /// The insert of a new call, inside the caller's transaction or connection.
    pub(super) async fn insert_call<'e, E>(executor: E, call: &NewCall) -> StoreResult<CallId>
    where
        E: sqlx::Executor<'e, Database = Sqlite>,
    {
        let id = CallId::new();
        sqlx::query(
            "INSERT INTO calls (id, agent_id, mode, state, label, recipient, agent_number, \
             conference_name, record, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
        )
        .bind(id.to_string())
        .bind(call.agent_id.to_string())
        .bind(call.mode.as_str())
        .bind(CallState::Created.as_str())
        .bind(call.label.clone())
        .bind(call.recipient.as_str())
        .bind(call.agent_endpoint.to_twilio())
        .bind(id.conference_name())
        .bind(call.record)
        .bind(now_ms())
        .execute(executor)
        .await?;
        Ok(id)
    }
}

/// The compare-and-swap of [`SqliteStore::move_call`] from one of `from` states:
/// `$1` the state, `$2` the reason, `$3` the time, `$4` whether the state is final, `$5` the
/// call, then the states it may move from.
pub(super) fn move_call_sql(from: usize) -> String {
    format!(
        "UPDATE calls SET state = $1, reason = $2, updated_at = $3, \
         ended_at = CASE WHEN $4 = 1 THEN COALESCE(ended_at, $3) ELSE ended_at END \
         WHERE id = $5 AND state IN ({})",
        placeholders(6, from)
    )
}

/// See [`SqliteStore::upsert_leg_in`].
pub(super) const UPSERT_LEG: &str = concat!(
    "INSERT INTO call_legs (call_sid, call_id, role, status, status_rank, number, created_at, \
     updated_at, duration_secs) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ",
    crate::store::rows::leg_conflict!()
);

impl SqliteStore {
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
        now: i64,
    ) -> StoreResult<bool>
    where
        E: sqlx::Executor<'e, Database = Sqlite>,
    {
        let mut query = sqlx::query(AssertSqlSafe(move_call_sql(from.len())))
            .bind(to.as_str())
            .bind(reason.map(str::to_owned))
            .bind(now)
            .bind(to.is_final())
            .bind(id.to_string());
        for state in from {
            query = query.bind(state.as_str());
        }
        Ok(query.execute(executor).await?.rows_affected() == 1)
    }

    /// The leg's insert or update, inside the caller's transaction or connection. A later
    /// callback without a duration must not erase one we already have, and a late callback
    /// (Twilio does not promise order) must not move the status back.
    pub(super) async fn upsert_leg_in<'e, E>(
        executor: E,
        leg: &LegUpdate,
        now: i64,
    ) -> StoreResult<CallLeg>
    where
        E: sqlx::Executor<'e, Database = Sqlite>,
    {
        let sql = format!("{UPSERT_LEG} RETURNING {LEG_COLUMNS}");
        let row: LegRow = sqlx::query_as(AssertSqlSafe(sql))
            .bind(leg.call_sid.as_str())
            .bind(leg.call_id.to_string())
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
        let now = now_ms();
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
impl CallStore for SqliteStore {
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
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO call_legs (call_sid, call_id, role, status, status_rank, number, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) \
             ON CONFLICT (call_sid) DO NOTHING",
        )
        .bind(agent_leg.call_sid.as_str())
        .bind(id.to_string())
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
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1"));
        let id = id.to_string();
        self.inline
            .read(|conn| convert_opt(select_one::<CallRow>(conn, &SQL, &[&id])?))
            .await
    }

    async fn calls_for_agent(&self, agent: AgentId, limit: u32) -> StoreResult<Vec<Call>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE agent_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        let rows: Vec<CallRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(agent.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
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
            .bind(to_ms(updated_before))
            .bind(i64::from(limit))
            .fetch_all(&self.readers)
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
        Self::upsert_leg_in(&self.pool, &leg, now_ms()).await
    }

    async fn legs_for_call(&self, id: CallId) -> StoreResult<Vec<CallLeg>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {LEG_COLUMNS} FROM call_legs WHERE call_id = $1 \
                 ORDER BY created_at, call_sid"
            )
        });
        let id = id.to_string();
        self.inline
            .read(|conn| convert(select::<LegRow>(conn, &SQL, &[&id])?))
            .await
    }

    async fn leg_by_sid(&self, call_sid: &str) -> StoreResult<Option<CallLeg>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| format!("SELECT {LEG_COLUMNS} FROM call_legs WHERE call_sid = $1"));
        self.inline
            .read(|conn| convert_opt(select_one::<LegRow>(conn, &SQL, &[&call_sid])?))
            .await
    }

    async fn set_call_duration(&self, id: CallId, duration_secs: i64) -> StoreResult<()> {
        let query =
            sqlx::query("UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3")
                .bind(duration_secs);
        update_one_call(&self.pool, query, id).await
    }
}

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::rows::{Columns, flag, now_ms, placeholders};
use crate::domain::{AgentId, CallId, CallState, LegRole};
use crate::store::{
    Call, CallLeg, CallStore, InboundCall, InboundLeg, LegUpdate, NewCall, NewOutboxRow,
    StoreError, StoreResult,
};

pub(super) const CALL_COLUMNS: &str = "id, agent_id, mode, state, reason, label, recipient, \
                                       agent_number, conference_name, conference_sid, record, \
                                       created_at, updated_at, ended_at, duration_secs";

pub(super) const LEG_COLUMNS: &str =
    "call_id, role, call_sid, status, number, created_at, updated_at, duration_secs";

pub(super) fn call_from_row(row: &AnyRow) -> StoreResult<Call> {
    let c = Columns::new(row, "calls");
    Ok(Call {
        id: c.parsed("id")?,
        agent_id: c.parsed("agent_id")?,
        mode: c.parsed("mode")?,
        state: c.parsed("state")?,
        reason: c.opt_text("reason")?,
        label: c.opt_text("label")?,
        recipient: c.parsed("recipient")?,
        agent_endpoint: c.parsed("agent_number")?,
        conference_name: c.text("conference_name")?,
        conference_sid: c.opt_text("conference_sid")?,
        record: c.flag("record")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
        ended_at: c.opt_time("ended_at")?,
        duration_secs: c.opt_int("duration_secs")?,
    })
}

pub(super) fn leg_from_row(row: &AnyRow) -> StoreResult<CallLeg> {
    let c = Columns::new(row, "call_legs");
    Ok(CallLeg {
        call_id: c.parsed("call_id")?,
        role: c.parsed("role")?,
        call_sid: c.text("call_sid")?,
        status: c.text("status")?,
        number: c.parsed("number")?,
        created_at: c.time("created_at")?,
        updated_at: c.time("updated_at")?,
        duration_secs: c.opt_int("duration_secs")?,
    })
}

/// Twilio's CallStatus values in the order a call goes through them; every final status ranks
/// the same, and an unknown one ranks lowest so it never hides a known one.
pub(super) fn leg_status_rank(status: &str) -> i64 {
    match status {
        "queued" => 0,
        "initiated" => 1,
        "ringing" => 2,
        "in-progress" | "answered" => 3,
        "completed" | "busy" | "no-answer" | "failed" | "canceled" => 4,
        _ => 0,
    }
}

/// Runs an `UPDATE calls SET <one column> = $1, updated_at = $2 WHERE id = $3` whose `$1` is
/// bound already; `NotFound` when there is no such call.
async fn update_one_call<'q>(
    pool: &sqlx::AnyPool,
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
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

impl SqlStore {
    pub(super) async fn require_call(&self, id: CallId) -> StoreResult<Call> {
        self.call_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    /// The insert of a new call, inside the caller's transaction or connection.
    pub(super) async fn insert_call<'e, E>(executor: E, call: &NewCall) -> StoreResult<CallId>
    where
        E: sqlx::Executor<'e, Database = sqlx::Any>,
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
        .bind(flag(call.record))
        .bind(now_ms())
        .execute(executor)
        .await?;
        Ok(id)
    }
}

/// A lost race for an effect's `seq` is tried again this many times.
const TRANSITION_ATTEMPTS: usize = 5;

impl SqlStore {
    async fn try_transition(
        &self,
        id: CallId,
        from: &[CallState],
        to: CallState,
        reason: Option<&str>,
        effects: &[NewOutboxRow],
    ) -> StoreResult<bool> {
        // ended_at keeps the first time the call reached a final state.
        let sql = format!(
            "UPDATE calls SET state = $1, reason = $2, updated_at = $3, \
             ended_at = CASE WHEN $4 = 1 THEN COALESCE(ended_at, $3) ELSE ended_at END \
             WHERE id = $5 AND state IN ({})",
            placeholders(6, from.len())
        );
        let now = now_ms();
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(reason.map(str::to_owned))
            .bind(now)
            .bind(flag(to.is_final()))
            .bind(id.to_string());
        for state in from {
            query = query.bind(state.as_str());
        }
        let mut tx = self.begin_write().await?;
        // A final state also frees the call's Airtable record for its next call: a trigger
        // does it within this statement (see the migration 0005).
        let moved = query.execute(&mut *tx).await?.rows_affected() == 1;
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
impl CallStore for SqlStore {
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
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(call_from_row)
            .transpose()
    }

    async fn calls_for_agent(&self, agent: AgentId, limit: u32) -> StoreResult<Vec<Call>> {
        let sql = format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE agent_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(agent.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(call_from_row)
            .collect()
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
        sqlx::query(AssertSqlSafe(sql))
            .bind(super::rows::to_ms(updated_before))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(call_from_row)
            .collect()
    }

    async fn set_call_state(
        &self,
        id: CallId,
        state: CallState,
        reason: Option<&str>,
    ) -> StoreResult<Call> {
        let done = self
            .transition_call(id, CallState::ALL, state, reason)
            .await?;
        if !done {
            return Err(StoreError::NotFound);
        }
        self.require_call(id).await
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
        for _ in 0..TRANSITION_ATTEMPTS {
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
        let now = now_ms();
        let rank = leg_status_rank(&leg.status);
        // A later callback without a duration must not erase one we already have, and a late
        // callback (Twilio does not promise order) must not move the status back.
        sqlx::query(
            "INSERT INTO call_legs (call_sid, call_id, role, status, status_rank, number, \
             created_at, updated_at, duration_secs) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
             ON CONFLICT (call_sid) DO UPDATE SET \
             status = CASE WHEN excluded.status_rank >= call_legs.status_rank \
                      THEN excluded.status ELSE call_legs.status END, \
             status_rank = CASE WHEN excluded.status_rank >= call_legs.status_rank \
                      THEN excluded.status_rank ELSE call_legs.status_rank END, \
             updated_at = excluded.updated_at, \
             duration_secs = COALESCE(excluded.duration_secs, call_legs.duration_secs)",
        )
        .bind(leg.call_sid.as_str())
        .bind(leg.call_id.to_string())
        .bind(leg.role.as_str())
        .bind(leg.status.as_str())
        .bind(rank)
        .bind(leg.number.to_twilio())
        .bind(now)
        .bind(leg.duration_secs)
        .execute(&self.pool)
        .await?;
        let sql = format!("SELECT {LEG_COLUMNS} FROM call_legs WHERE call_sid = $1");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(leg.call_sid.as_str())
            .fetch_one(&self.pool)
            .await?;
        leg_from_row(&row)
    }

    async fn legs_for_call(&self, id: CallId) -> StoreResult<Vec<CallLeg>> {
        let sql = format!(
            "SELECT {LEG_COLUMNS} FROM call_legs WHERE call_id = $1 \
             ORDER BY created_at, call_sid"
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(leg_from_row)
            .collect()
    }

    async fn leg_by_sid(&self, call_sid: &str) -> StoreResult<Option<CallLeg>> {
        let sql = format!("SELECT {LEG_COLUMNS} FROM call_legs WHERE call_sid = $1");
        sqlx::query(AssertSqlSafe(sql))
            .bind(call_sid)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(leg_from_row)
            .transpose()
    }

    async fn set_call_duration(&self, id: CallId, duration_secs: i64) -> StoreResult<()> {
        let query =
            sqlx::query("UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3")
                .bind(duration_secs);
        update_one_call(&self.pool, query, id).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::leg_status_rank;
    use crate::domain::{CallMode, CallState, ClientIdentity, LegRole, PhoneNumber};
    use crate::store::testing::{TestDatabase, fixture_agent, fixture_agent_call};
    use crate::store::{AgentStore, CallStore, InboundCall, InboundLeg, LegUpdate, NewCall, Store};

    fn browser_call(agent: &crate::store::Agent) -> NewCall {
        NewCall {
            agent_id: agent.id,
            mode: CallMode::Browser,
            recipient: PhoneNumber::parse("+12025550123").unwrap(),
            agent_endpoint: ClientIdentity::for_agent(agent.id).into(),
            label: Some("from the browser".into()),
            record: true,
        }
    }

    fn inbound(sid: &str) -> InboundLeg {
        InboundLeg {
            call_sid: sid.into(),
            status: "in-progress".into(),
        }
    }

    #[tokio::test]
    async fn a_browsers_call_is_stored_with_its_leg_once_however_often_twilio_asks() {
        for db in TestDatabase::all().await {
            let store: Arc<dyn Store> = Arc::new(db.store().await);
            let agent = fixture_agent(store.as_ref(), "web@example.com", "+14155550100").await;
            let attempts = (0..8).map(|_| {
                let (store, agent) = (Arc::clone(&store), agent.clone());
                tokio::spawn(async move {
                    store
                        .create_inbound_call(browser_call(&agent), inbound("CAbrowser"))
                        .await
                        .unwrap()
                })
            });
            let results = futures::future::join_all(attempts).await;
            let created: Vec<_> = results
                .iter()
                .filter_map(|r| match r.as_ref().unwrap() {
                    InboundCall::Created(call) => Some(call.clone()),
                    InboundCall::Existing(_) => None,
                })
                .collect();
            assert_eq!(created.len(), 1, "{:?}", db.backend());
            let call = &created[0];
            for result in &results {
                if let InboundCall::Existing(existing) = result.as_ref().unwrap() {
                    assert_eq!(existing.id, call.id);
                }
            }
            assert_eq!(call.mode, CallMode::Browser);
            assert_eq!(call.state, CallState::Created);
            assert_eq!(
                call.agent_endpoint,
                ClientIdentity::for_agent(agent.id).into()
            );
            let legs = store.legs_for_call(call.id).await.unwrap();
            assert_eq!(legs.len(), 1);
            assert_eq!(legs[0].role, LegRole::Agent);
            assert_eq!(
                legs[0].number.to_twilio(),
                format!("client:{}", ClientIdentity::for_agent(agent.id))
            );
            let found = store.leg_by_sid("CAbrowser").await.unwrap().unwrap();
            assert_eq!(found.call_id, call.id);
            assert!(store.leg_by_sid("CAnobody").await.unwrap().is_none());
        }
    }

    #[tokio::test]
    async fn an_agent_keeps_the_mode_they_chose() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let agent = fixture_agent(&store, "mode@example.com", "+14155550100").await;
            assert_eq!(agent.default_mode, CallMode::Phone);
            let changed = store
                .set_default_mode(agent.id, CallMode::Browser)
                .await
                .unwrap();
            assert_eq!(changed.default_mode, CallMode::Browser);
            let read = store.agent_by_id(agent.id).await.unwrap().unwrap();
            assert_eq!(read.default_mode, CallMode::Browser);
            let nobody = store
                .set_default_mode(crate::domain::AgentId::new(), CallMode::Phone)
                .await;
            assert!(matches!(nobody, Err(crate::store::StoreError::NotFound)));
        }
    }

    #[tokio::test]
    async fn a_late_leg_status_never_moves_the_leg_back() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = fixture_agent_call(&store, "legs@example.com").await;
            let leg = |status: &str| LegUpdate {
                call_id: call.id,
                role: LegRole::Recipient,
                call_sid: "CArecipient".into(),
                status: status.into(),
                number: call.recipient.clone().into(),
                duration_secs: None,
            };
            store.upsert_leg(leg("in-progress")).await.unwrap();
            let done = store
                .upsert_leg(LegUpdate {
                    duration_secs: Some(12),
                    ..leg("completed")
                })
                .await
                .unwrap();
            assert_eq!(done.status, "completed");
            for late in ["ringing", "initiated", "queued", "in-progress"] {
                let after = store.upsert_leg(leg(late)).await.unwrap();
                assert_eq!(after.status, "completed", "{late} on {:?}", db.backend());
                assert_eq!(after.duration_secs, Some(12));
            }
        }
    }

    #[tokio::test]
    async fn the_duration_is_stored_in_any_state() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = fixture_agent_call(&store, "legs@example.com").await;
            store.set_call_duration(call.id, 31).await.unwrap();
            store
                .transition_call(call.id, &[CallState::Created], CallState::Completed, None)
                .await
                .unwrap();
            let read = store.call_by_id(call.id).await.unwrap().unwrap();
            assert_eq!(read.duration_secs, Some(31));
            assert_eq!(read.state, CallState::Completed);
            assert!(
                store
                    .set_call_duration(crate::domain::CallId::new(), 1)
                    .await
                    .is_err()
            );
        }
    }

    #[test]
    fn leg_statuses_rank_in_the_order_a_call_lives_them() {
        let order = ["queued", "initiated", "ringing", "in-progress", "completed"];
        for pair in order.windows(2) {
            assert!(
                leg_status_rank(pair[0]) < leg_status_rank(pair[1]),
                "{pair:?}"
            );
        }
        for last in ["busy", "no-answer", "failed", "canceled"] {
            assert_eq!(leg_status_rank(last), leg_status_rank("completed"));
        }
    }
}

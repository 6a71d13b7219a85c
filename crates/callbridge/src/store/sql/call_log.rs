use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::agents::{AGENT_COLUMNS, agent_from_row};
use super::calls::{CALL_COLUMNS, LEG_COLUMNS, call_from_row, leg_from_row};
use super::events::{EVENT_COLUMNS, event_from_row};
use super::recordings::{RECORDING_COLUMNS, recording_from_row};
use super::rows::{placeholders, to_ms};
use crate::domain::CallId;
use crate::store::{Call, CallDetails, CallLogStore, CallPageQuery, StoreResult};

impl SqlStore {
    /// The rows of `table` whose `column` is one of `keys`, in `order`; no query for no keys.
    async fn rows_with_any_of<T>(
        conn: &mut AnyConnection,
        columns: &str,
        table: &str,
        column: &str,
        keys: &BTreeSet<String>,
        order: &str,
        from_row: fn(&AnyRow) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {columns} FROM {table} WHERE {column} IN ({}) ORDER BY {order}",
            placeholders(1, keys.len())
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for key in keys {
            query = query.bind(key.as_str());
        }
        query
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    /// The details of `calls` on one connection: a busy pool is queued for once, not per table.
    async fn details_on(conn: &mut AnyConnection, calls: &[Call]) -> StoreResult<CallDetails> {
        let ids: BTreeSet<String> = calls.iter().map(|c| c.id.to_string()).collect();
        let agents: BTreeSet<String> = calls.iter().map(|c| c.agent_id.to_string()).collect();
        // The orders are the single-call reads' ones, after the call that groups them.
        Ok(CallDetails {
            agents: Self::rows_with_any_of(
                conn,
                AGENT_COLUMNS,
                "agents",
                "id",
                &agents,
                "id",
                agent_from_row,
            )
            .await?,
            legs: Self::rows_with_any_of(
                conn,
                LEG_COLUMNS,
                "call_legs",
                "call_id",
                &ids,
                "call_id, created_at, call_sid",
                leg_from_row,
            )
            .await?,
            events: Self::rows_with_any_of(
                conn,
                EVENT_COLUMNS,
                "call_events",
                "call_id",
                &ids,
                "call_id, received_at, id",
                event_from_row,
            )
            .await?,
            recordings: Self::rows_with_any_of(
                conn,
                RECORDING_COLUMNS,
                "recordings",
                "call_id",
                &ids,
                "call_id, created_at, sid",
                recording_from_row,
            )
            .await?,
        })
    }
}

#[async_trait]
impl CallLogStore for SqlStore {
    async fn calls_page(&self, query: &CallPageQuery) -> StoreResult<Vec<Call>> {
        let mut sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE agent_id = $1");
        let mut next = 2;
        if query.before.is_some() {
            // Keyset pagination on the sort key: stable while new calls arrive at the top.
            sql.push_str(&format!(
                " AND (created_at < ${a} OR (created_at = ${a} AND id < ${b}))",
                a = next,
                b = next + 1
            ));
            next += 2;
        }
        if !query.states.is_empty() {
            let list = placeholders(next, query.states.len());
            sql.push_str(&format!(" AND state IN ({list})"));
            next += query.states.len();
        }
        if query.since.is_some() {
            sql.push_str(&format!(" AND created_at >= ${next}"));
            next += 1;
        }
        if query.until.is_some() {
            sql.push_str(&format!(" AND created_at < ${next}"));
            next += 1;
        }
        let digits = query
            .number_digits
            .as_deref()
            .map(|d| d.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|d| !d.is_empty());
        if digits.is_some() {
            sql.push_str(&format!(" AND recipient LIKE ${next}"));
            next += 1;
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${next}"));

        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(query.agent.to_string());
        if let Some(cursor) = &query.before {
            q = q.bind(to_ms(cursor.created_at)).bind(cursor.id.to_string());
        }
        for state in &query.states {
            q = q.bind(state.as_str());
        }
        if let Some(since) = query.since {
            q = q.bind(to_ms(since));
        }
        if let Some(until) = query.until {
            q = q.bind(to_ms(until));
        }
        if let Some(digits) = digits {
            // Digits only, so no LIKE wildcard can come from the caller.
            q = q.bind(format!("%{digits}%"));
        }
        q.bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(call_from_row)
            .collect()
    }

    async fn call_details(&self, calls: &[Call]) -> StoreResult<CallDetails> {
        let mut conn = self.pool.acquire().await?;
        Self::details_on(&mut conn, calls).await
    }

    async fn call_snapshot(&self, id: CallId) -> StoreResult<Option<(Call, CallDetails)>> {
        // The call and its legs and events as of one moment, so a leg shown ended always
        // comes with the duration written before it ended.
        let mut tx = self.begin_snapshot().await?;
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        let Some(row) = sqlx::query(AssertSqlSafe(sql))
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let call = call_from_row(&row)?;
        let details = Self::details_on(&mut tx, std::slice::from_ref(&call)).await?;
        tx.commit().await?;
        Ok(Some((call, details)))
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{CallId, CallState, EmailAddress, EventSource, LegRole, PhoneNumber};
    use crate::store::testing::TestDatabase;
    use crate::store::{AgentStore, CallCursor, CallLogStore, CallPageQuery, CallStore};
    use crate::store::{EventStore, LegUpdate, NewAgent, NewCall, NewEvent};

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    #[tokio::test]
    async fn pages_walk_the_log_newest_first_without_gaps_or_repeats() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let mut agents = Vec::new();
            for (email, number) in [
                ("a@example.com", "+14155550111"),
                ("b@example.com", "+14155550122"),
            ] {
                agents.push(
                    store
                        .insert_agent(NewAgent {
                            email: EmailAddress::parse(email).unwrap(),
                            email_verified_at: None,
                            phone: Some(phone(number)),
                            phone_verified_at: None,
                            record_by_default: false,
                        })
                        .await
                        .unwrap(),
                );
            }
            let mut mine = Vec::new();
            for n in 0..7 {
                for agent in &agents {
                    let call = store
                        .create_call(NewCall {
                            mode: crate::domain::CallMode::Phone,
                            agent_id: agent.id,
                            recipient: phone("+12025550123"),
                            agent_endpoint: agent.phone.clone().unwrap().into(),
                            label: Some(format!("{n}")),
                            record: false,
                        })
                        .await
                        .unwrap();
                    if agent.id == agents[0].id {
                        mine.push(call);
                    }
                }
            }
            store
                .set_call_state(mine[2].id, CallState::Failed, Some("agent_busy"))
                .await
                .unwrap();
            mine.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));

            let mut query = CallPageQuery {
                since: None,
                until: None,
                number_digits: None,
                agent: agents[0].id,
                states: Vec::new(),
                before: None,
                limit: 3,
            };
            let mut walked = Vec::new();
            loop {
                let page = store.calls_page(&query).await.unwrap();
                let Some(last) = page.last() else { break };
                query.before = Some(CallCursor {
                    created_at: last.created_at,
                    id: last.id,
                });
                walked.extend(page.iter().map(|c| c.id));
            }
            let expected: Vec<_> = mine.iter().map(|c| c.id).collect();
            assert_eq!(walked, expected, "{}", db.backend().as_str());

            let failed = store
                .calls_page(&CallPageQuery {
                    since: None,
                    until: None,
                    number_digits: None,
                    agent: agents[0].id,
                    states: vec![CallState::Failed, CallState::Completed],
                    before: None,
                    limit: 10,
                })
                .await
                .unwrap();
            assert_eq!(failed.len(), 1, "{}", db.backend().as_str());
            assert_eq!(failed[0].reason.as_deref(), Some("agent_busy"));
        }
    }

    #[tokio::test]
    async fn a_snapshot_is_the_call_with_its_legs_events_and_agent_or_none() {
        for db in TestDatabase::all().await {
            let store = db.store().await;
            let call = crate::store::testing::fixture_agent_call(&store, "snap@example.com").await;
            store
                .upsert_leg(LegUpdate {
                    call_id: call.id,
                    role: LegRole::Agent,
                    call_sid: "CA00000000000000000000000000000001".into(),
                    status: "ringing".into(),
                    number: call.agent_endpoint.clone(),
                    duration_secs: None,
                })
                .await
                .unwrap();
            store
                .record_event(NewEvent {
                    call_id: call.id,
                    source: EventSource::Call,
                    kind: "ringing".into(),
                    call_sid: Some("CA00000000000000000000000000000001".into()),
                    dedupe_key: "snap-1".into(),
                    sequence_number: Some(0),
                    payload: serde_json::json!({"CallStatus": "ringing"}),
                    received_at: chrono::Utc::now(),
                })
                .await
                .unwrap();
            let backend = db.backend().as_str();

            let (read, details) = store.call_snapshot(call.id).await.unwrap().unwrap();
            assert_eq!(read.id, call.id, "{backend}");
            assert_eq!(details.agents.len(), 1, "{backend}");
            assert_eq!(details.agents[0].id, call.agent_id, "{backend}");
            assert_eq!(details.legs.len(), 1, "{backend}");
            assert_eq!(details.legs[0].status, "ringing", "{backend}");
            assert_eq!(details.events.len(), 1, "{backend}");
            assert!(details.recordings.is_empty(), "{backend}");

            assert!(
                store.call_snapshot(CallId::new()).await.unwrap().is_none(),
                "{backend}"
            );
        }
    }
}

use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use super::SqlStore;
use super::agents::{AGENT_COLUMNS, agent_from_row};
use super::calls::{CALL_COLUMNS, LEG_COLUMNS, call_from_row, leg_from_row};
use super::events::{EVENT_COLUMNS, event_from_row};
use super::recordings::{RECORDING_COLUMNS, recording_from_row};
use super::rows::{placeholders, to_ms};
use crate::store::{Call, CallDetails, CallLogStore, CallPageQuery, StoreResult};

impl SqlStore {
    /// The rows of `table` whose `column` is one of `keys`, in `order`; no query for no keys.
    async fn rows_with_any_of<T>(
        &self,
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
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(from_row)
            .collect()
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
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT ${next}"));

        let mut q = sqlx::query(AssertSqlSafe(sql)).bind(query.agent.to_string());
        if let Some(cursor) = &query.before {
            q = q.bind(to_ms(cursor.created_at)).bind(cursor.id.to_string());
        }
        for state in &query.states {
            q = q.bind(state.as_str());
        }
        q.bind(i64::from(query.limit))
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(call_from_row)
            .collect()
    }

    async fn call_details(&self, calls: &[Call]) -> StoreResult<CallDetails> {
        let ids: BTreeSet<String> = calls.iter().map(|c| c.id.to_string()).collect();
        let agents: BTreeSet<String> = calls.iter().map(|c| c.agent_id.to_string()).collect();
        // The orders are the single-call reads' ones, after the call that groups them.
        Ok(CallDetails {
            agents: self
                .rows_with_any_of(AGENT_COLUMNS, "agents", "id", &agents, "id", agent_from_row)
                .await?,
            legs: self
                .rows_with_any_of(
                    LEG_COLUMNS,
                    "call_legs",
                    "call_id",
                    &ids,
                    "call_id, created_at, call_sid",
                    leg_from_row,
                )
                .await?,
            events: self
                .rows_with_any_of(
                    EVENT_COLUMNS,
                    "call_events",
                    "call_id",
                    &ids,
                    "call_id, received_at, id",
                    event_from_row,
                )
                .await?,
            recordings: self
                .rows_with_any_of(
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

#[cfg(test)]
mod tests {
    use crate::domain::{CallState, EmailAddress, PhoneNumber};
    use crate::store::testing::TestDatabase;
    use crate::store::{AgentStore, CallCursor, CallLogStore, CallPageQuery, CallStore};
    use crate::store::{NewAgent, NewCall};

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
                            agent_id: agent.id,
                            recipient: phone("+12025550123"),
                            agent_number: agent.phone.clone().unwrap(),
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
}

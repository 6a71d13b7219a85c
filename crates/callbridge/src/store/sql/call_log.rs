use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::SqlStore;
use super::calls::{CALL_COLUMNS, call_from_row};
use super::rows::to_ms;
use crate::store::{Call, CallLogStore, CallPageQuery, StoreResult};

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
            let list = (next..next + query.states.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
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
}

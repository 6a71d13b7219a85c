use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use super::{AgentRow, CallRow, EventRow, LegRow, PgStore, RecordingRow, micros};
use crate::domain::{CallId, CallState};
use crate::store::rows::{
    AGENT_COLUMNS, CALL_COLUMNS, EVENT_COLUMNS, LEG_COLUMNS, RECORDING_COLUMNS, convert,
    convert_opt, cut_to_page, newest_events_sql,
};
use crate::store::{
    Call, CallDetails, CallEvent, CallLogStore, CallPageQuery, StoreError, StoreResult,
};

/// The rows of `table` whose `column` is one of `keys`, in `order`; no query for no keys.
async fn rows_with_any_of<R, T>(
    conn: &mut PgConnection,
    columns: &str,
    table: &str,
    column: &str,
    keys: &BTreeSet<Uuid>,
    order: &str,
) -> StoreResult<Vec<T>>
where
    R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    T: TryFrom<R, Error = StoreError>,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {columns} FROM {table} WHERE {column} = ANY($1) ORDER BY {order}");
    let rows: Vec<R> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(keys.iter().copied().collect::<Vec<_>>())
        .fetch_all(&mut *conn)
        .await?;
    convert(rows)
}

/// The details of `calls` on one connection: a busy pool is queued for once, not per table.
async fn details_on(
    conn: &mut PgConnection,
    calls: &[Call],
    events: EventsRead,
) -> StoreResult<CallDetails> {
    let ids: BTreeSet<Uuid> = calls.iter().map(|c| c.id.as_uuid()).collect();
    let agents: BTreeSet<Uuid> = calls.iter().map(|c| c.agent_id.as_uuid()).collect();
    let (events, events_cut) = match events {
        EventsRead::All => (
            rows_with_any_of::<EventRow, _>(
                conn,
                EVENT_COLUMNS,
                "call_events",
                "call_id",
                &ids,
                "call_id, received_at, id",
            )
            .await?,
            Vec::new(),
        ),
        EventsRead::NewestOfEach => cut_to_page(newest_events(conn, calls).await?),
    };
    // The orders are the single-call reads' ones, after the call that groups them.
    Ok(CallDetails {
        events,
        events_cut,
        agents: rows_with_any_of::<AgentRow, _>(conn, AGENT_COLUMNS, "agents", "id", &agents, "id")
            .await?,
        legs: rows_with_any_of::<LegRow, _>(
            conn,
            LEG_COLUMNS,
            "call_legs",
            "call_id",
            &ids,
            "call_id, created_at, call_sid",
        )
        .await?,
        recordings: rows_with_any_of::<RecordingRow, _>(
            conn,
            RECORDING_COLUMNS,
            "recordings",
            "call_id",
            &ids,
            "call_id, created_at, sid",
        )
        .await?,
    })
}

/// A page's payload of an event: a conference event's hold and mute flags, when it has them, and
/// `{}` for anything else (see [`crate::store::rows::page_event_columns`]).
const PARTY_FLAGS: &str = "CASE WHEN source = 'conference' AND payload ? 'Hold' \
     THEN jsonb_build_object('Hold', payload -> 'Hold', 'Muted', payload -> 'Muted') \
     ELSE '{}'::jsonb END";

/// Which of their events the details of calls hold.
enum EventsRead {
    All,
    /// A page's: see [`newest_events_sql`].
    NewestOfEach,
}

async fn newest_events(conn: &mut PgConnection, calls: &[Call]) -> StoreResult<Vec<CallEvent>> {
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    let sql = newest_events_sql(calls.len(), PARTY_FLAGS);
    let mut query = sqlx::query_as::<_, EventRow>(AssertSqlSafe(sql));
    for c in calls {
        query = query.bind(c.id.as_uuid());
    }
    convert(query.fetch_all(&mut *conn).await?)
}

#[async_trait]
impl CallLogStore for PgStore {
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
            sql.push_str(&format!(" AND state = ANY(${next})"));
            next += 1;
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

        let mut q = sqlx::query_as::<_, CallRow>(AssertSqlSafe(sql)).bind(query.agent.as_uuid());
        if let Some(cursor) = &query.before {
            q = q.bind(micros(cursor.created_at)).bind(cursor.id.as_uuid());
        }
        if !query.states.is_empty() {
            q = q.bind(
                query
                    .states
                    .iter()
                    .map(CallState::as_str)
                    .collect::<Vec<_>>(),
            );
        }
        if let Some(since) = query.since {
            q = q.bind(micros(since));
        }
        if let Some(until) = query.until {
            q = q.bind(micros(until));
        }
        if let Some(digits) = digits {
            // Digits only, so no LIKE wildcard can come from the caller.
            q = q.bind(format!("%{digits}%"));
        }
        convert(q.bind(i64::from(query.limit)).fetch_all(&self.pool).await?)
    }

    async fn call_details(&self, calls: &[Call]) -> StoreResult<CallDetails> {
        let mut conn = self.pool.acquire().await?;
        details_on(&mut conn, calls, EventsRead::NewestOfEach).await
    }

    async fn call_snapshot(&self, id: CallId) -> StoreResult<Option<(Call, CallDetails)>> {
        // The call and its legs and events as of one moment, so a leg shown ended always
        // comes with the duration written before it ended.
        let mut tx = self.begin_snapshot().await?;
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        let row: Option<CallRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id.as_uuid())
            .fetch_optional(&mut *tx)
            .await?;
        let Some(call) = convert_opt(row)? else {
            return Ok(None);
        };
        let details = details_on(&mut tx, std::slice::from_ref(&call), EventsRead::All).await?;
        tx.commit().await?;
        Ok(Some((call, details)))
    }
}

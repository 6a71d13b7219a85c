use std::collections::BTreeSet;
use std::sync::LazyLock;

use async_trait::async_trait;
use rusqlite::{Connection, ToSql};

use super::native::{Begin, in_transaction, select, select_into, select_one};
use super::{AgentRow, CallRow, EventRow, LegRow, RecordingRow, SqliteStore, placeholders, to_ms};
use crate::domain::CallId;
use crate::store::rows::{
    AGENT_COLUMNS, CALL_COLUMNS, EVENT_COLUMNS, EVENTS_PER_CALL_IN_A_PAGE, FromNative, LEG_COLUMNS,
    RECORDING_COLUMNS, convert, convert_opt, cut_to_page, page_event_columns,
};
use crate::store::{
    Call, CallDetails, CallEvent, CallLogStore, CallPageQuery, StoreError, StoreResult,
};

/// The most calls whose details are read in place (see `inline.rs`): a default page's, whose
/// reads take well under a millisecond; a longer page's are read aside.
const READ_IN_PLACE: usize = 20;

/// The rows of `table` whose `column` is one of `keys`, in `order`; no query for no keys.
fn rows_with_any_of<R, T>(
    conn: &Connection,
    columns: &str,
    table: &str,
    column: &str,
    keys: &BTreeSet<String>,
    order: &str,
) -> StoreResult<Vec<T>>
where
    R: FromNative,
    T: TryFrom<R, Error = StoreError>,
{
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {columns} FROM {table} WHERE {column} IN ({}) ORDER BY {order}",
        placeholders(1, keys.len())
    );
    let values: Vec<&dyn ToSql> = keys.iter().map(|key| key as &dyn ToSql).collect();
    let mut rows = Vec::with_capacity(keys.len());
    select_into::<R, T>(conn, &sql, &values, &mut rows)?;
    Ok(rows)
}

/// The details of `calls`, read on one connection.
fn details_on(conn: &Connection, calls: &[Call], events: EventsRead) -> StoreResult<CallDetails> {
    let ids: BTreeSet<String> = calls.iter().map(|c| c.id.to_string()).collect();
    let agents: BTreeSet<String> = calls.iter().map(|c| c.agent_id.to_string()).collect();
    let (events, events_cut) = match events {
        EventsRead::All => (
            rows_with_any_of::<EventRow, _>(
                conn,
                EVENT_COLUMNS,
                "call_events",
                "call_id",
                &ids,
                "call_id, received_at, id",
            )?,
            Vec::new(),
        ),
        EventsRead::NewestOfEach => cut_to_page(newest_events(conn, calls)?),
    };
    // The orders are the single-call reads' ones, after the call that groups them.
    Ok(CallDetails {
        events,
        events_cut,
        agents: rows_with_any_of::<AgentRow, _>(
            conn,
            AGENT_COLUMNS,
            "agents",
            "id",
            &agents,
            "id",
        )?,
        legs: rows_with_any_of::<LegRow, _>(
            conn,
            LEG_COLUMNS,
            "call_legs",
            "call_id",
            &ids,
            "call_id, created_at, call_sid",
        )?,
        recordings: rows_with_any_of::<RecordingRow, _>(
            conn,
            RECORDING_COLUMNS,
            "recordings",
            "call_id",
            &ids,
            "call_id, created_at, sid",
        )?,
    })
}

/// A page's details, its statements (one for each call's events, and one for each kind of
/// row) in one read transaction: one snapshot for all of them, and one take and release of the
/// WAL's read lock, a system call each, instead of one of each per statement.
fn page_details_on(conn: &Connection, calls: &[Call]) -> StoreResult<CallDetails> {
    in_transaction(conn, Begin::Deferred, |tx| {
        details_on(tx, calls, EventsRead::NewestOfEach)
    })
}

/// A page's payload of an event: a conference event's hold and mute flags, when it has them, and
/// `{}` for anything else (see [`page_event_columns`]). `->` keeps each flag's JSON type.
const PARTY_FLAGS: &str = "CASE WHEN source = 'conference' AND payload -> '$.Hold' IS NOT NULL \
     THEN json_object('Hold', payload -> '$.Hold', 'Muted', payload -> '$.Muted') ELSE '{}' END";

/// Which of their events the details of calls hold.
#[derive(Debug, Clone, Copy)]
enum EventsRead {
    All,
    /// A page's: see [`crate::store::rows::newest_events_sql`].
    NewestOfEach,
}

/// About how many events a call placed and ended has (its legs' progress, the conference's
/// events): what a page's list of events is first sized for.
const EVENTS_EXPECTED_PER_CALL: usize = 16;

/// The newest events of each call, in the order of [`crate::store::rows::newest_events_sql`]:
/// one indexed read per call, newest first, where the one statement for all would copy every
/// row into a sorter.
fn newest_events(conn: &Connection, calls: &[Call]) -> StoreResult<Vec<CallEvent>> {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {} FROM call_events WHERE call_id = $1 ORDER BY received_at DESC LIMIT {}",
            page_event_columns(PARTY_FLAGS),
            EVENTS_PER_CALL_IN_A_PAGE + 1
        )
    });
    let mut ids: Vec<CallId> = calls.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut events: Vec<CallEvent> = Vec::with_capacity(ids.len() * EVENTS_EXPECTED_PER_CALL);
    for id in ids {
        let first = events.len();
        select_into::<EventRow, _>(conn, &SQL, &[&id.to_string()], &mut events)?;
        events[first..].sort_by_key(|event| (event.received_at, event.id));
    }
    Ok(events)
}

#[async_trait]
impl CallLogStore for SqliteStore {
    async fn calls_page(&self, query: &CallPageQuery) -> StoreResult<Vec<Call>> {
        let mut sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE agent_id = $1");
        let mut values: Vec<Box<dyn ToSql + Send>> = vec![Box::new(query.agent.to_string())];
        if let Some(cursor) = &query.before {
            // Keyset pagination on the sort key: stable while new calls arrive at the top.
            let (a, b) = (values.len() + 1, values.len() + 2);
            sql.push_str(&format!(
                " AND (created_at < ${a} OR (created_at = ${a} AND id < ${b}))"
            ));
            values.push(Box::new(to_ms(cursor.created_at)));
            values.push(Box::new(cursor.id.to_string()));
        }
        if !query.states.is_empty() {
            let list = placeholders(values.len() + 1, query.states.len());
            sql.push_str(&format!(" AND state IN ({list})"));
            for state in &query.states {
                values.push(Box::new(state.as_str()));
            }
        }
        if let Some(since) = query.since {
            sql.push_str(&format!(" AND created_at >= ${}", values.len() + 1));
            values.push(Box::new(to_ms(since)));
        }
        if let Some(until) = query.until {
            sql.push_str(&format!(" AND created_at < ${}", values.len() + 1));
            values.push(Box::new(to_ms(until)));
        }
        let digits = query
            .number_digits
            .as_deref()
            .map(|d| d.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|d| !d.is_empty());
        if let Some(digits) = digits {
            sql.push_str(&format!(" AND recipient LIKE ${}", values.len() + 1));
            // Digits only, so no LIKE wildcard can come from the caller.
            values.push(Box::new(format!("%{digits}%")));
        }
        // The limit is written into the statement: SQLite plans with a bound LIMIT's value,
        // so binding it again would have the statement prepared again on every page.
        sql.push_str(&format!(
            " ORDER BY created_at DESC, id DESC LIMIT {}",
            query.limit
        ));
        self.inline
            .read(move |conn| {
                let values: Vec<&dyn ToSql> =
                    values.iter().map(|v| v.as_ref() as &dyn ToSql).collect();
                convert(select::<CallRow>(conn, &sql, &values)?)
            })
            .await
    }

    async fn call_details(&self, calls: &[Call]) -> StoreResult<CallDetails> {
        if calls.len() <= READ_IN_PLACE {
            return self.inline.read(|conn| page_details_on(conn, calls)).await;
        }
        let calls = calls.to_vec();
        self.inline
            .read_aside(move |conn| page_details_on(conn, &calls))
            .await
    }

    async fn call_snapshot(&self, id: CallId) -> StoreResult<Option<(Call, CallDetails)>> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        let id = id.to_string();
        self.inline
            .read_aside(move |conn| {
                // The call and its legs and events as of one moment, so a leg shown ended
                // always comes with the duration written before it ended: in WAL mode every
                // read of a transaction sees the database as of its first.
                in_transaction(conn, Begin::Deferred, |tx| {
                    let row: Option<CallRow> = select_one(tx, &sql, &[&id])?;
                    let Some(call) = convert_opt(row)? else {
                        return Ok(None);
                    };
                    let details = details_on(tx, std::slice::from_ref(&call), EventsRead::All)?;
                    Ok(Some((call, details)))
                })
            })
            .await
    }
}

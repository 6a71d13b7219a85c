//! SQLite called directly rather than through the pool, for the paths where the pool's
//! hand-over of every statement to a connection thread of its own costs more than the
//! statement: values bound by their `$N` names, and errors classified as the pool's are.

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Row, Statement, ToSql};

use crate::store::rows::FromNative;
use crate::store::{StoreError, StoreResult};

/// Prepared statements each connection keeps.
const STATEMENTS: usize = 64;

/// How a connection is used: the pool's writer's settings, or a reader's, which may not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Writer,
    Reader,
}

/// Opens `filename` (a path, or the name of a shared in-memory database when `in_memory`) with
/// the settings the pool's connections have: foreign keys on, a wait for a lock, NORMAL
/// synchronisation in WAL (see `SqliteStore::connect`).
pub(super) fn open(filename: &Path, in_memory: bool, role: Role) -> StoreResult<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if in_memory {
        flags |= OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_MEMORY
            | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
    }
    let conn = Connection::open_with_flags(filename, flags).map_err(from_sqlite)?;
    let wait = match role {
        Role::Writer => Duration::from_secs(5),
        // A reader in WAL waits only while a crashed writer's log is recovered; it runs on the
        // caller's thread, which must not be held long.
        Role::Reader => Duration::from_millis(250),
    };
    conn.busy_timeout(wait).map_err(from_sqlite)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(from_sqlite)?;
    conn.execute_batch(super::CACHE_SIZE).map_err(from_sqlite)?;
    // A page of the log alone prepares a dozen statements, some in a few shapes.
    conn.set_prepared_statement_cache_capacity(STATEMENTS);
    match role {
        Role::Writer if !in_memory => conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(from_sqlite)?,
        Role::Writer => {}
        Role::Reader => conn
            .pragma_update(None, "query_only", "ON")
            .map_err(from_sqlite)?,
    }
    Ok(conn)
}

/// The `$1`, `$2`, … of the statements shared with the pool's code, by name, so that a
/// statement may use them in any order and more than once. SQLite allows 32766 values; a page
/// of the log binds two per call at most.
static NUMBERED: LazyLock<Vec<String>> =
    LazyLock::new(|| (1..=1000).map(|n| format!("${n}")).collect());

/// Runs the cached statement `sql` with `values` bound to `$1`, `$2`, …; the rows it changed.
pub(super) fn execute(conn: &Connection, sql: &str, values: &[&dyn ToSql]) -> StoreResult<usize> {
    let mut statement = conn.prepare_cached(sql).map_err(from_sqlite)?;
    bind(&mut statement, values)?;
    statement.raw_execute().map_err(from_sqlite)
}

/// How a transaction of [`in_transaction`] begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Begin {
    /// A read, whose snapshot is taken at its first statement.
    Deferred,
    /// A write, which takes the write lock at once rather than fail to upgrade later.
    Immediate,
}

/// Runs `work` in one transaction, committed if it succeeds and rolled back if it fails or
/// panics. Its `BEGIN` and `COMMIT` are kept prepared like any statement: rusqlite's own
/// transactions parse them again every time, a cost of its own beside a callback's few
/// statements.
pub(super) fn in_transaction<T>(
    conn: &Connection,
    begin: Begin,
    work: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    let begin = match begin {
        Begin::Deferred => "BEGIN DEFERRED",
        Begin::Immediate => "BEGIN IMMEDIATE",
    };
    run_cached(conn, begin)?;
    let _open = RollbackUnlessDone(conn);
    let done = work(conn)?;
    run_cached(conn, "COMMIT")?;
    Ok(done)
}

fn run_cached(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.raw_execute())
        .map(drop)
        .map_err(from_sqlite)
}

/// Rolls back its connection's transaction, if one is still open when it is dropped: the work
/// failed, panicked, or its commit did not go through.
struct RollbackUnlessDone<'c>(&'c Connection);

impl Drop for RollbackUnlessDone<'_> {
    fn drop(&mut self) {
        if !self.0.is_autocommit() {
            let _ = run_cached(self.0, "ROLLBACK");
        }
    }
}

/// The rows the cached statement `sql` selects with `values` bound to `$1`, `$2`, …, each
/// decoded as `R`.
pub(super) fn select<R: FromNative>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> StoreResult<Vec<R>> {
    let mut decoded = Vec::new();
    for_each_row(conn, sql, values, |row| {
        decoded.push(R::from_native(row).map_err(from_sqlite)?);
        Ok(())
    })?;
    Ok(decoded)
}

/// Appends to `out` the rows the cached statement `sql` selects with `values` bound to `$1`,
/// `$2`, …, each decoded as `R` and converted to `T` as it is read: the reads of a page fill
/// one list sized for them all, rather than one list of rows per statement, grown as it goes,
/// and a second for their conversion.
pub(super) fn select_into<R, T>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    out: &mut Vec<T>,
) -> StoreResult<()>
where
    R: FromNative,
    T: TryFrom<R, Error = StoreError>,
{
    for_each_row(conn, sql, values, |row| {
        out.push(T::try_from(R::from_native(row).map_err(from_sqlite)?)?);
        Ok(())
    })
}

fn for_each_row(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
    mut each: impl FnMut(&Row<'_>) -> StoreResult<()>,
) -> StoreResult<()> {
    let mut statement = conn.prepare_cached(sql).map_err(from_sqlite)?;
    bind(&mut statement, values)?;
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(from_sqlite)? {
        each(row)?;
    }
    Ok(())
}

/// The one row `sql` selects, if any.
pub(super) fn select_one<R: FromNative>(
    conn: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> StoreResult<Option<R>> {
    Ok(select(conn, sql, values)?.into_iter().next())
}

fn bind(statement: &mut Statement<'_>, values: &[&dyn ToSql]) -> StoreResult<()> {
    if values.len() > NUMBERED.len() {
        return Err(StoreError::Database(sqlx::Error::Protocol(format!(
            "a statement called directly takes at most {} values",
            NUMBERED.len()
        ))));
    }
    for (value, name) in values.iter().zip(NUMBERED.iter()) {
        statement
            .raw_bind_parameter(name.as_str(), value)
            .map_err(from_sqlite)?;
    }
    Ok(())
}

/// The store's error for one of SQLite's, classified as the pool's are.
pub(super) fn from_sqlite(err: rusqlite::Error) -> StoreError {
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    match &err {
        rusqlite::Error::SqliteFailure(failure, message)
            if matches!(
                failure.extended_code,
                CONSTRAINT_PRIMARYKEY | CONSTRAINT_UNIQUE
            ) =>
        {
            StoreError::Conflict(message.clone().unwrap_or_else(|| failure.to_string()))
        }
        rusqlite::Error::SqliteFailure(failure, _)
            if crate::store::is_sqlite_unavailable(&failure.extended_code.to_string()) =>
        {
            StoreError::Unavailable(sqlx::Error::Io(std::io::Error::other(err)))
        }
        _ => StoreError::Database(sqlx::Error::Protocol(format!("sqlite: {err}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn memory() -> Connection {
        let name = format!("file:native-test-{}", uuid::Uuid::new_v4());
        open(Path::new(&name), true, Role::Writer).unwrap()
    }

    #[test]
    fn numbered_values_bind_by_name_in_any_order_and_repeated() {
        let conn = memory();
        conn.execute_batch("CREATE TABLE t (a TEXT, b INTEGER, c INTEGER)")
            .unwrap();
        execute(
            &conn,
            "INSERT INTO t (b, a, c) VALUES ($2, $1, $2 + 1)",
            &[&"one", &41_i64],
        )
        .unwrap();
        let read: (String, i64, i64) = conn
            .query_row("SELECT a, b, c FROM t", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .unwrap();
        assert_eq!(read, ("one".to_owned(), 41, 42));
    }

    #[test]
    fn a_value_for_a_name_the_statement_lacks_is_an_error() {
        let conn = memory();
        conn.execute_batch("CREATE TABLE t (a TEXT)").unwrap();
        let err = execute(&conn, "INSERT INTO t VALUES ($1)", &[&"a", &"b"]).unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err:?}");
    }

    #[test]
    fn a_unique_violation_is_a_conflict_and_a_missing_table_is_not() {
        let conn = memory();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, u TEXT UNIQUE)")
            .unwrap();
        execute(&conn, "INSERT INTO t VALUES ($1, $2)", &[&"a", &"x"]).unwrap();
        let primary = execute(&conn, "INSERT INTO t VALUES ($1, $2)", &[&"a", &"y"]);
        let unique = execute(&conn, "INSERT INTO t VALUES ($1, $2)", &[&"b", &"x"]);
        let missing = execute(&conn, "INSERT INTO nowhere VALUES ($1)", &[&"c"]);
        assert!(
            matches!(primary, Err(StoreError::Conflict(_))),
            "{primary:?}"
        );
        assert!(matches!(unique, Err(StoreError::Conflict(_))), "{unique:?}");
        assert!(
            matches!(missing, Err(StoreError::Database(_))),
            "{missing:?}"
        );
    }

    #[test]
    fn a_transaction_commits_what_succeeds_and_rolls_back_what_fails() {
        let conn = memory();
        conn.execute_batch("CREATE TABLE t (a TEXT UNIQUE)")
            .unwrap();
        let count = |conn: &Connection| -> i64 {
            conn.query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
                .unwrap()
        };
        in_transaction(&conn, Begin::Immediate, |conn| {
            execute(conn, "INSERT INTO t VALUES ($1)", &[&"a"])
        })
        .unwrap();
        assert_eq!(count(&conn), 1);
        let failed = in_transaction(&conn, Begin::Immediate, |conn| {
            execute(conn, "INSERT INTO t VALUES ($1)", &[&"b"])?;
            execute(conn, "INSERT INTO t VALUES ($1)", &[&"a"])
        });
        assert!(matches!(failed, Err(StoreError::Conflict(_))), "{failed:?}");
        assert!(conn.is_autocommit(), "the failed transaction is still open");
        assert_eq!(count(&conn), 1);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = in_transaction(&conn, Begin::Deferred, |conn| -> StoreResult<()> {
                execute(conn, "INSERT INTO t VALUES ($1)", &[&"c"])?;
                panic!("the work panicked");
            });
        }));
        assert!(panicked.is_err());
        assert!(
            conn.is_autocommit(),
            "the panicked transaction is still open"
        );
        assert_eq!(count(&conn), 1);
        // The kept BEGIN works again after a rollback.
        in_transaction(&conn, Begin::Deferred, |conn| {
            execute(conn, "INSERT INTO t VALUES ($1)", &[&"d"])
        })
        .unwrap();
        assert_eq!(count(&conn), 2);
    }

    #[test]
    fn a_reader_may_not_write() {
        let name = format!("file:native-test-{}", uuid::Uuid::new_v4());
        let writer = open(Path::new(&name), true, Role::Writer).unwrap();
        writer.execute_batch("CREATE TABLE t (a TEXT)").unwrap();
        let reader = open(Path::new(&name), true, Role::Reader).unwrap();
        assert!(execute(&reader, "INSERT INTO t VALUES ($1)", &[&"a"]).is_err());
        let count: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 0);
    }
}

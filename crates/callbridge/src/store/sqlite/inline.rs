//! Reads that run on the caller's own thread. Through the pool a read is handed to its
//! connection's thread and its rows handed back, two thread switches that cost more than the
//! indexed lookups a webhook or a page makes; a reader in WAL mode never waits for a writer,
//! so running it in place holds the caller for the statement's own few microseconds.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;
use sqlx::SqlitePool;

use super::native::{self, Role};
use crate::store::{StoreError, StoreResult};

/// Connections kept between reads: about one per thread of the runtime that reads at once.
const IDLE: usize = 4;

#[derive(Debug, Default)]
struct Idle {
    connections: Vec<Connection>,
    /// Once the store is closed, a read opens a connection for itself and closes it after.
    closed: bool,
}

#[derive(Debug)]
pub(super) struct InlineReaders {
    filename: PathBuf,
    idle: Mutex<Idle>,
    /// Only for an in-memory database: its one pool connection, held while a read runs. Its
    /// shared cache locks tables rather than taking snapshots, so a read must not meet a write
    /// there.
    turn: Option<SqlitePool>,
}

impl InlineReaders {
    pub(super) fn on_file(filename: &Path) -> Self {
        Self::new(filename, None)
    }

    pub(super) fn in_memory(name: &Path, turn: SqlitePool) -> Self {
        Self::new(name, Some(turn))
    }

    fn new(filename: &Path, turn: Option<SqlitePool>) -> Self {
        Self {
            filename: filename.to_owned(),
            idle: Mutex::new(Idle::default()),
            turn,
        }
    }

    /// Runs `read` on an idle connection, or a new one when none is idle.
    pub(super) async fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let _turn = self.turn().await?;
        let conn = self.take()?;
        let answer = read(&conn);
        self.give_back(conn);
        answer
    }

    /// Runs `read` on the runtime's threads for blocking work instead: for a read whose size
    /// nothing bounds (a call's whole history), which in place would hold a thread of the
    /// runtime for as long as it takes.
    pub(super) async fn read_aside<T, F>(&self, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _turn = self.turn().await?;
        let conn = self.take()?;
        let (conn, answer) = tokio::task::spawn_blocking(move || {
            let answer = read(&conn);
            (conn, answer)
        })
        .await
        .map_err(|_| StoreError::Unavailable(sqlx::Error::WorkerCrashed))?;
        self.give_back(conn);
        answer
    }

    async fn turn(&self) -> StoreResult<Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>> {
        Ok(match &self.turn {
            Some(pool) => Some(pool.acquire().await?),
            None => None,
        })
    }

    fn take(&self) -> StoreResult<Connection> {
        let taken = self.lock().connections.pop();
        match taken {
            Some(conn) => Ok(conn),
            None => native::open(&self.filename, self.turn.is_some(), Role::Reader),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.lock();
        if !idle.closed && idle.connections.len() < IDLE {
            idle.connections.push(conn);
        }
    }

    /// How many connections this holds now.
    pub(super) fn connections(&self) -> u32 {
        u32::try_from(self.lock().connections.len()).unwrap_or(u32::MAX)
    }

    /// Closes the idle connections, and each later one after its read.
    pub(super) fn close(&self) {
        let mut idle = self.lock();
        idle.closed = true;
        idle.connections.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        // The list stays whole whatever panicked while it was held.
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

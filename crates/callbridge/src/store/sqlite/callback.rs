//! Callbacks are written in groups: while the one writer commits a transaction, the callbacks
//! that arrive queue, and the next transaction writes all of them (up to `GROUP`) with one
//! commit. A commit's cost is its pages written to the WAL, which callbacks arriving together
//! mostly share (the tail of the events table and its indexes, the outbox), so under load a
//! callback costs its statements and a share of one commit instead of a commit of its own.

use async_trait::async_trait;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::{SqliteStore, now_ms};
use crate::store::control::retrying_lost_races;
use crate::store::{CallbackStore, CallbackWrite, CallbackWritten, StoreError, StoreResult};

/// The most callbacks one transaction writes: a bound on how long the first of them waits.
const GROUP: usize = 64;

/// Room for the callbacks of a burst; a sender beyond it waits, as it would for the pool.
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<StoreResult<CallbackWritten>>;

/// The way to the task that writes callbacks through the writer connection.
#[derive(Debug, Clone)]
pub(super) struct CallbackQueue {
    sender: mpsc::Sender<(CallbackWrite, Reply)>,
}

impl CallbackQueue {
    /// Starts the task; it ends once every clone of the queue is dropped.
    pub(super) fn start(writer: SqlitePool) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(writer, receiver));
        Self { sender }
    }

    async fn write(&self, write: CallbackWrite) -> StoreResult<CallbackWritten> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable(sqlx::Error::PoolClosed);
        self.sender
            .send((write, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn write_groups(writer: SqlitePool, mut receiver: mpsc::Receiver<(CallbackWrite, Reply)>) {
    let mut group = Vec::with_capacity(GROUP);
    while receiver.recv_many(&mut group, GROUP).await > 0 {
        let pending: Vec<(CallbackWrite, Reply)> = std::mem::take(&mut group);
        // On a task of its own, so that a panic fails one group and not every callback after.
        let writer = writer.clone();
        let written = tokio::spawn(async move { write_group(&writer, pending).await }).await;
        if let Err(panicked) = written {
            tracing::error!(error = %panicked, "writing a group of callbacks failed");
        }
    }
}

async fn write_group(writer: &SqlitePool, pending: Vec<(CallbackWrite, Reply)>) {
    if pending.len() > 1 {
        let writes: Vec<&CallbackWrite> = pending.iter().map(|(write, _)| write).collect();
        match write_together(writer, &writes).await {
            Ok(written) => {
                for ((_, reply), written) in pending.into_iter().zip(written) {
                    let _ = reply.send(Ok(written));
                }
                return;
            }
            // Nothing of the group was kept: each is written alone, so that the one at fault
            // fails by itself.
            Err(err) => {
                tracing::debug!(error = %err, "a group of callbacks failed: writing each alone");
            }
        }
    }
    for (write, reply) in pending {
        let alone = || async {
            let mut written = write_together(writer, &[&write]).await?;
            Ok(written.remove(0))
        };
        let _ = reply.send(retrying_lost_races(write.queues(), alone).await);
    }
}

async fn write_together(
    writer: &SqlitePool,
    writes: &[&CallbackWrite],
) -> StoreResult<Vec<CallbackWritten>> {
    let mut tx = SqliteStore::begin_write_on(writer).await?;
    let mut written = Vec::with_capacity(writes.len());
    for write in writes {
        written.push(write_in(&mut tx, write).await?);
    }
    tx.commit().await?;
    Ok(written)
}

/// Every statement of one callback, in the caller's transaction.
async fn write_in(
    conn: &mut SqliteConnection,
    write: &CallbackWrite,
) -> StoreResult<CallbackWritten> {
    let now = now_ms();
    let id = write.call_id();
    let new_event = SqliteStore::insert_event(&mut *conn, &write.event).await?;
    if let Some(sid) = &write.conference_sid {
        sqlx::query::<Sqlite>(
            "UPDATE calls SET conference_sid = $1, updated_at = $2 \
             WHERE id = $3 AND conference_sid IS NULL",
        )
        .bind(sid.as_str())
        .bind(now)
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    }
    if let Some(secs) = write.call_duration_secs {
        sqlx::query::<Sqlite>("UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3")
            .bind(secs)
            .bind(now)
            .bind(id.to_string())
            .execute(&mut *conn)
            .await?;
    }
    if let Some(leg) = &write.leg {
        SqliteStore::upsert_leg_in(&mut *conn, leg, now).await?;
    }
    if let Some(recording) = &write.recording {
        SqliteStore::upsert_recording_in(&mut *conn, recording, now).await?;
    }
    let moved = match &write.planned {
        Some(planned) => {
            let moved = SqliteStore::move_call(
                &mut *conn,
                id,
                &[planned.from],
                planned.to,
                planned.reason,
                now,
            )
            .await?;
            if moved {
                for effect in &planned.effects {
                    SqliteStore::insert_outbox(&mut *conn, effect, now).await?;
                }
            }
            Some(moved)
        }
        None => None,
    };
    for effect in &write.unconditional_effects {
        SqliteStore::insert_outbox(&mut *conn, effect, now).await?;
    }
    Ok(CallbackWritten { new_event, moved })
}

#[async_trait]
impl CallbackStore for SqliteStore {
    async fn write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        self.callbacks.write(write.clone()).await
    }
}

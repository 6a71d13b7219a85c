//! Callbacks are written in groups: while the one writer commits a transaction, the callbacks
//! that arrive queue, and the next transaction writes all of them (up to `GROUP`) with one
//! commit. A commit's cost is its pages written to the WAL, which callbacks arriving together
//! mostly share (the tail of the events table and its indexes, the outbox), so under load a
//! callback costs its statements and a share of one commit instead of a commit of its own.
//!
//! A group's transaction runs on the writer thread in one call (see `writer.rs`), while this
//! side holds the pool's writer connection, so that no other write meets it on the lock.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::{Connection, ToSql};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::calls::{UPSERT_LEG, move_call_sql};
use super::events::INSERT_EVENT;
use super::native::{Begin, execute, in_transaction};
use super::outbox::INSERT_OUTBOX;
use super::recordings::UPSERT_RECORDING;
use super::writer::WriterThread;
use super::{SqliteStore, now_ms, to_ms};
use crate::domain::EventId;
use crate::store::control::retrying_lost_races;
use crate::store::rows::{leg_status_rank, recording_status_rank};
use crate::store::{
    CallbackStore, CallbackWrite, CallbackWritten, NewOutboxRow, StoreError, StoreResult,
};

/// The most callbacks one transaction writes: a bound on how long the first of them waits.
const GROUP: usize = 64;

/// Room for the callbacks of a burst; a sender beyond it waits, as it would for the pool.
const QUEUE: usize = 1024;

type Reply = oneshot::Sender<StoreResult<CallbackWritten>>;

/// The way to the task that writes callbacks on the writer thread.
#[derive(Debug, Clone)]
pub(super) struct CallbackQueue {
    sender: mpsc::Sender<(CallbackWrite, Reply)>,
}

/// What writing a group takes: the pool's writer, held as the turn to write, and the thread.
#[derive(Debug, Clone)]
struct Writer {
    turn: SqlitePool,
    thread: WriterThread,
}

impl CallbackQueue {
    /// Starts the task; it ends once every clone of the queue is dropped.
    pub(super) fn start(turn: SqlitePool, thread: WriterThread) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(write_groups(Writer { turn, thread }, receiver));
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

async fn write_groups(writer: Writer, mut receiver: mpsc::Receiver<(CallbackWrite, Reply)>) {
    let mut group = Vec::with_capacity(GROUP);
    while receiver.recv_many(&mut group, GROUP).await > 0 {
        let (writes, replies): (Vec<CallbackWrite>, Vec<Reply>) = group.drain(..).unzip();
        // On a task of its own, so that a panic fails one group and not every callback after.
        let writer = writer.clone();
        let written =
            tokio::spawn(async move { write_group(&writer, writes, replies).await }).await;
        if let Err(panicked) = written {
            tracing::error!(error = %panicked, "writing a group of callbacks failed");
        }
    }
}

async fn write_group(writer: &Writer, writes: Vec<CallbackWrite>, replies: Vec<Reply>) {
    let writes = Arc::new(writes);
    if writes.len() > 1 {
        match write_together(writer, Arc::clone(&writes), None).await {
            Ok(written) => {
                for (reply, written) in replies.into_iter().zip(written) {
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
    for (i, reply) in replies.into_iter().enumerate() {
        let alone = || async {
            let mut written = write_together(writer, Arc::clone(&writes), Some(i)).await?;
            Ok(written.remove(0))
        };
        let _ = reply.send(retrying_lost_races(writes[i].queues(), alone).await);
    }
}

/// Writes `writes` (or only the one at `only`) in one transaction.
async fn write_together(
    writer: &Writer,
    writes: Arc<Vec<CallbackWrite>>,
    only: Option<usize>,
) -> StoreResult<Vec<CallbackWritten>> {
    // Held until the thread has committed or rolled back.
    let _turn = writer.turn.acquire().await?;
    writer
        .thread
        .run(move |conn| {
            let chosen = match only {
                Some(i) => std::slice::from_ref(&writes[i]),
                None => &writes[..],
            };
            in_transaction(conn, Begin::Immediate, |tx| {
                chosen
                    .iter()
                    .map(|write| write_in(tx, write))
                    .collect::<StoreResult<Vec<_>>>()
            })
        })
        .await
}

const SET_CONFERENCE_SID: &str = "UPDATE calls SET conference_sid = $1, updated_at = $2 \
    WHERE id = $3 AND conference_sid IS NULL";

const SET_DURATION: &str = "UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3";

/// Every statement of one callback, in the caller's transaction.
fn write_in(conn: &Connection, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
    let now = now_ms();
    let id = write.call_id().to_string();
    let event = &write.event;
    let new_event = execute(
        conn,
        INSERT_EVENT,
        &[
            &EventId::new().to_string(),
            &id,
            &event.source.as_str(),
            &event.kind,
            &event.call_sid,
            &event.dedupe_key,
            &event.sequence_number,
            &event.payload.to_string(),
            &to_ms(event.received_at),
        ],
    )? == 1;
    if let Some(sid) = &write.conference_sid {
        execute(conn, SET_CONFERENCE_SID, &[sid, &now, &id])?;
    }
    if let Some(secs) = write.call_duration_secs {
        execute(conn, SET_DURATION, &[&secs, &now, &id])?;
    }
    if let Some(leg) = &write.leg {
        execute(
            conn,
            UPSERT_LEG,
            &[
                &leg.call_sid,
                &leg.call_id.to_string(),
                &leg.role.as_str(),
                &leg.status,
                &leg_status_rank(&leg.status),
                &leg.number.to_twilio(),
                &now,
                &leg.duration_secs,
            ],
        )?;
    }
    if let Some(recording) = &write.recording {
        execute(
            conn,
            UPSERT_RECORDING,
            &[
                &recording.recording_sid,
                &recording.call_id.to_string(),
                &recording.conference_sid,
                &recording.status,
                &recording_status_rank(&recording.status),
                &recording.duration_secs,
                &recording.url,
                &now,
            ],
        )?;
    }
    let moved = match &write.planned {
        Some(planned) => {
            let values: [&dyn ToSql; 6] = [
                &planned.to.as_str(),
                &planned.reason,
                &now,
                &planned.to.is_final(),
                &id,
                &planned.from.as_str(),
            ];
            let moved = execute(conn, &move_call_sql(1), &values)? == 1;
            if moved {
                for effect in &planned.effects {
                    insert_outbox(conn, effect, now)?;
                }
            }
            Some(moved)
        }
        None => None,
    };
    for effect in &write.unconditional_effects {
        insert_outbox(conn, effect, now)?;
    }
    Ok(CallbackWritten { new_event, moved })
}

fn insert_outbox(conn: &Connection, row: &NewOutboxRow, now: i64) -> StoreResult<()> {
    execute(
        conn,
        INSERT_OUTBOX,
        &[
            &uuid::Uuid::now_v7().to_string(),
            &row.kind,
            &row.key,
            &row.payload.to_string(),
            &now,
        ],
    )?;
    Ok(())
}

#[async_trait]
impl CallbackStore for SqliteStore {
    async fn write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        self.callbacks.write(write.clone()).await
    }
}

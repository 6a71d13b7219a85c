//! A call's callbacks come in bursts (each leg's progress, the conference's events, the
//! recording's), and each one's transaction locks the call's row first, so they would commit one
//! after another, each waiting for its own flush. Those that arrive for a call while one of its
//! transactions runs wait, and are then written together in one transaction: one flush for the
//! burst. Callbacks of different calls run side by side as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, Postgres};
use tokio::sync::oneshot;

use super::{PgStore, micros, now};
use crate::domain::{CallId, EventId};
use crate::store::control::retrying_lost_races;
use crate::store::rows::leg_status_rank;
use crate::store::{CallbackStore, CallbackWrite, CallbackWritten, StoreError, StoreResult};

/// The most callbacks of one call one transaction writes.
const GROUP: usize = 64;

type Reply = oneshot::Sender<StoreResult<CallbackWritten>>;

/// A callback waiting, and where its answer goes.
type Waiting = (CallbackWrite, Reply);

/// For each call with a transaction running on this instance, the callbacks waiting for it.
#[derive(Debug, Clone, Default)]
pub(super) struct WaitingCallbacks {
    calls: Arc<Mutex<HashMap<CallId, Vec<Waiting>>>>,
}

impl WaitingCallbacks {
    /// Queues `write` behind the call's running transaction, if there is one; otherwise marks
    /// the call as having one, which the caller then runs.
    fn wait_behind(
        &self,
        write: &CallbackWrite,
    ) -> Option<oneshot::Receiver<StoreResult<CallbackWritten>>> {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        match calls.get_mut(&write.call_id()) {
            Some(waiting) => {
                let (reply, answer) = oneshot::channel();
                waiting.push((write.clone(), reply));
                Some(answer)
            }
            None => {
                calls.insert(write.call_id(), Vec::new());
                None
            }
        }
    }

    /// The next group waiting for `call`; none, and the call is no longer marked, when nothing
    /// waits.
    fn next_group(&self, call: CallId) -> Vec<Waiting> {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(waiting) = calls.get_mut(&call) else {
            return Vec::new();
        };
        if waiting.is_empty() {
            calls.remove(&call);
            return Vec::new();
        }
        let take = waiting.len().min(GROUP);
        waiting.drain(..take).collect()
    }
}

/// Should the task writing a call's callbacks panic, those waiting are answered (with an error,
/// as their replies drop) and the call's next callback starts afresh instead of waiting forever.
struct UnmarkOnPanic {
    waiting: WaitingCallbacks,
    call: CallId,
}

impl Drop for UnmarkOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut calls = self
                .waiting
                .calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            calls.remove(&self.call);
        }
    }
}

impl PgStore {
    async fn write_alone(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        if one_statement(write) {
            let new_event = write_usual(&self.pool, write, now()).await?;
            return Ok(CallbackWritten {
                new_event,
                moved: None,
            });
        }
        let alone = || async {
            let mut written = self.write_together(&[write]).await?;
            Ok(written.remove(0))
        };
        retrying_lost_races(write.queues(), alone).await
    }

    async fn write_together(&self, writes: &[&CallbackWrite]) -> StoreResult<Vec<CallbackWritten>> {
        let mut tx = self.begin_write().await?;
        let mut written = Vec::with_capacity(writes.len());
        for write in writes {
            written.push(write_in(&mut tx, write).await?);
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Writes a group of one call's callbacks in one transaction; should that fail, each one
    /// alone, so that the one at fault fails by itself.
    async fn write_group(&self, group: Vec<Waiting>) {
        let writes: Vec<&CallbackWrite> = group.iter().map(|(write, _)| write).collect();
        match self.write_together(&writes).await {
            Ok(written) => {
                for ((_, reply), written) in group.into_iter().zip(written) {
                    let _ = reply.send(Ok(written));
                }
            }
            Err(err) => {
                tracing::debug!(error = %err, "a group of callbacks failed: writing each alone");
                for (write, reply) in group {
                    let _ = reply.send(self.write_alone(&write).await);
                }
            }
        }
    }
}

/// A callback's usual writes as one statement, so that most callbacks cost one round trip:
/// the call's row locked first (the parts below lock it and the leg's row, and callbacks taking
/// them in different orders would deadlock), the event, the conference and duration the call
/// keeps, and the leg. Nothing is written for a call that is not stored. PostgreSQL runs each
/// data-modifying part of a `WITH` to completion whether or not the final `SELECT` reads it.
const CALLBACK_SQL: &str = concat!(
    "WITH call AS (SELECT id FROM calls WHERE id = $1 FOR NO KEY UPDATE), \
     event AS (INSERT INTO call_events (id, call_id, source, kind, call_sid, dedupe_key, \
         sequence_number, payload, received_at) \
         SELECT $2, id, $3, $4, $5, $6, $7, $8, $9 FROM call \
         ON CONFLICT (dedupe_key) DO NOTHING RETURNING 1), \
     kept AS (UPDATE calls SET conference_sid = COALESCE(calls.conference_sid, $10), \
         duration_secs = COALESCE($11, calls.duration_secs), updated_at = $12 \
         FROM call WHERE calls.id = call.id \
         AND ($11::bigint IS NOT NULL OR ($10::text IS NOT NULL AND calls.conference_sid IS NULL))), \
     leg AS (INSERT INTO call_legs (call_sid, call_id, role, status, status_rank, number, \
         created_at, updated_at, duration_secs) \
         SELECT $13, id, $14, $15, $16, $17, $12, $12, $18 FROM call WHERE $13::text IS NOT NULL ",
    crate::store::rows::leg_conflict!(),
    ") SELECT EXISTS (SELECT 1 FROM call), EXISTS (SELECT 1 FROM event)"
);

/// Whether [`CALLBACK_SQL`] is all of `write`: then it needs no transaction of its own.
fn one_statement(write: &CallbackWrite) -> bool {
    write.recording.is_none() && write.planned.is_none() && write.unconditional_effects.is_empty()
}

/// [`CALLBACK_SQL`] for `write`: whether the call is stored, and whether the event is new.
async fn write_usual<'e, E>(
    executor: E,
    write: &CallbackWrite,
    now: DateTime<Utc>,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Postgres>,
{
    let event = &write.event;
    let leg = write.leg.as_ref();
    let (stored, new_event): (bool, bool) = sqlx::query_as(AssertSqlSafe(CALLBACK_SQL))
        .bind(write.call_id().as_uuid())
        .bind(EventId::new().as_uuid())
        .bind(event.source.as_str())
        .bind(event.kind.as_str())
        .bind(event.call_sid.as_deref())
        .bind(event.dedupe_key.as_str())
        .bind(event.sequence_number)
        .bind(&event.payload)
        .bind(micros(event.received_at))
        .bind(write.conference_sid.as_deref())
        .bind(write.call_duration_secs)
        .bind(now)
        .bind(leg.map(|leg| leg.call_sid.as_str()))
        .bind(leg.map(|leg| leg.role.as_str()))
        .bind(leg.map(|leg| leg.status.as_str()))
        .bind(leg.map(|leg| leg_status_rank(&leg.status)))
        .bind(leg.map(|leg| leg.number.to_twilio()))
        .bind(leg.and_then(|leg| leg.duration_secs))
        .fetch_one(executor)
        .await?;
    if !stored {
        return Err(StoreError::NotFound);
    }
    Ok(new_event)
}

/// Every statement of one callback, in the caller's transaction.
async fn write_in(tx: &mut PgConnection, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
    let now = now();
    let id = write.call_id();
    let new_event = write_usual(&mut *tx, write, now).await?;
    if let Some(recording) = &write.recording {
        PgStore::upsert_recording_in(&mut *tx, recording, now).await?;
    }
    let moved = match &write.planned {
        Some(planned) => {
            let moved = PgStore::move_call(
                &mut *tx,
                id,
                &[planned.from],
                planned.to,
                planned.reason,
                now,
            )
            .await?;
            if moved {
                for effect in &planned.effects {
                    PgStore::insert_outbox(&mut *tx, effect, now).await?;
                }
            }
            Some(moved)
        }
        None => None,
    };
    for effect in &write.unconditional_effects {
        PgStore::insert_outbox(&mut *tx, effect, now).await?;
    }
    Ok(CallbackWritten { new_event, moved })
}

#[async_trait]
impl CallbackStore for PgStore {
    async fn write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
        if let Some(answer) = self.waiting.wait_behind(write) {
            return answer
                .await
                .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?;
        }
        // This write and the groups that queue behind it are written on a task of their own:
        // the request that began it may be dropped, and the callbacks waiting must be written
        // all the same. Its caller has its answer as soon as its own commit is done.
        let (reply, answer) = oneshot::channel();
        let store = self.clone();
        let write = write.clone();
        tokio::spawn(async move {
            let call = write.call_id();
            let _unmark = UnmarkOnPanic {
                waiting: store.waiting.clone(),
                call,
            };
            let _ = reply.send(store.write_alone(&write).await);
            loop {
                let group = store.waiting.next_group(call);
                if group.is_empty() {
                    return;
                }
                store.write_group(group).await;
            }
        });
        answer
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolClosed))?
    }
}

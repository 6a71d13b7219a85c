//! A call's callbacks come in bursts (each leg's progress, the conference's events, the
//! recording's), and each one's transaction locks the call's row first, so they would commit one
//! after another, each waiting for its own flush. Those that arrive for a call while one of its
//! transactions runs wait, and are then written together in one transaction: one flush for the
//! burst. Callbacks of different calls run side by side as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use sqlx::PgConnection;
use tokio::sync::oneshot;

use super::{PgStore, now};
use crate::domain::CallId;
use crate::store::control::retrying_lost_races;
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

/// Every statement of one callback, in the caller's transaction.
async fn write_in(tx: &mut PgConnection, write: &CallbackWrite) -> StoreResult<CallbackWritten> {
    let now = now();
    let id = write.call_id();
    // The call's row first, for every callback of the call: the statements below lock it
    // and the leg's row, and callbacks taking them in different orders would deadlock.
    sqlx::query("SELECT 1 FROM calls WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id.as_uuid())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    let new_event = PgStore::insert_event(&mut *tx, &write.event).await?;
    if let Some(sid) = &write.conference_sid {
        sqlx::query(
            "UPDATE calls SET conference_sid = $1, updated_at = $2 \
                 WHERE id = $3 AND conference_sid IS NULL",
        )
        .bind(sid.as_str())
        .bind(now)
        .bind(id.as_uuid())
        .execute(&mut *tx)
        .await?;
    }
    if let Some(secs) = write.call_duration_secs {
        sqlx::query("UPDATE calls SET duration_secs = $1, updated_at = $2 WHERE id = $3")
            .bind(secs)
            .bind(now)
            .bind(id.as_uuid())
            .execute(&mut *tx)
            .await?;
    }
    if let Some(leg) = &write.leg {
        PgStore::upsert_leg_in(&mut *tx, leg, now).await?;
    }
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

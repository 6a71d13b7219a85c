//! What a Twilio status callback needs of the store: everything it changes written in one
//! transaction, so a callback costs one commit and a crash keeps all of it or none.

use async_trait::async_trait;

use super::{LegUpdate, NewEvent, NewOutboxRow, RecordingUpdate, StoreResult};
use crate::domain::{CallId, CallState};

/// A move of the call planned from the state it was read in: it happens only if the call is
/// still in `from` when the transaction runs (compare-and-swap), and `effects` are queued only
/// with it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedMove {
    pub from: CallState,
    pub to: CallState,
    pub reason: Option<&'static str>,
    pub effects: Vec<NewOutboxRow>,
}

/// Every write one callback makes.
#[derive(Debug, Clone)]
pub struct CallbackWrite {
    pub event: NewEvent,
    /// The conference Twilio created for the call; kept only if the call has none yet (a
    /// party arriving after the first conference ended gets a new one, which must not replace
    /// it).
    pub conference_sid: Option<String>,
    /// The conversation's length, set before the leg's final status so that a reader who sees
    /// the leg ended sees the duration too.
    pub call_duration_secs: Option<i64>,
    pub leg: Option<LegUpdate>,
    pub recording: Option<RecordingUpdate>,
    pub planned: Option<PlannedMove>,
    /// Effects of a step that does not move the call (ending a ringing leg); harmless to
    /// repeat, so they are queued whether or not the event was new.
    pub unconditional_effects: Vec<NewOutboxRow>,
}

impl CallbackWrite {
    pub fn of(event: NewEvent) -> Self {
        Self {
            event,
            conference_sid: None,
            call_duration_secs: None,
            leg: None,
            recording: None,
            planned: None,
            unconditional_effects: Vec::new(),
        }
    }

    pub fn call_id(&self) -> CallId {
        self.event.call_id
    }

    pub(super) fn queues(&self) -> bool {
        !self.unconditional_effects.is_empty()
            || self.planned.as_ref().is_some_and(|p| !p.effects.is_empty())
    }
}

/// What the transaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallbackWritten {
    /// False when the event's `dedupe_key` was stored before (a retry).
    pub new_event: bool,
    /// Whether the planned move happened; `None` when none was planned.
    pub moved: Option<bool>,
}

#[async_trait]
pub trait CallbackStore: Send + Sync {
    /// Writes all of `write` in one transaction, for a call that is stored.
    async fn write_callback(&self, write: &CallbackWrite) -> StoreResult<CallbackWritten>;
}

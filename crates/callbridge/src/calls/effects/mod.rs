//! The Twilio effects of a call's transitions (dial the customer, tell the agent why, end a
//! leg) and of the agent's call control (hold, mute, dial a third party, hand the call over),
//! queued in the outbox in the same transaction as the change that calls for them and carried
//! out by a worker on every instance. A request that times out, a Twilio that fails for a
//! while, or a process killed between the commit and the effect loses nothing: the row waits in
//! the store until some worker has done it or given it up.

mod deliver;
mod worker;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::flow::Action;
use crate::domain::CallId;
use crate::store::{NewOutboxRow, OutboxRow};

pub use worker::run;

/// The outbox family of call effects.
pub const FAMILY: &str = "call";

/// One effect's row: the action, and the call it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Payload {
    call_id: CallId,
    #[serde(flatten)]
    action: Action,
}

fn kind(action: Action) -> &'static str {
    match action {
        Action::DialRecipient => "call.dial_recipient",
        Action::TellAgent { .. } => "call.tell_agent",
        Action::EndLeg { .. } => "call.end_leg",
        Action::Hold { .. } => "call.hold",
        Action::Mute { .. } => "call.mute",
        Action::DialThird => "call.dial_third",
        Action::HandOver => "call.hand_over",
    }
}

/// The outbox key of a call's effects: one call's effects run one after another, in the order
/// its transitions queued them (the customer is dialled before their leg can be ended).
pub fn key(call_id: CallId) -> String {
    format!("call:{call_id}")
}

/// The row that queues `action` for the call.
pub fn row(call_id: CallId, action: Action) -> NewOutboxRow {
    let payload = Payload { call_id, action };
    NewOutboxRow {
        kind: kind(action).to_owned(),
        key: key(call_id),
        payload: serde_json::to_value(payload).unwrap_or_default(),
    }
}

fn parse(row: &OutboxRow) -> Option<Payload> {
    let payload: Payload = serde_json::from_value(row.payload.clone()).ok()?;
    (kind(payload.action) == row.kind).then_some(payload)
}

/// Wakes this instance's effects worker when a transition queued something, so that an effect
/// starts at once rather than at the worker's next poll.
#[derive(Debug, Clone, Default)]
pub struct EffectsHandle {
    wake: Arc<Notify>,
}

impl EffectsHandle {
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::calls::flow::Reason;
    use crate::domain::LegRole;
    use crate::store::OutboxStatus;

    fn stored(new: NewOutboxRow) -> OutboxRow {
        OutboxRow {
            id: "1".into(),
            kind: new.kind,
            key: new.key,
            seq: 1,
            payload: new.payload,
            status: OutboxStatus::Pending,
            attempts: 0,
            next_attempt_at: Utc::now(),
            claimed_by: None,
            claimed_until: None,
            uncertain: false,
            last_error: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn every_action_reads_back_from_its_row() {
        let call_id = CallId::new();
        for action in [
            Action::DialRecipient,
            Action::TellAgent {
                reason: Reason::RecipientNoAnswer,
            },
            Action::EndLeg {
                role: LegRole::Recipient,
            },
            Action::Hold {
                role: LegRole::Recipient,
                hold: true,
            },
            Action::Mute {
                role: LegRole::Agent,
                muted: false,
            },
            Action::DialThird,
            Action::HandOver,
        ] {
            let row = stored(row(call_id, action));
            assert!(row.kind.starts_with("call."));
            assert_eq!(row.key, key(call_id));
            assert_eq!(parse(&row), Some(Payload { call_id, action }));
        }
    }

    #[test]
    fn a_row_whose_kind_and_payload_disagree_is_unreadable() {
        let mut row = stored(row(CallId::new(), Action::DialRecipient));
        row.kind = "call.end_leg".into();
        assert_eq!(parse(&row), None);
        row.payload = serde_json::json!({"call_id": "nope"});
        assert_eq!(parse(&row), None);
    }
}

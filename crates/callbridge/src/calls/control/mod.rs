//! Call control: what an agent does to a connected call. Hold and mute a party, transfer the
//! call to a number or another agent (cold: the target takes over at once; warm: the agent
//! talks to them first, the customer held), add a third party or remove them.
//!
//! Nothing of it is stored but events: each request records what the agent asked for as a
//! `control` event of the call, together with the Twilio requests that carry it out (outbox rows
//! of `calls::effects`), and what Twilio then confirms comes back as conference and call
//! callbacks. Where a call's control stands (a transfer under way, a third party on the line,
//! the call handed over) is read from those events by [`Situation::of`], and what follows a
//! third party joining or leaving is decided by [`rules`], without I/O.
//!
//! The conference's end stays right through all of it: the customer keeps
//! `endConferenceOnExit` while held (holding a participant leaves them in the conference, so
//! their hanging up still ends it), a third party has it only once the call is handed to them,
//! and the agent gives it up before leaving a handed-over call.

pub(crate) mod participants;
pub(crate) mod react;
mod requests;
pub(crate) mod rules;

use serde::{Deserialize, Serialize};

pub use requests::{AddParty, Hold, Mute, Transfer};
pub(crate) use requests::{
    add_party, cancel_transfer, complete_transfer, hold, mute, remove_party, transfer,
};

use crate::domain::{EventSource, LegRole};
use crate::store::CallEvent;

/// A party of a call, as the API names it; Twilio's participant label is its leg's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Agent,
    Customer,
    Third,
}

impl Party {
    pub fn role(self) -> LegRole {
        match self {
            Self::Agent => LegRole::Agent,
            Self::Customer => LegRole::Recipient,
            Self::Third => LegRole::Third,
        }
    }

    pub fn of(role: LegRole) -> Self {
        match role {
            LegRole::Agent => Self::Agent,
            LegRole::Recipient => Self::Customer,
            LegRole::Third => Self::Third,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Customer => "customer",
            Self::Third => "third",
        }
    }

    pub fn parse(label: &str) -> Option<Self> {
        match label {
            "agent" => Some(Self::Agent),
            "customer" => Some(Self::Customer),
            "third" => Some(Self::Third),
            _ => None,
        }
    }
}

/// How a transfer hands the call over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// The target takes the call as soon as they answer; the agent waits on hold till then.
    Cold,
    /// The agent talks with the target first, the customer on hold, then completes or cancels.
    Warm,
}

/// The kinds of `control` events, each one a step of the agent's call control.
pub mod kind {
    pub const HOLD: &str = "hold";
    pub const UNHOLD: &str = "unhold";
    pub const MUTE: &str = "mute";
    pub const UNMUTE: &str = "unmute";
    /// Payload: `mode`, `to` (as asked), `target` (the number or client dialled).
    pub const TRANSFER_STARTED: &str = "transfer-started";
    pub const TRANSFER_COMPLETED: &str = "transfer-completed";
    pub const TRANSFER_CANCELED: &str = "transfer-canceled";
    /// Payload: `reason` (`transfer_busy`, `transfer_no_answer`, …).
    pub const TRANSFER_FAILED: &str = "transfer-failed";
    /// Payload: `to`, `target`.
    pub const PARTY_ADDED: &str = "party-added";
    pub const PARTY_REMOVED: &str = "party-removed";
    /// The third party's leg ended, whatever ended it. Payload: `status`.
    pub const PARTY_LEFT: &str = "party-left";
}

/// Where a call's control stands, read from its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Situation {
    /// A transfer under way: its target is being rung, or (warm) talking with the agent.
    pub transfer: Option<TransferMode>,
    /// A third party was dialled (for a transfer or added) and has not left.
    pub third: bool,
    /// A transfer completed: the third party holds the agent's place, the agent has left.
    pub handed_over: bool,
    /// How many times a third party was dialled (transfers and added parties).
    pub thirds_dialled: usize,
}

impl Situation {
    /// Folds the call's `control` events, in the order they were stored.
    pub fn of(events: &[CallEvent]) -> Self {
        let mut now = Self::default();
        for event in events.iter().filter(|e| e.source == EventSource::Control) {
            match event.kind.as_str() {
                kind::TRANSFER_STARTED => {
                    now.transfer = Some(match event.payload.get("mode").and_then(|m| m.as_str()) {
                        Some("cold") => TransferMode::Cold,
                        _ => TransferMode::Warm,
                    });
                    now.third = true;
                    now.thirds_dialled += 1;
                }
                kind::PARTY_ADDED => {
                    now.third = true;
                    now.thirds_dialled += 1;
                }
                kind::TRANSFER_COMPLETED => {
                    now.transfer = None;
                    now.handed_over = true;
                }
                kind::TRANSFER_CANCELED | kind::TRANSFER_FAILED => now.transfer = None,
                kind::PARTY_LEFT => {
                    now.transfer = None;
                    // Once handed over, the third party's leaving is the call's end.
                    now.third = false;
                }
                _ => {}
            }
        }
        now
    }
}

/// The number or client the newest dial of a third party was for, as Twilio writes it.
pub fn dialled_target(events: &[CallEvent]) -> Option<String> {
    events
        .iter()
        .rev()
        .filter(|e| e.source == EventSource::Control)
        .find(|e| matches!(e.kind.as_str(), kind::TRANSFER_STARTED | kind::PARTY_ADDED))
        .and_then(|e| e.payload.get("target")?.as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::domain::{CallId, EventId};

    fn control(kind: &str, payload: serde_json::Value) -> CallEvent {
        CallEvent {
            id: EventId::new(),
            call_id: CallId::new(),
            source: EventSource::Control,
            kind: kind.to_owned(),
            call_sid: None,
            dedupe_key: EventId::new().to_string(),
            sequence_number: None,
            payload,
            received_at: Utc::now(),
        }
    }

    #[test]
    fn a_call_without_control_events_is_plain() {
        assert_eq!(Situation::of(&[]), Situation::default());
    }

    #[test]
    fn a_cold_transfer_under_way_then_done() {
        let mut events = vec![control(
            kind::TRANSFER_STARTED,
            json!({"mode": "cold", "target": "+12025550199"}),
        )];
        let under_way = Situation::of(&events);
        assert_eq!(under_way.transfer, Some(TransferMode::Cold));
        assert!(under_way.third && !under_way.handed_over);
        assert_eq!(under_way.thirds_dialled, 1);
        assert_eq!(dialled_target(&events).as_deref(), Some("+12025550199"));
        events.push(control(kind::TRANSFER_COMPLETED, json!({})));
        let done = Situation::of(&events);
        assert_eq!(done.transfer, None);
        assert!(done.third && done.handed_over);
    }

    #[test]
    fn a_failed_transfer_leaves_no_third_party_once_their_leg_ended() {
        let events = [
            control(kind::TRANSFER_STARTED, json!({"mode": "warm"})),
            control(kind::TRANSFER_FAILED, json!({"reason": "transfer_busy"})),
            control(kind::PARTY_LEFT, json!({"status": "busy"})),
        ];
        // Plain again, but the next third party's dial has a key of its own.
        assert_eq!(
            Situation::of(&events),
            Situation {
                thirds_dialled: 1,
                ..Situation::default()
            }
        );
    }

    #[test]
    fn holds_and_mutes_do_not_change_the_situation() {
        let events = [
            control(kind::HOLD, json!({"party": "customer"})),
            control(kind::MUTE, json!({"party": "agent"})),
        ];
        assert_eq!(Situation::of(&events), Situation::default());
    }

    #[test]
    fn every_party_label_reads_back() {
        for party in [Party::Agent, Party::Customer, Party::Third] {
            assert_eq!(Party::parse(party.as_str()), Some(party));
            assert_eq!(Party::of(party.role()), party);
        }
        assert_eq!(Party::parse("recipient"), None);
    }
}

//! What follows, for a call's control, from a fact a webhook established: pure, like
//! `calls::flow`, whose facts these rules read (and, once a call is handed over, reword).

use super::{Situation, TransferMode, kind};
use crate::calls::flow::{Action, Fact, LegStatus};
use crate::domain::LegRole;

/// A `control` event to record, with the effects to queue with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub kind: &'static str,
    /// `reason` of a failed transfer, `status` of a party that left.
    pub detail: Option<&'static str>,
    pub actions: Vec<Action>,
}

/// The fact as the call's flow must see it. Once handed over, the third party holds the
/// agent's place: their leg ending is the agent's leaving, and the old agent's leg (which we
/// end) is no longer the call's business.
pub fn as_call_fact(situation: &Situation, fact: Fact) -> Option<Fact> {
    if !situation.handed_over {
        return Some(fact);
    }
    match fact {
        Fact::Leg {
            role: LegRole::Agent,
            ..
        } => None,
        Fact::Leg {
            role: LegRole::Third,
            status,
        } => Some(Fact::Leg {
            role: LegRole::Agent,
            status,
        }),
        other => Some(other),
    }
}

/// What a fact about the third party means for the call's control, if anything.
pub fn react(situation: &Situation, fact: Fact) -> Vec<Reaction> {
    if situation.handed_over {
        return Vec::new();
    }
    match fact {
        // A cold transfer completes the moment its target is in the conference.
        Fact::Joined(LegRole::Third) if situation.transfer == Some(TransferMode::Cold) => {
            vec![completion()]
        }
        Fact::Leg {
            role: LegRole::Third,
            status,
        } if status.is_final() && situation.third => {
            let mut reactions = Vec::new();
            if let Some(mode) = situation.transfer {
                // The agent gets the customer back, and the event says why.
                reactions.push(Reaction {
                    kind: kind::TRANSFER_FAILED,
                    detail: Some(failure_reason(status)),
                    actions: release_holds(mode),
                });
            }
            reactions.push(Reaction {
                kind: kind::PARTY_LEFT,
                detail: Some(status.as_str()),
                actions: Vec::new(),
            });
            reactions
        }
        _ => Vec::new(),
    }
}

/// A transfer completing: the third party takes over, the customer hears them.
pub fn completion() -> Reaction {
    Reaction {
        kind: kind::TRANSFER_COMPLETED,
        detail: None,
        actions: vec![
            Action::HandOver,
            Action::Hold {
                role: LegRole::Recipient,
                hold: false,
            },
        ],
    }
}

/// What a transfer starting holds: the customer, and in a cold one the agent, who waits to be
/// let go (or brought back if the target does not take the call).
pub fn transfer_holds(mode: TransferMode) -> Vec<Action> {
    let mut actions = vec![Action::Hold {
        role: LegRole::Recipient,
        hold: true,
    }];
    if mode == TransferMode::Cold {
        actions.push(Action::Hold {
            role: LegRole::Agent,
            hold: true,
        });
    }
    actions
}

/// Undoes [`transfer_holds`].
pub fn release_holds(mode: TransferMode) -> Vec<Action> {
    transfer_holds(mode)
        .into_iter()
        .map(|action| match action {
            Action::Hold { role, .. } => Action::Hold { role, hold: false },
            other => other,
        })
        .collect()
}

/// A failed transfer's `reason`, from how the target's leg ended.
pub fn failure_reason(status: LegStatus) -> &'static str {
    match status {
        LegStatus::Busy => "transfer_busy",
        LegStatus::NoAnswer => "transfer_no_answer",
        LegStatus::Completed => "transfer_target_hung_up",
        LegStatus::Canceled => "transfer_canceled",
        _ => "transfer_failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNDER_WAY_COLD: Situation = Situation {
        transfer: Some(TransferMode::Cold),
        third: true,
        handed_over: false,
        thirds_dialled: 1,
    };

    fn third(status: LegStatus) -> Fact {
        Fact::Leg {
            role: LegRole::Third,
            status,
        }
    }

    #[test]
    fn a_cold_target_joining_completes_the_transfer() {
        let reactions = react(&UNDER_WAY_COLD, Fact::Joined(LegRole::Third));
        assert_eq!(reactions, [completion()]);
    }

    #[test]
    fn a_warm_target_joining_waits_for_the_agent() {
        let warm = Situation {
            transfer: Some(TransferMode::Warm),
            ..UNDER_WAY_COLD
        };
        assert!(react(&warm, Fact::Joined(LegRole::Third)).is_empty());
    }

    #[test]
    fn a_busy_target_brings_the_agent_back_with_the_reason() {
        let reactions = react(&UNDER_WAY_COLD, third(LegStatus::Busy));
        assert_eq!(reactions[0].kind, kind::TRANSFER_FAILED);
        assert_eq!(reactions[0].detail, Some("transfer_busy"));
        assert_eq!(
            reactions[0].actions,
            [
                Action::Hold {
                    role: LegRole::Recipient,
                    hold: false
                },
                Action::Hold {
                    role: LegRole::Agent,
                    hold: false
                }
            ]
        );
        assert_eq!(reactions[1].kind, kind::PARTY_LEFT);
        assert_eq!(
            failure_reason(LegStatus::NoAnswer),
            "transfer_no_answer",
            "no answer has its own reason"
        );
    }

    #[test]
    fn an_added_party_leaving_is_only_noted() {
        let added = Situation {
            transfer: None,
            third: true,
            handed_over: false,
            thirds_dialled: 1,
        };
        let reactions = react(&added, third(LegStatus::Completed));
        assert_eq!(reactions.len(), 1);
        assert_eq!(reactions[0].kind, kind::PARTY_LEFT);
        assert!(reactions[0].actions.is_empty());
        assert!(react(&added, third(LegStatus::Ringing)).is_empty());
    }

    #[test]
    fn once_handed_over_the_third_party_is_the_agent() {
        let handed = Situation {
            transfer: None,
            third: true,
            handed_over: true,
            thirds_dialled: 1,
        };
        let agent_left = Fact::Leg {
            role: LegRole::Agent,
            status: LegStatus::Completed,
        };
        assert_eq!(as_call_fact(&handed, agent_left), None);
        assert_eq!(
            as_call_fact(&handed, third(LegStatus::Completed)),
            Some(agent_left)
        );
        assert!(react(&handed, third(LegStatus::Completed)).is_empty());
        assert_eq!(
            as_call_fact(&UNDER_WAY_COLD, agent_left),
            Some(agent_left),
            "before the hand-over the agent's leg is theirs"
        );
    }
}

//! The abandonment guard: how many customers a campaign may dial now, and how far apart. A
//! person who answers when no agent is free is abandoned, which regulators cap (3 % of answered
//! calls), so the campaign never rings more customers than it has free agents and slows down as
//! soon as its abandon rate reaches the cap.

use std::time::Duration;

/// Abandoned calls allowed per answered call.
pub const ABANDON_LIMIT: f64 = 0.03;
/// The least time between two dials of a campaign whose abandon rate reached the limit: time
/// for agents to come back from their calls, and for more answered calls to dilute the rate.
pub const SLOW_SPACING: Duration = Duration::from_secs(5);

/// What the campaign knows right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Calls answered by a person, abandoned ones included.
    pub answered: u64,
    pub abandoned: u64,
    /// Agents on the line with no customer and no wrap-up.
    pub free_agents: usize,
    /// Customers being dialled who have not answered yet.
    pub ringing: usize,
}

/// What the guard allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Customers that may be dialled now.
    pub dials: usize,
    /// The least time between two of them, beyond the account's calls per second.
    pub spacing: Option<Duration>,
}

/// Abandoned per answered call; 0 before anyone answered.
pub fn abandon_rate(answered: u64, abandoned: u64) -> f64 {
    if answered == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = abandoned.min(answered) as f64 / answered as f64;
    rate
}

/// Whether the campaign is at or over the limit; in whole numbers, so that exactly 3 % counts.
pub fn over_limit(answered: u64, abandoned: u64) -> bool {
    answered > 0 && abandoned.saturating_mul(100) >= answered.saturating_mul(3)
}

pub fn allowance(tally: Tally) -> Allowance {
    let room = tally.free_agents.saturating_sub(tally.ringing);
    if over_limit(tally.answered, tally.abandoned) {
        Allowance {
            dials: room.min(1),
            spacing: Some(SLOW_SPACING),
        }
    } else {
        Allowance {
            dials: room,
            spacing: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn no_free_agent_means_no_dial() {
        let tally = Tally {
            free_agents: 0,
            ringing: 0,
            ..Tally::default()
        };
        assert_eq!(allowance(tally).dials, 0);
        let busy = Tally {
            free_agents: 2,
            ringing: 2,
            ..Tally::default()
        };
        assert_eq!(allowance(busy).dials, 0);
    }

    #[test]
    fn the_pace_slows_at_three_percent_exactly() {
        let under = Tally {
            answered: 100,
            abandoned: 2,
            free_agents: 3,
            ringing: 0,
        };
        assert_eq!(
            allowance(under),
            Allowance {
                dials: 3,
                spacing: None
            }
        );
        let at = Tally {
            abandoned: 3,
            ..under
        };
        assert_eq!(
            allowance(at),
            Allowance {
                dials: 1,
                spacing: Some(SLOW_SPACING)
            }
        );
        assert!((abandon_rate(100, 3) - 0.03).abs() < f64::EPSILON);
        assert!(abandon_rate(0, 0).abs() < f64::EPSILON);
    }

    proptest! {
        #[test]
        fn never_more_ringing_than_free_agents(
            answered in 0_u64..10_000,
            abandoned in 0_u64..10_000,
            free_agents in 0_usize..50,
            ringing in 0_usize..50,
        ) {
            let tally = Tally { answered, abandoned, free_agents, ringing };
            let allowed = allowance(tally);
            prop_assert!(allowed.dials + ringing <= free_agents.max(ringing));
        }

        #[test]
        fn over_the_limit_dials_are_one_at_a_time_and_spaced(
            answered in 1_u64..10_000,
            abandoned in 0_u64..10_000,
            free_agents in 0_usize..50,
            ringing in 0_usize..50,
        ) {
            let tally = Tally { answered, abandoned, free_agents, ringing };
            let allowed = allowance(tally);
            if abandon_rate(answered, abandoned) >= ABANDON_LIMIT {
                prop_assert!(allowed.dials <= 1);
                prop_assert_eq!(allowed.spacing, Some(SLOW_SPACING));
            } else {
                prop_assert_eq!(allowed.spacing, None);
            }
        }

        #[test]
        fn the_rate_is_a_share(answered in 0_u64..10_000, abandoned in 0_u64..10_000) {
            let rate = abandon_rate(answered, abandoned);
            prop_assert!((0.0..=1.0).contains(&rate));
        }
    }
}

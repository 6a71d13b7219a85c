use proptest::prelude::*;

use super::*;

const AGENT: LegRole = LegRole::Agent;
const RECIPIENT: LegRole = LegRole::Recipient;

fn leg(role: LegRole, status: &str) -> Fact {
    Fact::Leg {
        role,
        status: LegStatus::parse(status).unwrap(),
    }
}

/// Applies facts in order, as the handlers do, collecting every action.
fn run(facts: &[Fact]) -> (CallState, Option<Reason>, Vec<Action>) {
    let mut state = CallState::Created;
    let mut reason = None;
    let mut actions = Vec::new();
    for fact in facts {
        let step = next(state, *fact);
        if let Some((to, why)) = step.to {
            state = to;
            reason = why;
        }
        actions.extend(step.actions);
    }
    (state, reason, actions)
}

#[test]
fn twilio_statuses_round_trip() {
    for status in LegStatus::ALL {
        assert_eq!(LegStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(LegStatus::parse("answered"), Some(LegStatus::InProgress));
    assert_eq!(LegStatus::parse("dialing"), None);
}

#[test]
fn the_happy_path_walks_every_state_and_dials_once() {
    let facts = [
        leg(AGENT, "initiated"),
        leg(AGENT, "ringing"),
        leg(AGENT, "in-progress"),
        Fact::AgentReady,
        leg(RECIPIENT, "ringing"),
        leg(RECIPIENT, "in-progress"),
        Fact::Joined(RECIPIENT),
        Fact::ConferenceEnded,
        leg(RECIPIENT, "completed"),
        leg(AGENT, "completed"),
    ];
    let mut state = CallState::Created;
    let mut seen = vec![state];
    for fact in facts {
        if let Some((to, _)) = next(state, fact).to {
            state = to;
            seen.push(state);
        }
    }
    assert_eq!(
        seen,
        [
            CallState::Created,
            CallState::AgentRinging,
            CallState::AgentAnswered,
            CallState::RecipientRinging,
            CallState::Connected,
            CallState::Completed,
        ]
    );
    assert_eq!(run(&facts).2, [Action::DialRecipient]);
}

#[test]
fn agent_outcomes_fail_the_call_and_never_dial() {
    for (status, reason) in [
        ("busy", Reason::AgentBusy),
        ("no-answer", Reason::AgentNoAnswer),
        ("failed", Reason::AgentFailed),
        ("canceled", Reason::Canceled),
        ("completed", Reason::AgentHungUp),
    ] {
        let (state, why, actions) = run(&[leg(AGENT, "ringing"), leg(AGENT, status)]);
        assert_eq!((state, why), (CallState::Failed, Some(reason)), "{status}");
        assert!(actions.is_empty());
        // The Gather action of a call that already failed dials nobody.
        assert!(next(state, Fact::AgentReady).is_noop());
    }
}

#[test]
fn customer_outcomes_fail_the_call_and_tell_the_agent() {
    for (status, reason) in [
        ("busy", Reason::RecipientBusy),
        ("no-answer", Reason::RecipientNoAnswer),
        ("failed", Reason::RecipientFailed),
    ] {
        let (state, why, actions) = run(&[
            leg(AGENT, "in-progress"),
            Fact::AgentReady,
            leg(RECIPIENT, "ringing"),
            leg(RECIPIENT, status),
        ]);
        assert_eq!((state, why), (CallState::Failed, Some(reason)));
        assert_eq!(
            actions,
            [Action::DialRecipient, Action::TellAgent { reason }]
        );
        assert!(!reason.spoken().is_empty());
    }
}

#[test]
fn a_retried_gather_action_dials_only_once() {
    let (_, _, actions) = run(&[Fact::AgentReady, Fact::AgentReady, Fact::AgentReady]);
    assert_eq!(actions, [Action::DialRecipient]);
}

#[test]
fn the_gather_action_may_overtake_the_answered_callback() {
    let (state, _, actions) = run(&[
        Fact::AgentReady,
        leg(AGENT, "ringing"),
        leg(AGENT, "in-progress"),
    ]);
    assert_eq!(state, CallState::RecipientRinging);
    assert_eq!(actions, [Action::DialRecipient]);
}

#[test]
fn agent_leaving_while_the_customer_rings_ends_the_customer_leg() {
    let (state, _, actions) = run(&[Fact::AgentReady, leg(AGENT, "completed")]);
    assert_eq!(state, CallState::RecipientRinging);
    assert_eq!(
        actions,
        [
            Action::DialRecipient,
            Action::EndLeg {
                role: LegRole::Recipient
            }
        ]
    );
    let (state, why, _) = run(&[
        Fact::AgentReady,
        leg(AGENT, "completed"),
        leg(RECIPIENT, "canceled"),
    ]);
    assert_eq!((state, why), (CallState::Failed, Some(Reason::Canceled)));
}

#[test]
fn whoever_leaves_first_releases_the_other() {
    // The customer hung up before the agent made it into the conference.
    let (state, _, actions) = run(&[
        Fact::AgentReady,
        leg(RECIPIENT, "in-progress"),
        leg(RECIPIENT, "completed"),
    ]);
    assert_eq!(state, CallState::Completed);
    assert_eq!(
        actions,
        [Action::DialRecipient, Action::EndLeg { role: AGENT }]
    );
    let (state, _, actions) = run(&[
        Fact::AgentReady,
        Fact::Joined(RECIPIENT),
        leg(AGENT, "completed"),
    ]);
    assert_eq!(state, CallState::Completed);
    assert_eq!(
        actions,
        [Action::DialRecipient, Action::EndLeg { role: RECIPIENT }]
    );
    // After a conference end, both legs leave by themselves.
    let (_, _, actions) = run(&[
        Fact::AgentReady,
        Fact::Joined(RECIPIENT),
        Fact::ConferenceEnded,
        leg(AGENT, "completed"),
        leg(RECIPIENT, "completed"),
    ]);
    assert_eq!(actions, [Action::DialRecipient]);
}

#[test]
fn a_customer_leg_twilio_would_not_create_fails_the_call_and_tells_the_agent() {
    let failed = Fact::RecipientDialFailed(Reason::TwilioUnavailable);
    let (state, why, actions) = run(&[Fact::AgentReady, failed]);
    assert_eq!(
        (state, why),
        (CallState::Failed, Some(Reason::TwilioUnavailable))
    );
    let told = Action::TellAgent {
        reason: Reason::TwilioUnavailable,
    };
    assert_eq!(actions, [Action::DialRecipient, told]);
}

#[test]
fn actions_survive_the_outbox_as_json() {
    let actions = [
        Action::DialRecipient,
        Action::TellAgent {
            reason: Reason::RecipientBusy,
        },
        Action::EndLeg { role: AGENT },
    ];
    for action in actions {
        let json = serde_json::to_value(action).unwrap();
        assert_eq!(serde_json::from_value::<Action>(json).unwrap(), action);
    }
    insta::assert_json_snapshot!(
        serde_json::to_value(actions).unwrap(),
        @r#"
    [
      {
        "action": "dial_recipient"
      },
      {
        "action": "tell_agent",
        "reason": "recipient_busy"
      },
      {
        "action": "end_leg",
        "role": "agent"
      }
    ]
    "#
    );
}

#[test]
fn a_late_ringing_after_completed_changes_nothing() {
    let (state, _, _) = run(&[
        Fact::AgentReady,
        leg(RECIPIENT, "completed"),
        leg(RECIPIENT, "ringing"),
        leg(AGENT, "ringing"),
    ]);
    assert_eq!(state, CallState::Completed);
}

fn any_state() -> impl Strategy<Value = CallState> {
    prop::sample::select(CallState::ALL.to_vec())
}

fn any_role() -> impl Strategy<Value = LegRole> {
    prop::sample::select(vec![AGENT, RECIPIENT])
}

fn any_fact() -> impl Strategy<Value = Fact> {
    prop_oneof![
        (any_role(), prop::sample::select(LegStatus::ALL.to_vec()))
            .prop_map(|(role, status)| Fact::Leg { role, status }),
        Just(Fact::AgentReady),
        Just(Fact::RecipientDialFailed(Reason::TwilioError)),
        any_role().prop_map(Fact::Joined),
        Just(Fact::ConferenceEnded),
    ]
}

/// The facts of a call that connects and ends: the agent's progress (which may still be in
/// flight when the Gather action arrives), and everything that only happens after that action.
fn completed_call_facts() -> (Vec<Fact>, Vec<Fact>) {
    let agent = vec![
        leg(AGENT, "initiated"),
        leg(AGENT, "ringing"),
        leg(AGENT, "in-progress"),
    ];
    let after_ready = vec![
        leg(RECIPIENT, "initiated"),
        leg(RECIPIENT, "ringing"),
        leg(RECIPIENT, "in-progress"),
        Fact::Joined(AGENT),
        Fact::Joined(RECIPIENT),
        Fact::ConferenceEnded,
        leg(RECIPIENT, "completed"),
        leg(AGENT, "completed"),
    ];
    (agent, after_ready)
}

#[test]
fn a_browser_agent_is_ready_on_joining_and_done_on_leaving() {
    let browser = CallMode::Browser;
    assert_eq!(
        conference_fact(browser, ConferenceChange::Joined(Some(AGENT))),
        Some(Fact::AgentReady)
    );
    assert_eq!(
        conference_fact(browser, ConferenceChange::Joined(Some(RECIPIENT))),
        Some(Fact::Joined(RECIPIENT))
    );
    assert_eq!(
        conference_fact(browser, ConferenceChange::Left(Some(AGENT))),
        Some(leg(AGENT, "completed"))
    );
    assert_eq!(
        conference_fact(browser, ConferenceChange::Left(Some(RECIPIENT))),
        None
    );
}

#[test]
fn a_phone_agent_joining_or_leaving_is_only_a_conference_event() {
    let phone = CallMode::Phone;
    assert_eq!(
        conference_fact(phone, ConferenceChange::Joined(Some(AGENT))),
        Some(Fact::Joined(AGENT))
    );
    assert_eq!(conference_fact(phone, ConferenceChange::Joined(None)), None);
    assert_eq!(
        conference_fact(phone, ConferenceChange::Left(Some(AGENT))),
        None
    );
    assert_eq!(
        conference_fact(phone, ConferenceChange::Ended),
        Some(Fact::ConferenceEnded)
    );
    assert_eq!(conference_fact(phone, ConferenceChange::Other), None);
}

proptest! {
    #[test]
    fn no_fact_moves_a_final_state(
        final_state in prop::sample::select(vec![CallState::Completed, CallState::Failed]),
        facts in prop::collection::vec(any_fact(), 0..40),
    ) {
        for fact in facts {
            prop_assert!(next(final_state, fact).is_noop(), "{final_state:?} moved by {fact:?}");
        }
    }

    #[test]
    fn states_only_move_forward_and_dial_at_most_once(
        start in any_state(),
        facts in prop::collection::vec(any_fact(), 0..40),
    ) {
        let mut state = start;
        let mut dials = 0;
        for fact in facts {
            let step = next(state, fact);
            if let Some((to, reason)) = step.to {
                prop_assert!(rank(to) > rank(state), "{state:?} -> {to:?} on {fact:?}");
                prop_assert_eq!(reason.is_some(), to == CallState::Failed);
                state = to;
            }
            dials += step.actions.iter().filter(|a| **a == Action::DialRecipient).count();
        }
        prop_assert!(dials <= 1);
    }

    /// Any delivery order Twilio may produce (the Gather action before everything it causes,
    /// the rest shuffled, some delivered twice) ends the same way.
    #[test]
    fn reordered_and_repeated_callbacks_end_the_same_way(
        seed in prop::collection::vec(any::<u32>(), 16),
        repeats in prop::collection::vec(0usize..12, 0..6),
    ) {
        let (before, after) = completed_call_facts();
        let mut facts: Vec<Fact> = before;
        // Agent callbacks may still be in flight when the Gather action arrives.
        let split = (seed[0] as usize) % (facts.len() + 1);
        let mut late: Vec<Fact> = facts.split_off(split);
        late.extend(after);
        let mut keyed: Vec<(u32, Fact)> =
            late.into_iter().enumerate().map(|(i, f)| (seed[i % seed.len()] ^ i as u32, f)).collect();
        keyed.sort_by_key(|(k, _)| *k);
        facts.push(Fact::AgentReady);
        facts.extend(keyed.into_iter().map(|(_, f)| f));
        for r in repeats {
            let again = facts[r % facts.len()];
            facts.push(again);
        }
        let (state, reason, actions) = run(&facts);
        prop_assert_eq!(state, CallState::Completed, "{:?}", facts);
        prop_assert_eq!(reason, None);
        prop_assert_eq!(actions.iter().filter(|a| **a == Action::DialRecipient).count(), 1);
    }

    #[test]
    fn a_busy_customer_fails_the_call_whatever_the_order(
        seed in prop::collection::vec(any::<u32>(), 8),
    ) {
        let mut late = vec![
            leg(AGENT, "ringing"),
            leg(AGENT, "in-progress"),
            leg(RECIPIENT, "initiated"),
            leg(RECIPIENT, "ringing"),
            leg(RECIPIENT, "busy"),
            Fact::Joined(AGENT),
            Fact::ConferenceEnded,
            leg(AGENT, "completed"),
        ];
        let mut keyed: Vec<(u32, Fact)> =
            late.drain(..).enumerate().map(|(i, f)| (seed[i], f)).collect();
        keyed.sort_by_key(|(k, _)| *k);
        let mut facts = vec![Fact::AgentReady];
        facts.extend(keyed.into_iter().map(|(_, f)| f));
        let (state, reason, _) = run(&facts);
        // Even when the agent's hang-up is seen first, the customer's own final status decides.
        prop_assert_eq!(state, CallState::Failed);
        prop_assert_eq!(reason, Some(Reason::RecipientBusy));
    }
}

//! What each demo scenario makes the phones do, and the outcome that proves it worked.

use std::fmt;

use serde_json::{Value, json};

use crate::domain::CallState;

/// The demo's cast: a Twilio number to call from, the agent's phone and the customer's.
pub const CALLER_ID: &str = "+14155550100";
pub const AGENT_PHONE: &str = "+14155550123";
pub const CUSTOMER_PHONE: &str = "+12025550123";
pub const AGENT_EMAIL: &str = "demo.agent@example.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The agent answers and presses a key, the customer answers, they talk, the agent hangs up.
    Happy,
    /// The customer's line is busy: the agent hears why and is released.
    Busy,
    /// The customer does not answer.
    NoAnswer,
    /// The agent does not answer: the customer is never dialled.
    AgentNoAnswer,
    /// Like happy, with the conference recorded.
    Record,
    /// The agent calls from the browser (the Voice SDK, played by the simulator), the customer
    /// answers, they talk, the agent hangs up in the browser.
    Browser,
}

/// What the call must end as for the scenario to count as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub state: CallState,
    pub reason: Option<&'static str>,
    pub recording: bool,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Self::Happy => "happy",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::AgentNoAnswer => "agent-no-answer",
            Self::Record => "record",
            Self::Browser => "browser",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::Happy => "the agent answers, presses 1, the customer answers, they talk",
            Self::Busy => "the agent answers, presses 1, the customer's line is busy",
            Self::NoAnswer => "the agent answers, presses 1, the customer never picks up",
            Self::AgentNoAnswer => "the agent never picks up, so the customer is never dialled",
            Self::Record => "a happy call, recorded from the start",
            Self::Browser => "the agent calls from the browser, the customer answers, they talk",
        }
    }

    /// `PUT /sim/numbers/{e164}` bodies for the agent's phone and the customer's.
    pub fn behaviours(self) -> [(&'static str, Value); 2] {
        // Rings of 8 simulated seconds: 2 s at the demo's time scale.
        let human = json!({"answer": "human", "ring_ms": 8000});
        let agent = match self {
            Self::AgentNoAnswer => json!({"answer": "no-answer"}),
            _ => human.clone(),
        };
        let customer = match self {
            Self::Busy => json!({"answer": "busy", "ring_ms": 6000}),
            Self::NoAnswer => json!({"answer": "no-answer"}),
            _ => human,
        };
        [(AGENT_PHONE, agent), (CUSTOMER_PHONE, customer)]
    }

    /// Whether the customer picks up, so the demo lets them talk and then hangs up.
    pub fn talks(self) -> bool {
        matches!(self, Self::Happy | Self::Record | Self::Browser)
    }

    /// Whether the agent answers their phone, so the demo presses a key on it.
    pub fn agent_answers(self) -> bool {
        !matches!(self, Self::AgentNoAnswer | Self::Browser)
    }

    /// Whether the agent talks from the browser rather than their phone.
    pub fn talks_from_browser(self) -> bool {
        self == Self::Browser
    }

    pub fn record(self) -> bool {
        self == Self::Record
    }

    pub fn expected(self) -> Expected {
        let (state, reason) = match self {
            Self::Happy | Self::Record | Self::Browser => (CallState::Completed, None),
            Self::Busy => (CallState::Failed, Some("recipient_busy")),
            Self::NoAnswer => (CallState::Failed, Some("recipient_no_answer")),
            Self::AgentNoAnswer => (CallState::Failed, Some("agent_no_answer")),
        };
        Expected {
            state,
            reason,
            recording: self.record(),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Expected {
    /// Whether a call that ended as `state`/`reason`, with or without a recording, is this.
    pub fn is_met(&self, state: CallState, reason: Option<&str>, has_recording: bool) -> bool {
        state == self.state
            && (self.reason.is_none() || reason == self.reason)
            && (has_recording || !self.recording)
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.state)?;
        if let Some(reason) = self.reason {
            write!(f, " ({reason})")?;
        }
        if self.recording {
            write!(f, " with a recording")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;
    use crate::domain::PhoneNumber;

    #[test]
    fn names_are_the_command_line_values() {
        for s in Scenario::value_variants() {
            let value = s.to_possible_value().unwrap();
            assert_eq!(value.get_name(), s.name());
        }
    }

    #[test]
    fn the_cast_are_valid_numbers() {
        for n in [CALLER_ID, AGENT_PHONE, CUSTOMER_PHONE] {
            PhoneNumber::parse(n).unwrap();
        }
    }

    #[test]
    fn behaviours_parse_as_the_simulator_reads_them() {
        for s in Scenario::value_variants() {
            for (_, body) in s.behaviours() {
                serde_json::from_value::<twilio_sim::NumberBehaviour>(body).unwrap();
            }
        }
    }

    #[test]
    fn an_outcome_must_match_state_reason_and_recording() {
        let busy = Scenario::Busy.expected();
        assert!(busy.is_met(CallState::Failed, Some("recipient_busy"), false));
        assert!(!busy.is_met(CallState::Failed, Some("recipient_no_answer"), false));
        assert!(!busy.is_met(CallState::Completed, None, false));
        let record = Scenario::Record.expected();
        assert!(!record.is_met(CallState::Completed, None, false));
        assert!(record.is_met(CallState::Completed, None, true));
        assert_eq!(record.to_string(), "completed with a recording");
    }
}

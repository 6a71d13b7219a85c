//! What a call's state and reason mean, in words for people; the live panel gets the same
//! words from the page, so a call reads the same on every page.

use crate::domain::CallState;

pub(super) fn state(state: CallState) -> &'static str {
    match state {
        CallState::Created => "Starting the call…",
        CallState::AgentRinging => "Ringing your phone…",
        CallState::AgentAnswered => "You answered: press a key to ring the customer",
        CallState::RecipientRinging => "Ringing the customer…",
        CallState::Connected => "Connected",
        CallState::Completed => "Call ended",
        CallState::Failed => "Call failed",
    }
}

/// The reasons `calls::flow::Reason` stores, in words.
pub(super) const REASONS: [(&str, &str); 12] = [
    ("agent_busy", "your phone was busy"),
    ("agent_no_answer", "you did not answer your phone"),
    ("agent_failed", "your phone could not be rung"),
    ("agent_hung_up", "you hung up before the customer answered"),
    ("recipient_busy", "the customer's line was busy"),
    ("recipient_no_answer", "the customer did not answer"),
    (
        "recipient_failed",
        "the customer's number could not be rung",
    ),
    ("canceled", "the call was canceled"),
    ("twilio_error", "Twilio refused the call"),
    (
        "twilio_rate_limited",
        "Twilio was rate limiting calls: try again shortly",
    ),
    (
        "twilio_unavailable",
        "Twilio could not be reached: try again shortly",
    ),
    ("twilio_timeout", "Twilio did not answer in time"),
];

pub(super) fn reason(code: &str) -> String {
    REASONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| code.replace('_', " "), |(_, words)| (*words).to_owned())
}

/// `{"agent_busy": "…", …}` and `{"connected": "Connected", …}`, for the live panel.
pub(super) fn for_the_page() -> (String, String) {
    let json = |pairs: &mut dyn Iterator<Item = (&str, &str)>| {
        let map: serde_json::Map<String, serde_json::Value> = pairs
            .map(|(c, w)| (c.to_owned(), serde_json::Value::from(w)))
            .collect();
        serde_json::Value::Object(map).to_string()
    };
    let reasons = json(&mut REASONS.iter().copied());
    let states = json(&mut CallState::ALL.iter().map(|s| (s.as_str(), state(*s))));
    (reasons, states)
}

pub(super) fn duration(secs: Option<i64>) -> String {
    match secs {
        Some(s) if s >= 0 => format!("{}:{:02}", s / 60, s % 60),
        _ => "–".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_the_flow_stores_has_words() {
        use crate::calls::flow::Reason::{self, *};
        // Exhaustive, so that a new reason does not compile until it has words.
        let every = |r: Reason| match r {
            AgentBusy | AgentNoAnswer | AgentFailed | AgentHungUp | RecipientBusy
            | RecipientNoAnswer | RecipientFailed | Canceled | TwilioError | TwilioRateLimited
            | TwilioUnavailable | TwilioTimeout => r,
        };
        for reason in [
            AgentBusy,
            AgentNoAnswer,
            AgentFailed,
            AgentHungUp,
            RecipientBusy,
            RecipientNoAnswer,
            RecipientFailed,
            Canceled,
            TwilioError,
            TwilioRateLimited,
            TwilioUnavailable,
            TwilioTimeout,
        ] {
            let code = every(reason).as_str();
            assert!(
                REASONS.iter().any(|(c, _)| *c == code),
                "{code} has no words"
            );
        }
        assert_eq!(duration(Some(75)), "1:15");
        assert_eq!(duration(None), "–");
    }
}

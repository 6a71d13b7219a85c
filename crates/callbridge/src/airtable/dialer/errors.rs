//! Why an agent's request about a session is refused; the messages are meant for the agent.

use crate::store::SessionState;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialerError {
    #[error("this campaign rings its agent per record; sessions need \"mode\": \"session\"")]
    NotASessionCampaign,
    #[error("the campaign is not running, so it cannot be joined")]
    NotRunning,
    #[error("you are not in this campaign's session: join it first")]
    NotInSession,
    #[error("mode must be \"phone\" or \"browser\"")]
    Mode,
    #[error(
        "calling from the browser is not set up here (it needs {0}): join with \"mode\": \"phone\""
    )]
    BrowserUnavailable(String),
    #[error("you have no verified phone to join with")]
    NoPhone,
    #[error("your session is {}; it cannot {what}", .now.as_str())]
    CannotNow {
        now: SessionState,
        what: &'static str,
    },
    #[error("outcome is required: one of {}", .0.join(", "))]
    NoOutcome(Vec<String>),
    #[error("{asked:?} is not one of this campaign's outcomes: {}", .known.join(", "))]
    UnknownOutcome { asked: String, known: Vec<String> },
    #[error("notes must be at most {0} characters")]
    NotesTooLong(usize),
}

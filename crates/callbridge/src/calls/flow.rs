//! The call's state machine, without I/O: given where a call is and one fact a webhook told us,
//! where it goes next, why, and what must be done about it.
//!
//! Twilio retries callbacks and does not deliver them in order, so the rules are written to give
//! the same final state whatever order the facts of one call arrive in:
//! - a state only ever moves forward, and a final state never moves at all;
//! - a call ends only on a fact that settles it (a leg's final status, the conference's end once
//!   both parties were in it), never on one that a late callback could contradict;
//! - the agent hanging up while the customer still rings ends the customer's leg, and the
//!   customer's final status then settles the call;
//! - once one party is gone for good, the other is released, even if they never met in the
//!   conference (the customer may hang up before a slow agent joins it).

use serde::{Deserialize, Serialize};

use crate::domain::{CallMode, CallState, LegRole};

/// Twilio's CallStatus, as call status callbacks report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegStatus {
    Queued,
    Initiated,
    Ringing,
    InProgress,
    Completed,
    Busy,
    NoAnswer,
    Failed,
    Canceled,
}

impl LegStatus {
    #[cfg(test)]
    pub const ALL: [Self; 9] = [
        Self::Queued,
        Self::Initiated,
        Self::Ringing,
        Self::InProgress,
        Self::Completed,
        Self::Busy,
        Self::NoAnswer,
        Self::Failed,
        Self::Canceled,
    ];

    /// `None` for a status Twilio might add later; such a callback is stored but moves nothing.
    pub fn parse(twilio: &str) -> Option<Self> {
        Some(match twilio {
            "queued" => Self::Queued,
            "initiated" => Self::Initiated,
            "ringing" => Self::Ringing,
            "in-progress" | "answered" => Self::InProgress,
            "completed" => Self::Completed,
            "busy" => Self::Busy,
            "no-answer" => Self::NoAnswer,
            "failed" => Self::Failed,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Initiated => "initiated",
            Self::Ringing => "ringing",
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::NoAnswer => "no-answer",
            Self::Failed => "failed",
            Self::Canceled => "canceled",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Busy | Self::NoAnswer | Self::Failed | Self::Canceled
        )
    }
}

/// Something a webhook established about a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// A leg's call status callback.
    Leg { role: LegRole, status: LegStatus },
    /// The agent's `<Gather>` ended: a key was pressed, or the agent stayed silent and the
    /// setting says to connect anyway.
    AgentReady,
    /// Twilio would not create the customer's leg, for this reason (one of the `Twilio…`).
    RecipientDialFailed(Reason),
    /// A participant joined the conference.
    Joined(LegRole),
    /// The conference ended.
    ConferenceEnded,
}

/// Why a call failed; stored as the call's `reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    AgentBusy,
    AgentNoAnswer,
    AgentFailed,
    /// The agent answered and hung up before the customer was dialled.
    AgentHungUp,
    RecipientBusy,
    RecipientNoAnswer,
    RecipientFailed,
    Canceled,
    TwilioError,
    /// Twilio answered 429: it placed nothing.
    TwilioRateLimited,
    /// Twilio failed (5xx) or could not be reached: it placed nothing.
    TwilioUnavailable,
    /// Twilio gave no usable answer in time: the leg's fate is unknown.
    TwilioTimeout,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentBusy => "agent_busy",
            Self::AgentNoAnswer => "agent_no_answer",
            Self::AgentFailed => "agent_failed",
            Self::AgentHungUp => "agent_hung_up",
            Self::RecipientBusy => "recipient_busy",
            Self::RecipientNoAnswer => "recipient_no_answer",
            Self::RecipientFailed => "recipient_failed",
            Self::Canceled => "canceled",
            Self::TwilioError => "twilio_error",
            Self::TwilioRateLimited => "twilio_rate_limited",
            Self::TwilioUnavailable => "twilio_unavailable",
            Self::TwilioTimeout => "twilio_timeout",
        }
    }

    /// What the agent hears before being hung up, when the reason is worth telling.
    pub fn spoken(self) -> &'static str {
        match self {
            Self::RecipientBusy => "The customer's line is busy. Goodbye.",
            Self::RecipientNoAnswer => "The customer did not answer. Goodbye.",
            Self::RecipientFailed => "The call to the customer could not be placed. Goodbye.",
            Self::TwilioError
            | Self::TwilioRateLimited
            | Self::TwilioUnavailable
            | Self::TwilioTimeout => "Sorry, the customer could not be dialled. Goodbye.",
            Self::Canceled => "The call was canceled. Goodbye.",
            Self::AgentBusy | Self::AgentNoAnswer | Self::AgentFailed | Self::AgentHungUp => {
                "Goodbye."
            }
        }
    }
}

/// Work that follows a transition: queued with it, done once by an effects worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Action {
    /// Create the customer's leg.
    DialRecipient,
    /// Replace the agent's TwiML with the reason spoken, then a hang-up.
    TellAgent { reason: Reason },
    /// End this party's leg: the other is gone, nobody would be there to talk to. A leg that
    /// already ended is left alone.
    EndLeg { role: LegRole },
    /// Put this party on hold (they hear the hold music) or take them off it.
    Hold { role: LegRole, hold: bool },
    /// Mute or unmute this party.
    Mute { role: LegRole, muted: bool },
    /// Dial the third party the call's latest control event names into the conference.
    DialThird,
    /// The third party takes the agent's place: their leaving ends the conference from now on,
    /// and the agent's leg is ended without ending it.
    HandOver,
}

/// The outcome of one fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `None` when the state stays as it is.
    pub to: Option<(CallState, Option<Reason>)>,
    pub actions: Vec<Action>,
}

impl Step {
    fn stay() -> Self {
        Self {
            to: None,
            actions: Vec::new(),
        }
    }

    fn go(state: CallState) -> Self {
        Self {
            to: Some((state, None)),
            actions: Vec::new(),
        }
    }

    fn fail(reason: Reason) -> Self {
        Self {
            to: Some((CallState::Failed, Some(reason))),
            actions: Vec::new(),
        }
    }

    fn then(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }

    #[cfg(test)]
    pub fn is_noop(&self) -> bool {
        self.to.is_none() && self.actions.is_empty()
    }
}

/// How far a call has come; final states rank highest.
pub fn rank(state: CallState) -> u8 {
    match state {
        CallState::Created => 0,
        CallState::AgentRinging => 1,
        CallState::AgentAnswered => 2,
        CallState::RecipientRinging => 3,
        CallState::Connected => 4,
        CallState::Completed | CallState::Failed => 5,
    }
}

/// Where `fact` takes a call that is in `state`.
pub fn next(state: CallState, fact: Fact) -> Step {
    use CallState::{AgentAnswered, AgentRinging, Connected, Created, RecipientRinging};
    if state.is_final() {
        return Step::stay();
    }
    let before_dial = matches!(state, Created | AgentRinging | AgentAnswered);
    let step = match fact {
        Fact::Leg {
            role: LegRole::Agent,
            status,
        } => match status {
            LegStatus::Queued | LegStatus::Initiated => Step::stay(),
            LegStatus::Ringing if state == Created => Step::go(AgentRinging),
            LegStatus::InProgress if matches!(state, Created | AgentRinging) => {
                Step::go(AgentAnswered)
            }
            LegStatus::Ringing | LegStatus::InProgress => Step::stay(),
            last if before_dial => Step::fail(agent_reason(last)),
            // Whether the customer had answered is theirs to say: their leg is ended, and its
            // final status settles the call.
            _ if state == RecipientRinging => Step::stay().then(Action::EndLeg {
                role: LegRole::Recipient,
            }),
            _ => Step::go(CallState::Completed).then(Action::EndLeg {
                role: LegRole::Recipient,
            }),
        },
        // A third party's leg is call control's business (`calls::control`): the call's state
        // does not depend on it.
        Fact::Leg {
            role: LegRole::Third,
            ..
        } => Step::stay(),
        Fact::Leg {
            role: LegRole::Recipient,
            status,
        } => match status {
            _ if before_dial => Step::stay(),
            LegStatus::Queued | LegStatus::Initiated | LegStatus::Ringing => Step::stay(),
            LegStatus::InProgress if state == RecipientRinging => Step::go(Connected),
            LegStatus::InProgress => Step::stay(),
            LegStatus::Completed => Step::go(CallState::Completed).then(Action::EndLeg {
                role: LegRole::Agent,
            }),
            unreached if state == RecipientRinging => {
                let reason = recipient_reason(unreached);
                Step::fail(reason).then(Action::TellAgent { reason })
            }
            // Connected, so the customer had answered: whatever ends the leg ends the call.
            _ => Step::go(CallState::Completed).then(Action::EndLeg {
                role: LegRole::Agent,
            }),
        },
        Fact::AgentReady if before_dial => Step::go(RecipientRinging).then(Action::DialRecipient),
        Fact::AgentReady => Step::stay(),
        // The agent waits in the conference for a customer who will not come.
        Fact::RecipientDialFailed(reason) if state == RecipientRinging => {
            Step::fail(reason).then(Action::TellAgent { reason })
        }
        Fact::RecipientDialFailed(_) => Step::stay(),
        Fact::Joined(LegRole::Recipient) if state == RecipientRinging => Step::go(Connected),
        Fact::Joined(_) => Step::stay(),
        Fact::ConferenceEnded if state == Connected => Step::go(CallState::Completed),
        Fact::ConferenceEnded => Step::stay(),
    };
    debug_assert!(
        step.to.is_none_or(|(to, _)| rank(to) > rank(state)),
        "{state:?} + {fact:?} went backwards: {step:?}"
    );
    step
}

fn agent_reason(status: LegStatus) -> Reason {
    match status {
        LegStatus::Busy => Reason::AgentBusy,
        LegStatus::NoAnswer => Reason::AgentNoAnswer,
        LegStatus::Canceled => Reason::Canceled,
        LegStatus::Completed => Reason::AgentHungUp,
        _ => Reason::AgentFailed,
    }
}

fn recipient_reason(status: LegStatus) -> Reason {
    match status {
        LegStatus::Busy => Reason::RecipientBusy,
        LegStatus::NoAnswer => Reason::RecipientNoAnswer,
        LegStatus::Canceled => Reason::Canceled,
        _ => Reason::RecipientFailed,
    }
}

/// What happened in a call's conference, as its status callback says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConferenceChange {
    /// A participant joined; their leg, when known.
    Joined(Option<LegRole>),
    /// A participant left; their leg, when our TwiML labelled it.
    Left(Option<LegRole>),
    Ended,
    /// Anything else (`conference-start`, a mute, …): stored, and moves nothing.
    Other,
}

/// The fact a conference change establishes for a call in `mode`, if any.
pub fn conference_fact(mode: CallMode, change: ConferenceChange) -> Option<Fact> {
    let browser = mode == CallMode::Browser;
    match change {
        // A browser agent is dialled into nothing first: being in the conference is what makes
        // them ready for the customer.
        ConferenceChange::Joined(Some(LegRole::Agent)) if browser => Some(Fact::AgentReady),
        ConferenceChange::Joined(role) => role.map(Fact::Joined),
        // Nothing follows the browser's `<Dial>`: leaving the conference ends its call. Said
        // here too, because the App's Status Callback may not be set.
        ConferenceChange::Left(Some(LegRole::Agent)) if browser => Some(Fact::Leg {
            role: LegRole::Agent,
            status: LegStatus::Completed,
        }),
        ConferenceChange::Left(_) | ConferenceChange::Other => None,
        ConferenceChange::Ended => Some(Fact::ConferenceEnded),
    }
}

#[cfg(test)]
mod tests;

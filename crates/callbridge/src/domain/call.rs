use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DomainError;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The text stored in the database and shown in the API.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(DomainError::UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }
    };
}

text_enum!(
    /// Where a call is in its life. `completed` and `failed` are final.
    CallState, "call state" {
        Created => "created",
        AgentRinging => "agent_ringing",
        AgentAnswered => "agent_answered",
        RecipientRinging => "recipient_ringing",
        Connected => "connected",
        Completed => "completed",
        Failed => "failed",
    }
);

impl CallState {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

text_enum!(
    /// Which party a call leg rings: the agent, the customer, or a third party the agent added
    /// to the call or is transferring it to.
    LegRole, "leg role" {
        Agent => "agent",
        Recipient => "recipient",
        Third => "third",
    }
);

text_enum!(
    /// Where the agent talks from: their phone, which we ring, or a browser, which calls us.
    CallMode, "call mode" {
        Phone => "phone",
        Browser => "browser",
    }
);

text_enum!(
    /// Which kind of Twilio callback an event came from, or `control` for what the agent asked
    /// of a connected call (hold, mute, transfer, a party added or removed).
    EventSource, "event source" {
        Call => "call",
        Conference => "conference",
        Recording => "recording",
        Control => "control",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_round_trips_through_text_and_json() {
        for s in CallState::ALL {
            assert_eq!(s.as_str().parse::<CallState>().unwrap(), *s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for r in LegRole::ALL {
            assert_eq!(r.as_str().parse::<LegRole>().unwrap(), *r);
        }
        for e in EventSource::ALL {
            assert_eq!(e.as_str().parse::<EventSource>().unwrap(), *e);
        }
    }

    #[test]
    fn only_completed_and_failed_are_final() {
        let finals: Vec<_> = CallState::ALL.iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals, [&CallState::Completed, &CallState::Failed]);
    }

    #[test]
    fn unknown_text_is_an_error_naming_the_kind() {
        let err = "ringing".parse::<CallState>().unwrap_err();
        assert_eq!(err.to_string(), "unknown call state \"ringing\"");
    }
}

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::DomainError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh time-ordered (v7) id, so ids sort by creation in the database too.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self).map_err(|_| DomainError::InvalidId(s.to_owned()))
            }
        }
    };
}

uuid_id!(
    /// An agent (a person who places calls).
    AgentId
);
uuid_id!(
    /// One outbound call: an agent leg, a recipient leg and their conference.
    CallId
);
uuid_id!(
    /// One stored webhook.
    EventId
);

impl CallId {
    /// The Twilio conference name of this call. Conference names are account-wide, so they are
    /// derived from our id and never taken from the user.
    pub fn conference_name(&self) -> String {
        format!("cb-{self}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = CallId::new();
        assert_eq!(id.to_string().parse::<CallId>().unwrap(), id);
        assert!("not-a-uuid".parse::<AgentId>().is_err());
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = EventId::new();
        let b = EventId::new();
        assert!(a.to_string() < b.to_string());
    }

    #[test]
    fn conference_name_is_derived_from_the_id() {
        let id = CallId::new();
        assert_eq!(id.conference_name(), format!("cb-{id}"));
    }
}

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{AgentId, DomainError, PhoneNumber};

/// How Twilio addresses a Voice SDK client in `From`/`To`: `client:<identity>`.
const CLIENT_SCHEME: &str = "client:";
/// What an agent's identity starts with; the rest is its id's hex digits.
const AGENT_PREFIX: &str = "agent_";
/// Twilio's limit on a client identity.
pub const MAX_IDENTITY_CHARS: usize = 121;

/// The name a browser agent's Voice SDK client is known by at Twilio: `agent_` and the agent's
/// id, so that it is stable, says nothing about the person (never their email) and leads back
/// to the agent without a lookup table. Only `[A-Za-z0-9_]`, which every Twilio product takes.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientIdentity(String);

impl ClientIdentity {
    pub fn for_agent(agent: AgentId) -> Self {
        Self(format!("{AGENT_PREFIX}{}", agent.as_uuid().simple()))
    }

    /// Any identity Twilio would send, ours or not.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let valid = !input.is_empty()
            && input.chars().count() <= MAX_IDENTITY_CHARS
            && input.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(Self(input.to_owned()))
        } else {
            Err(DomainError::InvalidIdentity(format!(
                "client identity {input:?} must be 1 to {MAX_IDENTITY_CHARS} letters, digits or _"
            )))
        }
    }

    /// The agent this identity was made for; `None` for one we did not make.
    pub fn agent_id(&self) -> Option<AgentId> {
        let hex = self.0.strip_prefix(AGENT_PREFIX)?;
        (hex.len() == 32).then_some(())?;
        hex.parse().ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientIdentity").field(&self.0).finish()
    }
}

impl fmt::Display for ClientIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for ClientIdentity {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ClientIdentity> for String {
    fn from(identity: ClientIdentity) -> Self {
        identity.0
    }
}

/// Where a leg rings: a phone, or a Voice SDK client in a browser. Stored and sent to Twilio as
/// Twilio writes it: `+14155550100` or `client:agent_…`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Endpoint {
    Phone(PhoneNumber),
    Client(ClientIdentity),
}

impl Endpoint {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        match input.trim().strip_prefix(CLIENT_SCHEME) {
            Some(identity) => ClientIdentity::parse(identity).map(Self::Client),
            None => PhoneNumber::parse(input).map(Self::Phone),
        }
    }

    /// An endpoint this service stored; see [`PhoneNumber::from_stored`].
    pub fn from_stored(raw: String) -> Result<Self, DomainError> {
        match raw.strip_prefix(CLIENT_SCHEME) {
            Some(identity) => ClientIdentity::parse(identity).map(Self::Client),
            None => PhoneNumber::from_stored(raw).map(Self::Phone),
        }
    }

    pub fn phone(&self) -> Option<&PhoneNumber> {
        match self {
            Self::Phone(phone) => Some(phone),
            Self::Client(_) => None,
        }
    }

    /// As Twilio writes it.
    pub fn to_twilio(&self) -> String {
        match self {
            Self::Phone(phone) => phone.as_str().to_owned(),
            Self::Client(identity) => format!("{CLIENT_SCHEME}{identity}"),
        }
    }

    /// The form for log lines: a phone masked, a client's identity whole (it names nobody).
    pub fn masked(&self) -> String {
        match self {
            Self::Phone(phone) => phone.masked(),
            Self::Client(_) => self.to_twilio(),
        }
    }
}

impl From<PhoneNumber> for Endpoint {
    fn from(phone: PhoneNumber) -> Self {
        Self::Phone(phone)
    }
}

impl From<ClientIdentity> for Endpoint {
    fn from(identity: ClientIdentity) -> Self {
        Self::Client(identity)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.masked()).finish()
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_twilio())
    }
}

impl FromStr for Endpoint {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Endpoint {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Endpoint> for String {
    fn from(endpoint: Endpoint) -> Self {
        endpoint.to_twilio()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_agents_identity_leads_back_to_the_agent() {
        let agent = AgentId::new();
        let identity = ClientIdentity::for_agent(agent);
        assert!(identity.as_str().starts_with("agent_"));
        assert_eq!(identity.as_str().len(), 38);
        assert_eq!(ClientIdentity::parse(identity.as_str()).unwrap(), identity);
        assert_eq!(identity.agent_id(), Some(agent));
    }

    #[test]
    fn identities_we_did_not_make_name_no_agent() {
        for other in [
            "alice",
            "agent_",
            "agent_xyz",
            "agent_0190a5f400007000800000000000000",
        ] {
            assert_eq!(
                ClientIdentity::parse(other).unwrap().agent_id(),
                None,
                "{other}"
            );
        }
    }

    #[test]
    fn endpoints_read_back_as_twilio_writes_them() {
        let phone = Endpoint::parse("+14155550100").unwrap();
        assert_eq!(phone.phone().map(PhoneNumber::as_str), Some("+14155550100"));
        let client = Endpoint::parse("client:agent_1").unwrap();
        assert_eq!(client.to_twilio(), "client:agent_1");
        assert_eq!(client.phone(), None);
        assert!(Endpoint::parse("client:").is_err());
        assert!(Endpoint::parse("client:a b").is_err());
        assert_eq!(format!("{phone:?}"), "Endpoint(\"+1415***0100\")");
    }

    proptest! {
        #[test]
        fn identities_take_word_characters_up_to_twilios_limit(s in "\\PC{0,130}") {
            let valid = !s.is_empty()
                && s.chars().count() <= MAX_IDENTITY_CHARS
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            prop_assert_eq!(ClientIdentity::parse(&s).is_ok(), valid);
        }

        #[test]
        fn every_valid_identity_round_trips_as_an_endpoint(s in "[A-Za-z0-9_]{1,121}") {
            let endpoint = Endpoint::parse(&format!("client:{s}")).unwrap();
            prop_assert_eq!(endpoint.to_twilio().parse::<Endpoint>().unwrap(), endpoint);
        }
    }
}

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DomainError;

/// An email address, lower-cased so one mailbox is one agent.
///
/// The check is deliberately practical rather than RFC 5322 complete: Twilio Verify is what proves
/// the address exists; this only refuses what can never be an address. `Debug` masks it
/// (`a***@example.com`), so an address inside a logged value never reaches a log whole.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let invalid = |why: &str| DomainError::InvalidEmail(format!("email {input:?} {why}"));
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(DomainError::InvalidEmail("email is empty".into()));
        }
        if trimmed.len() > MAX_LEN {
            return Err(invalid("is longer than 254 characters"));
        }
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("contains spaces or control characters"));
        }
        let Some((local, domain)) = trimmed.split_once('@') else {
            return Err(invalid("has no @"));
        };
        if domain.contains('@') {
            return Err(invalid("has more than one @"));
        }
        if local.is_empty() || local.len() > MAX_LOCAL_LEN {
            return Err(invalid("needs 1 to 64 characters before the @"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(invalid("has a misplaced dot before the @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= MAX_LABEL_LEN
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(invalid(
                "has no valid domain after the @ (like example.com)",
            ));
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form for log lines: `a***@example.com`.
    pub fn masked(&self) -> String {
        super::mask::email(&self.0)
    }

    /// The part after the `@`, for the `ALLOWED_EMAIL_DOMAINS` check.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.masked()).finish()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_them() {
        let e = EmailAddress::parse(" Ada.Lovelace+calls@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "ada.lovelace+calls@example.com");
        assert_eq!(e.domain(), "example.com");
    }

    #[test]
    fn refuses_what_cannot_be_an_address() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@-b.com",
            "a@b..com",
            ".a@b.com",
            "a..b@c.com",
            "a@b.com\n",
        ] {
            assert!(
                EmailAddress::parse(bad).is_err() || bad.trim() != bad,
                "{bad:?} was accepted"
            );
        }
        assert!(EmailAddress::parse(&format!("{}@b.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn error_names_the_input() {
        let err = EmailAddress::parse("nobody").unwrap_err();
        assert_eq!(err.to_string(), "email \"nobody\" has no @");
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in "\\PC{0,80}") {
            let _ = EmailAddress::parse(&input);
        }

        #[test]
        fn generated_addresses_round_trip(
            local in "[a-z0-9]([a-z0-9._+-]{0,20}[a-z0-9])?",
            domain in "[a-z0-9]{1,10}(\\.[a-z]{2,6}){1,2}",
        ) {
            prop_assume!(!local.contains(".."));
            let raw = format!("{local}@{domain}");
            let e = EmailAddress::parse(&raw).unwrap();
            prop_assert_eq!(e.as_str(), raw.as_str());
            prop_assert_eq!(e.domain(), domain.as_str());
        }
    }
}

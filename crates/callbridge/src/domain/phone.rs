use std::fmt;
use std::str::FromStr;

use phonenumber::Mode;
use phonenumber::metadata::DATABASE;
use serde::{Deserialize, Serialize};

use super::DomainError;

/// A dialable phone number, always held in E.164 (`+14155550100`). `Debug` masks it
/// (`+1415***0100`), so a number inside a logged value never reaches a log whole.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// Accepts any international notation (`+1 (415) 555-0100`) and normalises it to E.164.
    /// A leading `+` and country code are required: without them the number's country is a guess.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(DomainError::InvalidPhoneNumber(
                "phone number is empty: use E.164, e.g. +14155550100".into(),
            ));
        }
        if !trimmed.starts_with('+') {
            return Err(DomainError::InvalidPhoneNumber(format!(
                "phone number {trimmed:?} has no country code: use E.164, e.g. +14155550100"
            )));
        }
        let parsed = phonenumber::parse(None, trimmed).map_err(|e| {
            DomainError::InvalidPhoneNumber(format!("phone number {trimmed:?} is not valid: {e}"))
        })?;
        if !phonenumber::is_valid(&parsed) {
            return Err(DomainError::InvalidPhoneNumber(format!(
                "phone number {trimmed:?} is not a valid number for its country"
            )));
        }
        Ok(Self(parsed.format().mode(Mode::E164).to_string()))
    }

    /// What people type, in the notation of `region` (ISO 3166, such as `US`) unless it starts
    /// with `+` or the international `00`: `(415) 555-0100` in `US` is `+14155550100`.
    pub fn parse_in(input: &str, region: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        if trimmed.starts_with('+') {
            return Self::parse(trimmed);
        }
        if let Some(rest) = trimmed.strip_prefix("00") {
            return Self::parse(&format!("+{rest}"));
        }
        let country = region.parse::<phonenumber::country::Id>().map_err(|_| {
            DomainError::InvalidPhoneNumber(format!("{region:?} is not a country code"))
        })?;
        let parsed = phonenumber::parse(Some(country), trimmed).map_err(|e| {
            DomainError::InvalidPhoneNumber(format!("phone number {trimmed:?} is not valid: {e}"))
        })?;
        Self::parse(&parsed.format().mode(Mode::E164).to_string())
    }

    /// A number this service stored after [`PhoneNumber::parse`]: only its E.164 shape is
    /// checked. Reading a call log would otherwise look every number up in the numbering plans
    /// again, which costs more than the rest of decoding the row.
    pub fn from_stored(e164: String) -> Result<Self, DomainError> {
        let digits = e164.strip_prefix('+').unwrap_or_default();
        if (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(e164))
        } else {
            Err(DomainError::InvalidPhoneNumber(format!(
                "stored phone number {:?} is not E.164",
                super::mask::phone(&e164)
            )))
        }
    }

    /// A number written in E.164, perhaps with spaces, dashes, dots or parentheses, taken by
    /// its shape alone: `+1 (415) 555-0100` is `+14155550100`. The numbering plans take over a
    /// hundred milliseconds to load, which a start-up must not wait for; [`PhoneNumber::check`]
    /// looks the number up in them later.
    pub fn by_shape(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.trim();
        if !trimmed.starts_with('+') {
            return Err(DomainError::InvalidPhoneNumber(format!(
                "phone number {:?} has no country code: use E.164, e.g. +14155550100",
                super::mask::phone(trimmed)
            )));
        }
        let digits: String = trimmed
            .chars()
            .skip(1)
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let shaped = (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if !shaped {
            return Err(DomainError::InvalidPhoneNumber(format!(
                "phone number {:?} is not E.164: + and 7 to 15 digits, e.g. +14155550100",
                super::mask::phone(trimmed)
            )));
        }
        Ok(Self(format!("+{digits}")))
    }

    /// Whether the number is valid in its country's numbering plan, as [`PhoneNumber::parse`]
    /// would find it.
    pub fn check(&self) -> Result<(), DomainError> {
        let parsed = Self::parse(&self.0).map_err(|_| {
            DomainError::InvalidPhoneNumber(format!(
                "phone number {:?} is not a valid number for its country",
                self.masked()
            ))
        })?;
        if parsed != *self {
            return Err(DomainError::InvalidPhoneNumber(format!(
                "phone number {:?} is not in its E.164 form",
                self.masked()
            )));
        }
        Ok(())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the number falls under an E.164 prefix such as `+1` or `+44`.
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }

    /// The form for log lines: `+1415***0100`.
    pub fn masked(&self) -> String {
        super::mask::phone(&self.0)
    }

    /// The number's region (ISO 3166 code such as `US`, `JM`) and kind of line, from the
    /// numbering plan's metadata.
    pub fn line(&self) -> Line {
        let Ok(parsed) = phonenumber::parse(None, &self.0) else {
            return Line {
                region: None,
                calling_code: 0,
                kind: LineKind::Unknown,
            };
        };
        let region = parsed
            .metadata(&DATABASE)
            .map(|m| m.id().to_owned())
            .filter(|id| id.len() == 2 && id.bytes().all(|b| b.is_ascii_uppercase()));
        Line {
            region,
            calling_code: parsed.code().value(),
            kind: LineKind::from_metadata(parsed.number_type(&DATABASE)),
        }
    }
}

/// Where a number rings and what kind of line it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `None` for numbers of no country (international networks such as +882).
    pub region: Option<String>,
    pub calling_code: u16,
    pub kind: LineKind,
}

/// The kinds of line the numbering plans tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    FixedLine,
    Mobile,
    /// Plans such as North America's do not tell the two apart.
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Personal,
    Voip,
    Pager,
    Uan,
    Voicemail,
    /// Emergency, short codes and whatever a plan describes without a kind we can dial.
    Other,
    Unknown,
}

impl LineKind {
    fn from_metadata(kind: phonenumber::Type) -> Self {
        use phonenumber::Type;
        match kind {
            Type::FixedLine => Self::FixedLine,
            Type::Mobile => Self::Mobile,
            Type::FixedLineOrMobile => Self::FixedLineOrMobile,
            Type::TollFree => Self::TollFree,
            Type::PremiumRate => Self::PremiumRate,
            Type::SharedCost => Self::SharedCost,
            Type::PersonalNumber => Self::Personal,
            Type::Voip => Self::Voip,
            Type::Pager => Self::Pager,
            Type::Uan => Self::Uan,
            Type::Voicemail => Self::Voicemail,
            Type::Unknown => Self::Unknown,
            Type::Emergency
            | Type::ShortCode
            | Type::StandardRate
            | Type::Carrier
            | Type::NoInternational => Self::Other,
        }
    }

    /// How a person would name the kind, e.g. in "premium-rate numbers are never dialled".
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FixedLine => "fixed-line",
            Self::Mobile => "mobile",
            Self::FixedLineOrMobile => "fixed-line or mobile",
            Self::TollFree => "toll-free",
            Self::PremiumRate => "premium-rate",
            Self::SharedCost => "shared-cost",
            Self::Personal => "personal",
            Self::Voip => "VoIP",
            Self::Pager => "pager",
            Self::Uan => "universal access (UAN)",
            Self::Voicemail => "voicemail access",
            Self::Other => "special-service",
            Self::Unknown => "unknown-type",
        }
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for PhoneNumber {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PhoneNumber> for String {
    fn from(value: PhoneNumber) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn numbers_as_people_type_them_are_read_in_the_local_notation() {
        let us = |raw| PhoneNumber::parse_in(raw, "US").map(|p| p.as_str().to_owned());
        assert_eq!(us("(415) 555-0100").unwrap(), "+14155550100");
        assert_eq!(us("415.555.0100").unwrap(), "+14155550100");
        assert_eq!(us("+44 20 7183 8750").unwrap(), "+442071838750");
        assert_eq!(us("0044 20 7183 8750").unwrap(), "+442071838750");
        assert!(us("555").is_err());
        assert!(us("").is_err());
        assert!(PhoneNumber::parse_in("020 7183 8750", "GB").is_ok());
    }

    #[test]
    fn normalises_national_punctuation_to_e164() {
        let n = PhoneNumber::parse(" +1 (415) 555-0100 ").unwrap();
        assert_eq!(n.as_str(), "+14155550100");
        assert_eq!(
            PhoneNumber::parse("+44 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
    }

    #[test]
    fn refuses_numbers_without_country_code() {
        let err = PhoneNumber::parse("4155550100").unwrap_err();
        assert!(err.to_string().contains("no country code"), "{err}");
    }

    #[test]
    fn refuses_garbage_and_impossible_numbers() {
        for bad in [
            "",
            "+",
            "+1",
            "+1415",
            "hello",
            "+1 415 555 0100 99999",
            "+999123456",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn fictional_555_01xx_and_twilio_test_numbers_pass_but_area_code_555_does_not() {
        // Tests should use numbers like +14155550100: a +1555… number has no valid area code.
        for ok in [
            "+14155550100",
            "+12025550123",
            "+15005550006",
            "+18005551212",
        ] {
            assert!(PhoneNumber::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in ["+15551234567", "+15550001111"] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn checks_prefixes_on_the_normalised_form() {
        let n = PhoneNumber::parse("+44 20 7946 0958").unwrap();
        assert!(n.has_prefix("+44"));
        assert!(!n.has_prefix("+1"));
    }

    #[test]
    fn deserialises_through_parse() {
        let n: PhoneNumber = serde_json::from_str("\"+1 415 555 0100\"").unwrap();
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"+14155550100\"");
        assert!(serde_json::from_str::<PhoneNumber>("\"555\"").is_err());
    }

    #[test]
    fn a_written_number_is_taken_by_its_shape_and_checked_later() {
        let n = PhoneNumber::by_shape(" +1 (415) 555-0100 ").unwrap();
        assert_eq!(n.as_str(), "+14155550100");
        assert!(n.check().is_ok());
        // The right shape, but no such number in the plan.
        let unplanned = PhoneNumber::by_shape("+1 555 000 0000").unwrap();
        assert!(unplanned.check().is_err());
        for refused in [
            "4155550100",
            "+1415",
            "+1 415 555 0100 ext",
            "+0123456789",
            "",
            "+",
        ] {
            assert!(PhoneNumber::by_shape(refused).is_err(), "{refused:?}");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_output_is_canonical(input in "\\PC{0,24}") {
            if let Ok(n) = PhoneNumber::parse(&input) {
                prop_assert!(n.as_str().starts_with('+'));
                prop_assert!(n.as_str()[1..].bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(&PhoneNumber::parse(n.as_str()).unwrap(), &n);
                prop_assert_eq!(&PhoneNumber::from_stored(n.as_str().to_owned()).unwrap(), &n);
                let shaped = PhoneNumber::by_shape(n.as_str()).unwrap();
                prop_assert!(shaped.check().is_ok());
                prop_assert_eq!(shaped, n);
            }
        }

        #[test]
        fn a_number_taken_by_shape_is_checked_as_parse_would(input in "\\+[0-9 ()-]{0,18}|\\PC{0,20}") {
            if let Ok(n) = PhoneNumber::by_shape(&input) {
                prop_assert!(n.as_str()[1..].bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(n.check().is_ok(), PhoneNumber::parse(n.as_str()).is_ok_and(|p| p == n));
            }
        }

        #[test]
        fn only_e164_shapes_are_taken_from_the_store(input in "\\+[0-9]{0,17}|\\PC{0,20}") {
            let shaped = input.len() >= 2
                && input.len() <= 16
                && input.starts_with('+')
                && input[1..].bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(PhoneNumber::from_stored(input).is_ok(), shaped);
        }

        #[test]
        fn valid_us_numbers_round_trip(area in 201u32..990, line in 0u32..10_000) {
            let raw = format!("+1{area}555{line:04}");
            if let Ok(n) = PhoneNumber::parse(&raw) {
                prop_assert_eq!(n.as_str(), raw.as_str());
            }
        }
    }
}

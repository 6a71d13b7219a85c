use std::fmt;

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string holds a character that no XML 1.0 document can contain, not even as a character
    /// reference, so Twilio could not read the TwiML.
    #[error("{place} contains U+{:04X}, which XML 1.0 cannot carry", u32::from(*.ch))]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Where it was found.
        place: Place,
    },
    /// A string is not one of the values of a closed set such as [`crate::Method`].
    #[error("{value:?} is not a valid {kind}")]
    UnknownValue {
        /// The type that was being parsed, e.g. `Method`.
        kind: &'static str,
        /// The string that was given.
        value: String,
    },
    /// The input to [`crate::xml::parse`] or [`crate::xml::equivalent`] is not well-formed XML.
    #[error("malformed XML at byte {position}: {reason}")]
    Malformed {
        /// Byte offset into the input where the problem was noticed.
        position: u64,
        /// What is wrong.
        reason: String,
    },
}

/// The text or attribute of an element in which an [`Error::InvalidChar`] was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// Element name, e.g. `Say`.
    pub element: &'static str,
    /// Attribute name, or `None` for the element's text.
    pub attribute: Option<&'static str>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attribute {
            Some(attribute) => write!(f, "attribute {attribute} of <{}>", self.element),
            None => write!(f, "text of <{}>", self.element),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_place_and_the_code_point() {
        let err = Error::InvalidChar {
            ch: '\u{1}',
            place: Place {
                element: "Say",
                attribute: None,
            },
        };
        assert_eq!(
            err.to_string(),
            "text of <Say> contains U+0001, which XML 1.0 cannot carry"
        );
        let err = Error::InvalidChar {
            ch: '\u{FFFE}',
            place: Place {
                element: "Conference",
                attribute: Some("waitUrl"),
            },
        };
        assert_eq!(
            err.to_string(),
            "attribute waitUrl of <Conference> contains U+FFFE, which XML 1.0 cannot carry"
        );
    }
}

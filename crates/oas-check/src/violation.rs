//! What a check reports: one [`Violation`] per problem.

use std::fmt;

/// The part of the exchange a violation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    /// Method and path: no operation answers them.
    Route,
    /// A path parameter.
    Path,
    /// The query string.
    Query,
    /// The request body.
    RequestBody,
    /// The response status code.
    Status,
    /// The response body.
    ResponseBody,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Route => "route",
            Self::Path => "path",
            Self::Query => "query",
            Self::RequestBody => "request body",
            Self::Status => "status",
            Self::ResponseBody => "response body",
        })
    }
}

/// What kind of problem a violation is, for tests that assert on a specific one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// No path template matches.
    NoRoute,
    /// A template matches but does not declare this method.
    MethodNotAllowed,
    /// The response status is not declared for the operation.
    UndeclaredStatus,
    /// The request's content type is not one the operation accepts.
    ContentType,
    /// A body that should be JSON does not parse.
    Syntax,
    /// A body where the operation declares none.
    UnexpectedBody,
    /// A required field, parameter or body is absent.
    MissingRequired,
    /// A value is not of the declared type (including `null` where not nullable).
    WrongType,
    /// A value is not one of the declared enum values.
    BadEnum,
    /// A string does not follow its declared format (date-time, uri, …).
    BadFormat,
    /// A string does not match its declared pattern.
    PatternMismatch,
    /// A length, count or number is outside its declared bounds.
    OutOfRange,
    /// A field, parameter or property the schema does not declare.
    Undeclared,
    /// The schema uses something this checker cannot evaluate; reported so a gap is never silent.
    Unsupported,
}

/// One problem found in a request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which part of the exchange.
    pub place: Place,
    /// JSON pointer inside that part (`""` for the whole of it; form fields are `/Name`, array
    /// items `/Name/0`).
    pub pointer: String,
    /// The kind of problem.
    pub kind: Kind,
    /// What exactly is wrong, for people.
    pub message: String,
}

impl Violation {
    pub(crate) fn new(place: Place, pointer: &str, kind: Kind, message: impl Into<String>) -> Self {
        Self {
            place,
            pointer: pointer.to_owned(),
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(root)"
        } else {
            &self.pointer
        };
        write!(f, "{} {}: {}", self.place, pointer, self.message)
    }
}

/// `pointer` extended by one reference token, escaped as RFC 6901 requires.
pub(crate) fn child(pointer: &str, token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    format!("{pointer}/{escaped}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_escaped() {
        assert_eq!(child("", "a/b~c"), "/a~1b~0c");
        assert_eq!(child("/x", "0"), "/x/0");
    }

    #[test]
    fn display_names_the_place_and_pointer() {
        let v = Violation::new(Place::ResponseBody, "/calls/0/status", Kind::BadEnum, "bad");
        assert_eq!(v.to_string(), "response body /calls/0/status: bad");
        let root = Violation::new(Place::Status, "", Kind::UndeclaredStatus, "418");
        assert_eq!(root.to_string(), "status (root): 418");
    }

    proptest! {
        #[test]
        fn escaped_tokens_round_trip(token in ".*") {
            let pointer = child("", &token);
            let unescaped = pointer[1..].replace("~1", "/").replace("~0", "~");
            prop_assert_eq!(unescaped, token);
        }
    }
}

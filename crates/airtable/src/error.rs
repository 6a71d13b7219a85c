//! The crate's one error type, and reading Airtable's error bodies.

use std::time::Duration;

use serde::Deserialize;

use crate::records::MAX_RECORDS_PER_UPDATE;

/// How long Airtable asks callers to wait after a 429 before any request of the base succeeds.
pub const RATE_LIMIT_WAIT: Duration = Duration::from_secs(30);

/// Everything that can go wrong talking to Airtable.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Airtable answered with an error status.
    #[error("Airtable answered {status} {kind}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Airtable's error type, such as `NOT_FOUND` or `INVALID_VALUE_FOR_COLUMN`; `UNKNOWN`
        /// when the body carried none.
        kind: String,
        /// Airtable's message, or the start of the body when it was not Airtable's JSON.
        message: String,
    },
    /// The request never got an HTTP answer (connection, TLS, timeout).
    #[error("request to Airtable failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// Airtable answered with success but a body we could not read.
    #[error("unexpected response body from Airtable (HTTP {status}): {source}")]
    Decode {
        /// HTTP status of the response.
        status: u16,
        /// What did not fit.
        #[source]
        source: serde_json::Error,
    },
    /// More records in one update than Airtable accepts; nothing was sent.
    #[error("{count} records in one update; Airtable accepts at most {MAX_RECORDS_PER_UPDATE}")]
    TooManyRecords {
        /// How many were given.
        count: usize,
    },
    /// The client was configured with something unusable.
    #[error("invalid Airtable client configuration: {0}")]
    Config(String),
}

impl Error {
    /// HTTP status of an answer Airtable gave.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } | Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Airtable's error type, for an API error.
    pub fn kind(&self) -> Option<&str> {
        match self {
            Self::Api { kind, .. } => Some(kind),
            _ => None,
        }
    }

    /// Airtable refused the request for exceeding its rate limit.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// The same request may succeed later: a rate limit, a server error, or no answer at all.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Api { status, .. } => *status == 429 || (500..600).contains(status),
            Self::Transport(_) => true,
            _ => false,
        }
    }

    /// Repeating the same request cannot succeed: the request itself is wrong (unknown record or
    /// field, a value the column refuses, bad credentials) or could not be sent as asked.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::Api { status, .. } => (400..500).contains(status) && *status != 429,
            Self::TooManyRecords { .. } | Self::Config(_) => true,
            Self::Transport(_) | Self::Decode { .. } => false,
        }
    }

    /// How long to wait before the next request of the base: Airtable's documented 30 seconds
    /// after a 429; `None` for every other error.
    pub fn retry_after(&self) -> Option<Duration> {
        self.is_rate_limited().then_some(RATE_LIMIT_WAIT)
    }

    /// The error for a non-success response from its status and raw body.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        let (kind, message) = match serde_json::from_slice::<ErrorBody>(body) {
            Ok(parsed) => parsed.kind_and_message(),
            Err(_) => (None, None),
        };
        Self::Api {
            status,
            kind: kind.unwrap_or_else(|| "UNKNOWN".to_owned()),
            message: message.unwrap_or_else(|| body_excerpt(body)),
        }
    }
}

/// The shapes Airtable's error bodies come in:
/// `{"error":{"type":…,"message":…}}`, `{"error":"NOT_FOUND"}`, and, for rate limits,
/// `{"errors":[{"error":"RATE_LIMIT_REACHED","message":…}]}`.
#[derive(Deserialize)]
struct ErrorBody {
    error: Option<ErrorField>,
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ListedError>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ErrorField {
    Typed {
        #[serde(rename = "type")]
        kind: String,
        message: Option<String>,
    },
    Bare(String),
}

#[derive(Deserialize)]
struct ListedError {
    error: String,
    message: Option<String>,
}

impl ErrorBody {
    fn kind_and_message(self) -> (Option<String>, Option<String>) {
        match self.error {
            Some(ErrorField::Typed { kind, message }) => (Some(kind), message.or(self.message)),
            Some(ErrorField::Bare(kind)) => (Some(kind), self.message),
            None => match self.errors.into_iter().next() {
                Some(first) => (Some(first.error), first.message),
                None => (None, self.message),
            },
        }
    }
}

fn body_excerpt(body: &[u8]) -> String {
    const LIMIT: usize = 200;
    let text = String::from_utf8_lossy(body);
    if text.trim().is_empty() {
        return "(empty body)".to_owned();
    }
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, body: &str) -> Error {
        Error::from_response(status, body.as_bytes())
    }

    #[test]
    fn reads_the_typed_error_shape() {
        let e = api(
            422,
            r#"{"error":{"type":"UNKNOWN_FIELD_NAME","message":"Unknown field name: \"Nope\""}}"#,
        );
        assert_eq!(e.kind(), Some("UNKNOWN_FIELD_NAME"));
        assert_eq!(
            e.to_string(),
            r#"Airtable answered 422 UNKNOWN_FIELD_NAME: Unknown field name: "Nope""#
        );
        assert!(e.is_permanent());
        assert!(!e.is_retryable());
    }

    #[test]
    fn reads_the_bare_error_shape() {
        let e = api(404, r#"{"error":"NOT_FOUND"}"#);
        assert_eq!(e.kind(), Some("NOT_FOUND"));
        assert!(e.is_permanent());
        assert_eq!(e.retry_after(), None);
    }

    #[test]
    fn reads_the_rate_limit_shape() {
        let e = api(
            429,
            r#"{"errors":[{"error":"RATE_LIMIT_REACHED","message":"Rate limit exceeded. Please try again later"}]}"#,
        );
        assert_eq!(e.kind(), Some("RATE_LIMIT_REACHED"));
        assert!(e.is_rate_limited());
        assert!(e.is_retryable());
        assert!(!e.is_permanent());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_body_that_is_not_airtables_json_is_kept_as_the_message() {
        let e = api(503, "<html>upstream down</html>");
        assert_eq!(e.kind(), Some("UNKNOWN"));
        assert!(e.to_string().contains("upstream down"));
        assert!(e.is_retryable());
        let long = "x".repeat(500);
        assert!(api(502, &long).to_string().ends_with('…'));
        assert!(api(500, "").to_string().contains("(empty body)"));
    }

    #[test]
    fn client_side_refusals_are_permanent() {
        assert!(Error::TooManyRecords { count: 11 }.is_permanent());
        assert!(!Error::TooManyRecords { count: 11 }.is_retryable());
    }

    proptest::proptest! {
        #[test]
        fn every_status_is_exactly_one_of_retryable_or_permanent(status in 400u16..600) {
            let e = api(status, "{}");
            proptest::prop_assert!(e.is_retryable() != e.is_permanent());
        }

        #[test]
        fn any_body_gives_an_error_without_panicking(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let e = Error::from_response(500, &body);
            proptest::prop_assert_eq!(e.status(), Some(500));
        }
    }
}

//! The crate's one error type, and the Twilio error codes we act on.

use serde::Deserialize;

/// Everything that can go wrong talking to Twilio or minting tokens.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Twilio answered with an error status and (usually) its JSON error body.
    #[error("Twilio answered {status}{}: {message}{}",
        code.map(|c| format!(" (error {c})")).unwrap_or_default(),
        more_info.as_deref().map(|m| format!(" — see {m}")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// Twilio's error code, when the body had one.
        code: Option<u32>,
        /// Twilio's message, or the start of the body when it was not Twilio's JSON.
        message: String,
        /// Link to Twilio's page about the code.
        more_info: Option<String>,
    },
    /// The request never got an HTTP answer (connection, TLS, timeout).
    #[error("request to Twilio failed: {0}")]
    Transport(#[source] reqwest::Error),
    /// Twilio answered with success but a body we could not read.
    #[error("unexpected response body from Twilio (HTTP {status}): {source}")]
    Decode {
        /// HTTP status of the response.
        status: u16,
        /// What did not fit.
        #[source]
        source: serde_json::Error,
    },
    /// The client was configured with something unusable (e.g. a base URL that cannot take paths).
    #[error("invalid Twilio client configuration: {0}")]
    Config(String),
    /// An Access Token could not be signed.
    #[error("could not sign the access token: {0}")]
    Token(#[source] jsonwebtoken::errors::Error),
}

impl Error {
    /// Twilio's error code, if this is an API error that carried one.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Api { code, .. } => *code,
            _ => None,
        }
    }

    /// The code as one we know, if it is one.
    pub fn known_code(&self) -> Option<ErrorCode> {
        self.code().and_then(ErrorCode::from_code)
    }

    /// HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is Twilio's "not found" (HTTP 404, or error 20404).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.code() == Some(ErrorCode::NotFound.code())
    }

    /// Builds the error for a non-success response from its status and raw body.
    pub(crate) fn from_response(status: u16, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct Body {
            code: Option<u32>,
            message: Option<String>,
            more_info: Option<String>,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(b) => Self::Api {
                status,
                code: b.code,
                message: b.message.unwrap_or_else(|| "(no message)".to_owned()),
                more_info: b.more_info,
            },
            Err(_) => {
                const LIMIT: usize = 200;
                let text = String::from_utf8_lossy(body);
                let message = match text.char_indices().nth(LIMIT) {
                    Some((cut, _)) => format!("{}…", &text[..cut]),
                    None => text.into_owned(),
                };
                Self::Api {
                    status,
                    code: None,
                    message,
                    more_info: None,
                }
            }
        }
    }
}

/// Twilio error codes the service reacts to. See `https://www.twilio.com/docs/api/errors/<code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 20003: authentication failed (wrong account SID, token or API key).
    AuthenticationFailed,
    /// 20404: the requested resource was not found.
    NotFound,
    /// 20429: too many concurrent requests; safe to retry after backing off.
    TooManyRequests,
    /// 21211: the `To` number is not a valid phone number.
    InvalidToNumber,
    /// 21212: the `From` number is not a valid phone number or caller ID.
    InvalidFromNumber,
    /// 21217: the phone number does not appear to be valid.
    PhoneNumberNotValid,
    /// 21220: the call is not in a state that allows this operation (e.g. already completed).
    InvalidCallState,
    /// 54300: Sync: no object has this unique name.
    SyncUniqueNameNotFound,
    /// 54301: Sync: an object with this unique name already exists.
    SyncUniqueNameExists,
    /// 60200: Verify: invalid parameter (e.g. a malformed `To`).
    VerifyInvalidParameter,
    /// 60202: Verify: max check attempts reached.
    VerifyMaxCheckAttempts,
    /// 60203: Verify: max send attempts reached.
    VerifyMaxSendAttempts,
    /// 60212: Verify: too many concurrent requests for this phone number.
    VerifyTooManyConcurrentRequests,
    /// 60605: Verify: delivery to this destination is blocked by geo permissions.
    VerifyDeliveryBlocked,
}

impl ErrorCode {
    const ALL: [Self; 14] = [
        Self::AuthenticationFailed,
        Self::NotFound,
        Self::TooManyRequests,
        Self::InvalidToNumber,
        Self::InvalidFromNumber,
        Self::PhoneNumberNotValid,
        Self::InvalidCallState,
        Self::SyncUniqueNameNotFound,
        Self::SyncUniqueNameExists,
        Self::VerifyInvalidParameter,
        Self::VerifyMaxCheckAttempts,
        Self::VerifyMaxSendAttempts,
        Self::VerifyTooManyConcurrentRequests,
        Self::VerifyDeliveryBlocked,
    ];

    /// The numeric code.
    pub const fn code(self) -> u32 {
        match self {
            Self::AuthenticationFailed => 20003,
            Self::NotFound => 20404,
            Self::TooManyRequests => 20429,
            Self::InvalidToNumber => 21211,
            Self::InvalidFromNumber => 21212,
            Self::PhoneNumberNotValid => 21217,
            Self::InvalidCallState => 21220,
            Self::SyncUniqueNameNotFound => 54300,
            Self::SyncUniqueNameExists => 54301,
            Self::VerifyInvalidParameter => 60200,
            Self::VerifyMaxCheckAttempts => 60202,
            Self::VerifyMaxSendAttempts => 60203,
            Self::VerifyTooManyConcurrentRequests => 60212,
            Self::VerifyDeliveryBlocked => 60605,
        }
    }

    /// The known code with this number, if any.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_twilios_error_body() {
        let body = br#"{"code": 21211, "message": "The 'To' number 5551234567 is not a valid phone number.", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#;
        let err = Error::from_response(400, body);
        assert_eq!(err.code(), Some(21211));
        assert_eq!(err.known_code(), Some(ErrorCode::InvalidToNumber));
        assert_eq!(err.status(), Some(400));
        let text = err.to_string();
        assert!(text.contains("(error 21211)"), "{text}");
        assert!(
            text.contains("https://www.twilio.com/docs/errors/21211"),
            "{text}"
        );
    }

    #[test]
    fn a_body_that_is_not_json_becomes_the_message() {
        let err = Error::from_response(502, b"<html>Bad Gateway</html>");
        assert!(matches!(
            &err,
            Error::Api { status: 502, code: None, message, more_info: None } if message == "<html>Bad Gateway</html>"
        ));
        let long = "x".repeat(1000);
        let Error::Api { message, .. } = Error::from_response(500, long.as_bytes()) else {
            panic!("expected an API error");
        };
        assert_eq!(message.chars().count(), 201);
    }

    #[test]
    fn not_found_by_status_or_code() {
        assert!(Error::from_response(404, b"{}").is_not_found());
        assert!(
            Error::from_response(400, br#"{"code":20404,"message":"x","status":400}"#)
                .is_not_found()
        );
        assert!(!Error::from_response(400, b"{}").is_not_found());
    }

    #[test]
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
        }
        assert_eq!(ErrorCode::from_code(1), None);
    }
}

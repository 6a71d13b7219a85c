//! Twilio Verify, with its refusals turned into clear 4xx answers instead of the seed's 500s.

use twilio::{
    CheckVerification, CreateVerification, ErrorCode, Verification, VerificationCheck,
    VerifyChannel,
};

use super::SetupError;
use crate::state::AppState;

/// How long Twilio keeps a verification (and its lock after too many checks).
const VERIFICATION_LIFETIME_SECS: u64 = 600;

fn service_sid(state: &AppState) -> Result<&str, SetupError> {
    state
        .settings
        .twilio
        .verify_service_sid
        .as_deref()
        .ok_or(SetupError::NotConfigured)
}

/// Fails early, before anything is counted or sent, when setup is not configured.
pub(super) fn ensure_configured(state: &AppState) -> Result<(), SetupError> {
    service_sid(state).map(drop)
}

pub(super) async fn send_code(
    state: &AppState,
    to: &str,
    channel: VerifyChannel,
) -> Result<Verification, SetupError> {
    let params = CreateVerification {
        to: to.to_owned(),
        channel,
    };
    state
        .twilio
        .create_verification(service_sid(state)?, &params)
        .await
        .map_err(|e| refusal(&e, to))
}

/// The outcome of checking a code: Twilio's answer, or why it cannot be approved.
pub(super) async fn check_code(
    state: &AppState,
    to: &str,
    code: &str,
) -> Result<VerificationCheck, CheckFailed> {
    let params = CheckVerification {
        to: to.to_owned(),
        code: code.to_owned(),
    };
    let service = service_sid(state).map_err(|error| CheckFailed {
        reason: "not configured".into(),
        error,
    })?;
    match state.twilio.check_verification(service, &params).await {
        Ok(check) if check.is_approved() => Ok(check),
        Ok(_) => Err(CheckFailed {
            reason: "wrong code".into(),
            error: SetupError::WrongCode { to: to.to_owned() },
        }),
        Err(e) => Err(CheckFailed {
            reason: e.to_string(),
            error: refusal(&e, to),
        }),
    }
}

/// A code that was not approved: the answer for the client and what the audit log keeps.
#[derive(Debug)]
pub(super) struct CheckFailed {
    pub(super) reason: String,
    pub(super) error: SetupError,
}

fn refusal(err: &twilio::Error, to: &str) -> SetupError {
    if let twilio::Error::Transport(_) = err {
        return SetupError::Twilio {
            message: "Twilio could not be reached: try again in a moment".into(),
            twilio_code: None,
        };
    }
    let message = match err {
        twilio::Error::Api { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let to = to.to_owned();
    match err.known_code() {
        Some(ErrorCode::VerifyMaxCheckAttempts) => too_many(),
        Some(ErrorCode::VerifyMaxSendAttempts) => too_many(),
        Some(ErrorCode::VerifyTooManyConcurrentRequests) => SetupError::RateLimited {
            retry_after_secs: 5,
        },
        Some(ErrorCode::VerifyInvalidParameter) => SetupError::VerifyRefused { to, message },
        Some(ErrorCode::VerifyDeliveryBlocked) => SetupError::Undeliverable { to, message },
        _ if err.is_not_found() => SetupError::NoPendingCode { to },
        _ => SetupError::Twilio {
            message: format!("Twilio Verify failed: {message}"),
            twilio_code: err.code(),
        },
    }
}

fn too_many() -> SetupError {
    SetupError::RateLimited {
        retry_after_secs: VERIFICATION_LIFETIME_SECS,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;
    use crate::http::ApiError;

    fn api(status: u16, code: u32) -> twilio::Error {
        twilio::Error::Api {
            status,
            code: Some(code),
            message: "from Twilio".into(),
            more_info: None,
        }
    }

    #[test]
    fn verify_refusals_become_the_documented_statuses() {
        let cases = [
            (api(429, 60202), StatusCode::TOO_MANY_REQUESTS),
            (api(429, 60203), StatusCode::TOO_MANY_REQUESTS),
            (api(404, 20404), StatusCode::NOT_FOUND),
            (api(400, 60200), StatusCode::BAD_REQUEST),
            (api(403, 60605), StatusCode::UNPROCESSABLE_ENTITY),
            (api(401, 20003), StatusCode::BAD_GATEWAY),
            (api(500, 20500), StatusCode::BAD_GATEWAY),
        ];
        for (err, status) in cases {
            let answer = ApiError::from(refusal(&err, "a@b.co"));
            assert_eq!(answer.status(), status, "{err}");
        }
    }

    #[test]
    fn an_unknown_failure_keeps_twilios_code() {
        let err = ApiError::from(refusal(&api(500, 20500), "a@b.co"));
        assert_eq!(err.code(), 20500);
        let not_found = refusal(&api(404, 20404), "a@b.co");
        assert!(not_found.to_string().contains("request a new code"));
    }
}

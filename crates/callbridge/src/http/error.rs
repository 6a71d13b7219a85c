//! The one error type of every handler, rendered as the seed's envelope
//! `{"status":"error","message":…,"code":…}` with the right HTTP status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::ErrorStatus;
use crate::airtable::AirtableError;
use crate::airtable::dialer::DialerError;
use crate::auth::AuthError;
use crate::browser::TokenError;
use crate::calls::CallError;
use crate::domain::{CallId, DomainError, mask};
use crate::idempotency::IdempotencyError;
use crate::patience::Busy;
use crate::ratelimit::RateLimitError;
use crate::setup::SetupError;
use crate::store::StoreError;

/// `code` in the body is Twilio's error code when Twilio refused something (as the seed passed
/// it on), otherwise the HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The client took too long to send its request.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    Conflict(String),
    /// The Airtable record already has a call that is not over; the reply names that call.
    #[error("record {record_id} already has a call in progress: {call_id}")]
    CallInProgress { record_id: String, call_id: CallId },
    /// Well-formed but against a rule: a domain or destination not allowed.
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A body that is neither JSON nor a form.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("too many requests, retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Twilio (or another upstream) failed or refused.
    #[error("{message}")]
    Upstream {
        message: String,
        twilio_code: Option<u32>,
    },
    /// Twilio is busy or down: worth retrying after `retry_after_secs`.
    #[error("{message}")]
    UpstreamUnavailable {
        message: String,
        twilio_code: Option<u32>,
        retry_after_secs: u64,
    },
    #[error("{0}")]
    Unavailable(String),
    /// We (or what we waited on) took too long to answer.
    #[error("{0}")]
    Timeout(String),
    /// Our own failure; the detail is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

/// Every error answer: the seed's envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub status: ErrorStatus,
    /// What went wrong, for people.
    pub message: String,
    /// Twilio's error code when Twilio refused something, otherwise the HTTP status.
    pub code: u32,
    /// Only when a record already has a call in progress: that call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<CallRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallRef {
    pub id: CallId,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict(_) | Self::CallInProgress { .. } => StatusCode::CONFLICT,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) | Self::UpstreamUnavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Our own failure (the database down or slow, a bug), which says nothing of the request:
    /// the same request may well succeed in a moment.
    pub fn is_ours(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Timeout(_) | Self::Internal(_)
        )
    }

    pub fn code(&self) -> u32 {
        match self {
            Self::Upstream {
                twilio_code: Some(code),
                ..
            }
            | Self::UpstreamUnavailable {
                twilio_code: Some(code),
                ..
            } => *code,
            other => u32::from(other.status().as_u16()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            // Upstream messages may quote the number or address they refused.
            Self::Internal(detail) => {
                tracing::error!(detail = %mask::text(detail), "request failed")
            }
            Self::Upstream { message, .. } | Self::UpstreamUnavailable { message, .. } => {
                tracing::warn!(message = %mask::text(message), "upstream failed");
            }
            Self::Unavailable(message) => {
                tracing::warn!(message = %mask::text(message), "unavailable");
            }
            _ => {}
        }
        let body = ErrorBody {
            status: ErrorStatus::Error,
            message: self.to_string(),
            code: self.code(),
            data: match &self {
                // The same place a started call's id is in, so a client finds the call either way.
                Self::CallInProgress { call_id, .. } => Some(CallRef { id: *call_id }),
                _ => None,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Self::RateLimited { retry_after_secs }
        | Self::UpstreamUnavailable {
            retry_after_secs, ..
        } = self
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl Busy for ApiError {
    fn is_busy(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        Self::BadRequest(err.to_string())
    }
}

/// What a client is told when the database cannot take a request now.
pub const DATABASE_UNAVAILABLE: &str = "database unavailable: try again shortly";

/// The database's own words (table and column names, paths, SQL) are logged, never sent.
impl From<StoreError> for ApiError {
    /// `?` reports where it gave up, so a refusal under load names the query that waited.
    #[track_caller]
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound("not found".into()),
            StoreError::Conflict(detail) => {
                tracing::debug!(%detail, "unique key taken");
                Self::Conflict("already exists".into())
            }
            StoreError::Unavailable(e) => {
                let at = std::panic::Location::caller();
                tracing::warn!(error = %e, %at, "database unavailable");
                Self::Unavailable(DATABASE_UNAVAILABLE.into())
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<RateLimitError> for ApiError {
    #[track_caller]
    fn from(err: RateLimitError) -> Self {
        match err {
            RateLimitError::Limited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            RateLimitError::Store(e) => e.into(),
        }
    }
}

impl From<IdempotencyError> for ApiError {
    #[track_caller]
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::OtherRequest => Self::Unprocessable(err.to_string()),
            IdempotencyError::InFlight | IdempotencyError::Unsettled => {
                Self::Conflict(err.to_string())
            }
            IdempotencyError::Store(e) => e.into(),
        }
    }
}

impl From<CallError> for ApiError {
    #[track_caller]
    fn from(err: CallError) -> Self {
        match err {
            CallError::NotFound => Self::NotFound(err.to_string()),
            CallError::AlreadyEnded(_) => Self::Conflict(err.to_string()),
            CallError::NotNow(message) => Self::Conflict(message),
            CallError::Invalid(message) => Self::BadRequest(message),
            CallError::Forbidden(message) => Self::Forbidden(message),
            CallError::Refused(message) => Self::Unprocessable(message),
            CallError::RecordHasCall { record_id, call_id } => {
                Self::CallInProgress { record_id, call_id }
            }
            CallError::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            CallError::Twilio {
                message,
                twilio_code,
                retry_after_secs: None,
            } => Self::Upstream {
                message,
                twilio_code,
            },
            CallError::Twilio {
                message,
                twilio_code,
                retry_after_secs: Some(retry_after_secs),
            } => Self::UpstreamUnavailable {
                message,
                twilio_code,
                retry_after_secs,
            },
            CallError::Store(e) => e.into(),
            CallError::Internal(detail) => Self::Internal(detail),
        }
    }
}

impl From<AuthError> for ApiError {
    #[track_caller]
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Store(e) => e.into(),
            AuthError::NoVerifiedPhone(_) | AuthError::Signing(_) => {
                Self::Internal(err.to_string())
            }
            AuthError::CallTokenExpired
            | AuthError::NotACallToken
            | AuthError::InvalidCallToken
            | AuthError::NoSuchAgent
            | AuthError::Revoked
            | AuthError::PhoneChanged
            | AuthError::PhoneNotVerified
            | AuthError::SetupTokenExpired
            | AuthError::NotASetupToken
            | AuthError::InvalidSetupToken
            | AuthError::SetupTokenNamesNoEmail => Self::Unauthorized(err.to_string()),
        }
    }
}

impl From<SetupError> for ApiError {
    #[track_caller]
    fn from(err: SetupError) -> Self {
        match err {
            SetupError::Invalid(message) => Self::BadRequest(message),
            SetupError::VerifyRefused { .. } => Self::BadRequest(err.to_string()),
            SetupError::WrongCode { .. } | SetupError::EmailNotVerified => {
                Self::Unauthorized(err.to_string())
            }
            SetupError::NoPendingCode { .. } => Self::NotFound(err.to_string()),
            SetupError::PhoneTaken => Self::Conflict(err.to_string()),
            SetupError::DomainNotAllowed { .. }
            | SetupError::SmsRefused { .. }
            | SetupError::Undeliverable { .. } => Self::Unprocessable(err.to_string()),
            SetupError::RateLimited { retry_after_secs } => Self::RateLimited { retry_after_secs },
            SetupError::Twilio {
                message,
                twilio_code,
            } => Self::Upstream {
                message,
                twilio_code,
            },
            SetupError::NotConfigured => Self::Unavailable(err.to_string()),
            SetupError::Auth(e) => e.into(),
            SetupError::Store(e) => e.into(),
        }
    }
}

impl From<AirtableError> for ApiError {
    #[track_caller]
    fn from(err: AirtableError) -> Self {
        match err {
            AirtableError::Store(e) => e.into(),
            AirtableError::NoPhone { .. } | AirtableError::ViewRefused { .. } => {
                Self::Unprocessable(err.to_string())
            }
            AirtableError::NotYourCampaign => Self::Forbidden(err.to_string()),
            AirtableError::Settings(_) => Self::BadRequest(err.to_string()),
            AirtableError::Call(e) => e.into(),
            AirtableError::Dialer(ref e) => match e {
                DialerError::NotInSession => Self::NotFound(err.to_string()),
                DialerError::Mode
                | DialerError::NoOutcome(_)
                | DialerError::UnknownOutcome { .. }
                | DialerError::NotesTooLong(_) => Self::BadRequest(err.to_string()),
                DialerError::BrowserUnavailable(_) | DialerError::NoPhone => {
                    Self::Unprocessable(err.to_string())
                }
                DialerError::NotASessionCampaign
                | DialerError::NotRunning
                | DialerError::CannotNow { .. } => Self::Conflict(err.to_string()),
            },
            AirtableError::NoCampaign(_) => Self::NotFound(err.to_string()),
            AirtableError::CampaignCannotMove { .. } => Self::Conflict(err.to_string()),
            AirtableError::Airtable(e) if e.status() == Some(404) => {
                Self::NotFound("Airtable has no such record".into())
            }
            AirtableError::Airtable(e) => Self::Upstream {
                message: format!("Airtable failed: {e}"),
                twilio_code: None,
            },
        }
    }
}

impl From<TokenError> for ApiError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::NotConfigured(_) => Self::Unavailable(err.to_string()),
            TokenError::Signing(_) => Self::Internal(err.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    async fn render(err: ApiError) -> (StatusCode, serde_json::Value, Option<HeaderValue>) {
        let response = err.into_response();
        let status = response.status();
        let retry = response.headers().get(header::RETRY_AFTER).cloned();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), retry)
    }

    #[tokio::test]
    async fn every_variant_maps_to_its_status_in_the_seed_envelope() {
        let cases = [
            (ApiError::BadRequest("bad".into()), 400),
            (ApiError::Unauthorized("who".into()), 401),
            (ApiError::Forbidden("no".into()), 403),
            (ApiError::NotFound("gone".into()), 404),
            (ApiError::MethodNotAllowed("verb".into()), 405),
            (ApiError::RequestTimeout("slow".into()), 408),
            (ApiError::PayloadTooLarge("big".into()), 413),
            (ApiError::Timeout("late".into()), 504),
            (ApiError::Conflict("twice".into()), 409),
            (ApiError::Unprocessable("rule".into()), 422),
            (ApiError::UnsupportedMediaType("type".into()), 415),
            (
                ApiError::RateLimited {
                    retry_after_secs: 7,
                },
                429,
            ),
            (
                ApiError::Upstream {
                    message: "twilio down".into(),
                    twilio_code: None,
                },
                502,
            ),
            (ApiError::Unavailable("db".into()), 503),
            (ApiError::Internal("secret detail".into()), 500),
        ];
        for (err, status) in cases {
            let message = err.to_string();
            let (got, body, _) = render(err).await;
            assert_eq!(got.as_u16(), status);
            assert_eq!(body["status"], "error");
            assert_eq!(body["message"], message);
            assert_eq!(body["code"], status);
        }
    }

    #[tokio::test]
    async fn twilio_codes_pass_through_and_internals_stay_hidden() {
        let (_, body, _) = render(ApiError::Upstream {
            message: "Invalid parameter".into(),
            twilio_code: Some(60200),
        })
        .await;
        insta::assert_json_snapshot!(body, @r#"
        {
          "code": 60200,
          "message": "Invalid parameter",
          "status": "error"
        }
        "#);
        let (_, body, _) = render(ApiError::Internal("password=hunter2".into())).await;
        assert!(!body.to_string().contains("hunter2"));
    }

    #[tokio::test]
    async fn a_call_in_progress_names_the_call_in_the_message_and_the_data() {
        let call_id = CallId::new();
        let (status, body, _) = render(ApiError::CallInProgress {
            record_id: "recA".into(),
            call_id,
        })
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body["code"], 409);
        assert_eq!(body["data"]["id"], call_id.to_string());
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains(&call_id.to_string()),
            "{body}"
        );
    }

    #[tokio::test]
    async fn twilio_unavailable_is_503_with_twilios_code_and_when_to_retry() {
        let (status, body, retry) = render(ApiError::UpstreamUnavailable {
            message: "Twilio is busy".into(),
            twilio_code: Some(20429),
            retry_after_secs: 2,
        })
        .await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["code"], 20429);
        assert_eq!(retry.unwrap(), "2");
    }

    #[tokio::test]
    async fn rate_limited_says_when_to_retry() {
        let (_, _, retry) = render(ApiError::RateLimited {
            retry_after_secs: 7,
        })
        .await;
        assert_eq!(retry.unwrap(), "7");
    }

    #[tokio::test]
    async fn database_words_never_reach_the_client() {
        let unique = StoreError::Conflict("UNIQUE constraint failed: agents.phone".into());
        let (_, body, _) = render(ApiError::from(unique)).await;
        assert!(!body.to_string().contains("agents"), "{body}");
        let io = std::io::Error::other("disk I/O error at /var/lib/callbridge.db");
        let (status, body, _) =
            render(ApiError::from(StoreError::Unavailable(sqlx::Error::Io(io)))).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["message"], DATABASE_UNAVAILABLE);
    }

    #[test]
    fn store_errors_become_client_or_server_errors() {
        assert_eq!(
            ApiError::from(StoreError::NotFound).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ApiError::from(StoreError::Conflict("x".into())).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::from(StoreError::Unavailable(sqlx::Error::PoolTimedOut)).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let parsed = crate::domain::PhoneNumber::parse("nope").unwrap_err();
        assert_eq!(ApiError::from(parsed).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn call_errors_keep_their_status_and_their_words() {
        let cases = [
            (CallError::NotFound, 404, "call not found"),
            (
                CallError::AlreadyEnded(crate::domain::CallState::Completed),
                409,
                "call already ended (completed)",
            ),
            (
                CallError::Invalid("to is required".into()),
                400,
                "to is required",
            ),
            (CallError::Forbidden("not yours".into()), 403, "not yours"),
            (CallError::Refused("not there".into()), 422, "not there"),
            (
                CallError::RateLimited {
                    retry_after_secs: 4,
                },
                429,
                "too many requests, retry in 4 s",
            ),
            (
                CallError::Twilio {
                    message: "refused".into(),
                    twilio_code: Some(21211),
                    retry_after_secs: None,
                },
                502,
                "refused",
            ),
            (
                CallError::Twilio {
                    message: "busy".into(),
                    twilio_code: Some(20429),
                    retry_after_secs: Some(1),
                },
                503,
                "busy",
            ),
            (CallError::Internal("a bug".into()), 500, "internal error"),
        ];
        for (err, status, message) in cases {
            let shown = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status, "{api:?}");
            assert_eq!(api.to_string(), message);
            if status != 500 {
                assert_eq!(
                    shown, message,
                    "the domain error says what the client reads"
                );
            }
        }
        let busy = CallError::Store(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        assert!(busy.is_busy() && busy.is_ours());
        assert!(ApiError::from(busy).is_busy());
    }

    #[test]
    fn auth_refusals_are_401_and_our_failures_500() {
        let refused = ApiError::from(AuthError::Revoked);
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refused.to_string(), AuthError::Revoked.to_string());
        let bug = ApiError::from(AuthError::NoVerifiedPhone(crate::domain::AgentId::new()));
        assert_eq!(bug.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let busy = ApiError::from(AuthError::Store(StoreError::Unavailable(
            sqlx::Error::PoolTimedOut,
        )));
        assert!(busy.is_busy());
    }

    #[test]
    fn setup_errors_keep_their_status_and_their_words() {
        let to = || "a@b.co".to_owned();
        let cases = [
            (SetupError::Invalid("Email is required".into()), 400),
            (
                SetupError::VerifyRefused {
                    to: to(),
                    message: "bad".into(),
                },
                400,
            ),
            (SetupError::WrongCode { to: to() }, 401),
            (SetupError::EmailNotVerified, 401),
            (SetupError::Auth(AuthError::SetupTokenExpired), 401),
            (SetupError::NoPendingCode { to: to() }, 404),
            (SetupError::PhoneTaken, 409),
            (
                SetupError::DomainNotAllowed {
                    allowed: vec!["twilio.com".into()],
                },
                422,
            ),
            (
                SetupError::Undeliverable {
                    to: to(),
                    message: "blocked".into(),
                },
                422,
            ),
            (
                SetupError::RateLimited {
                    retry_after_secs: 5,
                },
                429,
            ),
            (
                SetupError::Twilio {
                    message: "Twilio Verify failed: down".into(),
                    twilio_code: Some(20500),
                },
                502,
            ),
            (SetupError::NotConfigured, 503),
        ];
        for (err, status) in cases {
            let shown = err.to_string();
            let api = ApiError::from(err);
            assert_eq!(api.status().as_u16(), status, "{api:?}");
            assert_eq!(api.to_string(), shown);
        }
    }

    #[test]
    fn idempotency_and_rate_limit_refusals_keep_their_status() {
        assert_eq!(
            ApiError::from(IdempotencyError::OtherRequest).status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            ApiError::from(IdempotencyError::InFlight).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::from(IdempotencyError::Unsettled).status(),
            StatusCode::CONFLICT
        );
        let limited = ApiError::from(RateLimitError::Limited {
            retry_after_secs: 9,
        });
        assert!(matches!(
            limited,
            ApiError::RateLimited {
                retry_after_secs: 9
            }
        ));
    }
}

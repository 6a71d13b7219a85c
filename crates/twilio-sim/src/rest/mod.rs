//! Twilio's REST API, as the simulator serves it: basic auth, form bodies, Twilio's JSON shapes and
//! error bodies. Every Twilio host (api, verify, sync) maps onto the one base URL.

mod apps;
mod form;
mod numbers;
mod page;
mod reachable;
mod services;
mod sync;
mod time_filter;
mod verify;
mod voice;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::state::Shared;
pub(crate) use form::Form;

/// A Twilio error answer: `{code, message, more_info, status}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: u32,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: u32, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        (self.status, axum::Json(body)).into_response()
    }
}

pub(crate) type ApiResult = Result<Response, ApiError>;

pub(crate) fn reply(status: StatusCode, body: Value) -> ApiResult {
    Ok((status, axum::Json(body)).into_response())
}

/// One REST request, parsed.
#[derive(Debug)]
pub(crate) struct Req<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: &'a str,
    pub(crate) query: Form,
    pub(crate) form: Form,
    pub(crate) headers: &'a HeaderMap,
}

fn unauthorized() -> Response {
    let body = json!({
        "code": 20003,
        "detail": "Your AccountSid or AuthToken was incorrect.",
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    });
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"Twilio API\"")],
        axum::Json(body),
    )
        .into_response()
}

fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(decoded) = String::from_utf8(decoded) else {
        return false;
    };
    let Some((user, pass)) = decoded.split_once(':') else {
        return false;
    };
    let cfg = &shared.config;
    (user == cfg.account_sid && pass == cfg.auth_token)
        || shared.key_secret(user).is_some_and(|secret| secret == pass)
}

/// The handler for everything that is not the control API.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorized(&shared, &headers) {
        return unauthorized();
    }
    let path = uri.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let req = Req {
        method: &method,
        path,
        query: Form::parse(uri.query().unwrap_or("").as_bytes()),
        form: if method == Method::POST {
            Form::parse(&body)
        } else {
            Form::default()
        },
        headers: &headers,
    };
    let result = match segments.as_slice() {
        ["2010-04-01", "Accounts", account, rest @ ..] if *account == shared.config.account_sid => {
            voice::route(&shared, &req, rest).await
        }
        ["v2", "Services"] => services::verify_collection(&shared, &req),
        ["v2", "Services", service] if crate::sid::is_sid(service, "VA") => {
            services::verify_instance(&shared, &req, service)
        }
        ["v1", "Services"] => services::sync_collection(&shared, &req),
        ["v2", "Services", service, rest @ ..] if crate::sid::is_sid(service, "VA") => {
            verify::route(&shared, &req, service, rest)
        }
        ["v1", "Services", service, rest @ ..]
            if crate::sid::is_sid(service, "IS") || *service == "default" =>
        {
            sync::route(&shared, &req, service, rest)
        }
        _ => Err(ApiError::not_found(path)),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) fn method_not_allowed(req: &Req<'_>) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        20004,
        format!("Method {} not allowed on {}", req.method, req.path),
    )
}

//! Answers that no handler wrote (the router's 405, the body limit's 413, the timeout's 504, a
//! panic's 500, an extractor's plain-text refusal) rewritten into the error envelope, so that a
//! client parses every refusal the same way.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::BODY_TOO_LARGE;

/// Extractors explain themselves in a line; anything longer is not worth passing on.
const MAX_REASON_BYTES: usize = 1024;

pub(super) async fn in_the_envelope(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if !needs_envelope(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let reason = axum::body::to_bytes(body, MAX_REASON_BYTES)
        .await
        .ok()
        .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
        .unwrap_or_default();
    let message = message(parts.status, &method, &path, reason.trim());
    let body = json!({"status": "error", "message": message, "code": parts.status.as_u16()});
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// A refusal without a body, or with the plain text that axum's and tower's layers write. JSON
/// is ours already, and any other type (TwiML) was chosen by a handler.
fn needs_envelope(response: &Response) -> bool {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return false;
    }
    match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.to_str().is_ok_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/plain")
        }),
    }
}

fn message(status: StatusCode, method: &Method, path: &str, reason: &str) -> String {
    match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        StatusCode::PAYLOAD_TOO_LARGE => BODY_TOO_LARGE.to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request did not arrive in time".to_owned(),
        StatusCode::GATEWAY_TIMEOUT => {
            "no answer within REQUEST_TIMEOUT: try again shortly".to_owned()
        }
        // Our own failures are logged where they happen; their detail is not for clients.
        s if s.is_server_error() => s.canonical_reason().unwrap_or("error").to_lowercase(),
        _ if !reason.is_empty() => reason.to_owned(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(status: StatusCode, content_type: Option<&str>) -> Response {
        let mut builder = Response::builder().status(status);
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        builder.body(Body::empty()).unwrap()
    }

    #[test]
    fn only_bare_or_plain_text_refusals_are_rewritten() {
        assert!(needs_envelope(&plain(StatusCode::METHOD_NOT_ALLOWED, None)));
        assert!(needs_envelope(&plain(
            StatusCode::BAD_REQUEST,
            Some("text/plain; charset=utf-8")
        )));
        assert!(!needs_envelope(&plain(
            StatusCode::NOT_FOUND,
            Some("application/json")
        )));
        assert!(!needs_envelope(&plain(
            StatusCode::FORBIDDEN,
            Some("text/xml")
        )));
        assert!(!needs_envelope(&plain(StatusCode::OK, None)));
        assert!(!needs_envelope(&plain(StatusCode::NO_CONTENT, None)));
    }

    #[test]
    fn a_server_error_never_passes_its_text_on() {
        let said = message(
            StatusCode::INTERNAL_SERVER_ERROR,
            &Method::GET,
            "/x",
            "panicked at src/secret.rs:1",
        );
        assert_eq!(said, "internal server error");
        let said = message(
            StatusCode::BAD_REQUEST,
            &Method::GET,
            "/x",
            "Failed to parse",
        );
        assert_eq!(said, "Failed to parse");
    }
}

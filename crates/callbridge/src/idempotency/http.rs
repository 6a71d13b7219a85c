//! The key as an HTTP request carries it, and a kept answer as the HTTP response it was.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::IdempotencyKey;
use crate::http::ApiError;
use crate::store::SavedResponse;

pub const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Tells a client that the answer is a replay of an earlier one.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Start answers are envelopes of one call: a few KiB.
const MAX_SAVED_BODY: usize = 1024 * 1024;

/// The request's key, if it sent one; a malformed key is a 400.
pub fn key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = headers.get_all(HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::BadRequest(
            "send one Idempotency-Key header, not several".into(),
        ));
    }
    let text = value.to_str().unwrap_or("\u{0}");
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(ApiError::BadRequest)
}

/// `response`, and what the key keeps of it; `Err` with an error answer when its body cannot
/// be read.
pub async fn kept(response: Response) -> Result<(Response, SavedResponse), Response> {
    let (parts, body) = response.into_parts();
    let bytes = match to_bytes(body, MAX_SAVED_BODY).await {
        Ok(bytes) => bytes,
        Err(err) => {
            return Err(
                ApiError::Internal(format!("could not read the answer to save it: {err}"))
                    .into_response(),
            );
        }
    };
    let saved = SavedResponse {
        status: parts.status.as_u16(),
        retry_after_secs: parts
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    Ok((Response::from_parts(parts, Body::from(bytes)), saved))
}

/// A kept answer, sent again.
pub fn replay(saved: &SavedResponse) -> Response {
    let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        saved.body.clone(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    if let Some(secs) = saved.retry_after_secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replay_has_the_saved_status_body_and_retry_after() {
        let response = replay(&SavedResponse {
            status: 503,
            retry_after_secs: Some(5),
            body: r#"{"status":"error"}"#.into(),
        });
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert_eq!(response.headers()[REPLAYED_HEADER], "true");
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        assert_eq!(&body[..], br#"{"status":"error"}"#);
    }

    #[test]
    fn a_key_is_read_trimmed_and_an_absent_one_is_none() {
        let mut headers = HeaderMap::new();
        assert_eq!(key(&headers).unwrap(), None);
        headers.insert(HEADER, HeaderValue::from_static(" 3f1c-order-7 "));
        assert_eq!(key(&headers).unwrap().unwrap().as_str(), "3f1c-order-7");
    }

    #[test]
    fn repeated_keys_are_refused() {
        let mut headers = HeaderMap::new();
        headers.append(HEADER, HeaderValue::from_static("a"));
        headers.append(HEADER, HeaderValue::from_static("b"));
        assert!(matches!(key(&headers), Err(ApiError::BadRequest(_))));
    }
}

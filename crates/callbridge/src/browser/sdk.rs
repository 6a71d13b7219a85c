//! The vendored `@twilio/voice-sdk` bundle and its licence, embedded in the binary.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const LICENSE_PATH: &str = "/assets/twilio-voice-sdk.LICENSE.md";

/// The file changes only with the SDK's version, so the version is its validator.
const ETAG: &str = "\"voice-sdk-2.18.5\"";
const SCRIPT: &[u8] = include_bytes!("../../assets/twilio-voice-sdk/twilio.min.js");
const LICENSE: &[u8] = include_bytes!("../../assets/twilio-voice-sdk/LICENSE.md");

/// The vendored Twilio Voice SDK (`@twilio/voice-sdk`), unless `VOICE_SDK_URL` names another.
#[utoipa::path(
    get,
    path = crate::config::VENDORED_VOICE_SDK_PATH,
    tag = crate::http::openapi::BROWSER_TAG,
    params(("If-None-Match" = Option<String>, Header, description = "The ETag of a copy the client has.")),
    responses(
        (status = 200, description = "The SDK's `twilio.min.js`, cached for a day.", content_type = "text/javascript", body = String),
        (status = 304, description = "The client's copy is current."),
    )
)]
pub(super) async fn script(headers: HeaderMap) -> Response {
    asset(&headers, "text/javascript; charset=utf-8", SCRIPT)
}

/// The Voice SDK's licence (Apache-2.0).
#[utoipa::path(
    get,
    path = LICENSE_PATH,
    tag = crate::http::openapi::BROWSER_TAG,
    responses((status = 200, description = "The licence text.", content_type = "text/markdown", body = String))
)]
pub(super) async fn license() -> Response {
    (
        [(header::CONTENT_TYPE, "text/markdown; charset=utf-8")],
        LICENSE,
    )
        .into_response()
}

/// A browser that has the file asks again once a day and is answered 304.
fn asset(headers: &HeaderMap, content_type: &'static str, body: &'static [u8]) -> Response {
    let etag = HeaderValue::from_static(ETAG);
    let cache = HeaderValue::from_static("public, max-age=86400");
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|seen| seen == etag)
    {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERSION: &str = "2.18.5";

    #[test]
    fn the_bundle_is_the_sdks_and_defines_twilio_device() {
        let text = std::str::from_utf8(SCRIPT).unwrap();
        assert!(text.contains(VERSION), "the bundle names its version");
        assert!(ETAG.contains(VERSION));
        assert!(text.contains("Device"));
        assert!(
            std::str::from_utf8(LICENSE)
                .unwrap()
                .contains("Apache License")
        );
    }

    #[tokio::test]
    async fn a_browser_that_has_the_script_is_told_so() {
        let first = script(HeaderMap::new()).await;
        assert_eq!(first.status(), StatusCode::OK);
        let etag = first.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(script(again).await.status(), StatusCode::NOT_MODIFIED);
    }
}

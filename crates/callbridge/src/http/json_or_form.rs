//! Request bodies as the seed took them: JSON or `application/x-www-form-urlencoded`, the same
//! fields either way.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::ApiError;

/// The body deserialized from JSON or a form, chosen by `Content-Type`. Any other type is 415;
/// a body that does not parse is 400, both in the error envelope. A request with neither a body
/// nor a `Content-Type` reads as an empty form.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonOrForm<T>(pub T);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &HeaderMap) -> Result<Option<BodyKind>, ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(None);
    };
    let unsupported = || {
        ApiError::UnsupportedMediaType(
            "send the body as application/json or application/x-www-form-urlencoded".into(),
        )
    };
    let essence = value
        .to_str()
        .map_err(|_| unsupported())?
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => Ok(Some(BodyKind::Form)),
        "application/json" => Ok(Some(BodyKind::Json)),
        other if other.starts_with("application/") && other.ends_with("+json") => {
            Ok(Some(BodyKind::Json))
        }
        _ => Err(unsupported()),
    }
}

fn parse<T: DeserializeOwned>(kind: Option<BodyKind>, body: &[u8]) -> Result<T, ApiError> {
    match kind {
        Some(BodyKind::Json) => serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the JSON body is malformed: {e}"))),
        Some(BodyKind::Form) => {
            check_form_utf8(body)?;
            serde_urlencoded::from_bytes(body)
                .map_err(|e| ApiError::BadRequest(format!("the form body is malformed: {e}")))
        }
        None if body.is_empty() => serde_urlencoded::from_bytes(body)
            .map_err(|e| ApiError::BadRequest(format!("a body is required: {e}"))),
        None => Err(ApiError::UnsupportedMediaType(
            "the body has no Content-Type: send application/json or \
             application/x-www-form-urlencoded"
                .into(),
        )),
    }
}

/// A form decoder replaces bytes that are not UTF-8 with U+FFFD, so a name or an email would be
/// stored changed; such a form is refused instead, raw or percent-encoded.
fn check_form_utf8(body: &[u8]) -> Result<(), ApiError> {
    let invalid = || ApiError::BadRequest("the form body is not valid UTF-8".into());
    let text = std::str::from_utf8(body).map_err(|_| invalid())?;
    for part in text.split('&').flat_map(|pair| pair.split('=')) {
        let decoded: Vec<u8> =
            percent_encoding::percent_decode(part.replace('+', " ").as_bytes()).collect();
        std::str::from_utf8(&decoded).map_err(|_| invalid())?;
    }
    Ok(())
}

/// How long a client may take to send a body once its headers are in.
const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl<T, S> FromRequest<S> for JsonOrForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let kind = body_kind(req.headers())?;
        let body = tokio::time::timeout(BODY_READ_TIMEOUT, Bytes::from_request(req, state))
            .await
            .map_err(|_| {
                ApiError::RequestTimeout(format!(
                    "the body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge(super::BODY_TOO_LARGE.into())
                } else {
                    ApiError::BadRequest(format!("cannot read the body: {e}"))
                }
            })?;
        parse(kind, &body).map(JsonOrForm)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        email: Option<String>,
        code: Option<String>,
    }

    fn headers(content_type: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = content_type {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        h
    }

    async fn extract(content_type: Option<&str>, body: &str) -> Result<Body, ApiError> {
        let mut builder = Request::builder().method("POST").uri("/x");
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        let req = builder
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        JsonOrForm::<Body>::from_request(req, &())
            .await
            .map(|b| b.0)
    }

    #[tokio::test]
    async fn form_and_json_give_the_same_fields() {
        let want = Body {
            email: Some("user@twilio.com".into()),
            code: Some("123456".into()),
        };
        let form = extract(
            Some("application/x-www-form-urlencoded"),
            "email=user%40twilio.com&code=123456",
        )
        .await
        .unwrap();
        let json = extract(
            Some("application/json; charset=utf-8"),
            r#"{"email":"user@twilio.com","code":"123456"}"#,
        )
        .await
        .unwrap();
        assert_eq!(form, want);
        assert_eq!(json, want);
    }

    #[tokio::test]
    async fn a_literal_at_sign_in_a_form_is_accepted_as_curl_sends_it() {
        let body = extract(
            Some("application/x-www-form-urlencoded"),
            "email=user@twilio.com",
        )
        .await
        .unwrap();
        assert_eq!(body.email.as_deref(), Some("user@twilio.com"));
    }

    #[tokio::test]
    async fn other_types_are_415_and_garbage_is_400() {
        let err = extract(Some("text/plain"), "email=x").await.unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err = extract(None, "email=x").await.unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let err = extract(Some("application/json"), "{not json")
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("JSON body is malformed"), "{err}");
    }

    #[tokio::test]
    async fn no_body_and_no_type_is_an_empty_form() {
        let body = extract(None, "").await.unwrap();
        assert_eq!(
            body,
            Body {
                email: None,
                code: None
            }
        );
    }

    #[test]
    fn vendor_json_types_count_as_json() {
        assert_eq!(
            body_kind(&headers(Some("application/merge-patch+json"))).unwrap(),
            Some(BodyKind::Json)
        );
        assert_eq!(
            body_kind(&headers(Some("Application/X-WWW-Form-Urlencoded"))).unwrap(),
            Some(BodyKind::Form)
        );
    }

    #[tokio::test]
    async fn a_form_that_is_not_utf8_is_refused_raw_or_encoded() {
        for body in ["email=%FF%FE", "code=1&email=a%C3", "%80=x"] {
            let err = extract(Some("application/x-www-form-urlencoded"), body)
                .await
                .unwrap_err();
            assert_eq!(err.status(), StatusCode::BAD_REQUEST, "{body}");
            assert!(err.to_string().contains("UTF-8"), "{err}");
        }
        let raw = parse::<Body>(Some(BodyKind::Form), b"email=\xff").unwrap_err();
        assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
        let ok = extract(
            Some("application/x-www-form-urlencoded"),
            "email=%C3%A9%2B+x",
        )
        .await
        .unwrap();
        assert_eq!(ok.email.as_deref(), Some("é+ x"));
    }

    #[test]
    fn json_that_is_not_utf8_is_refused() {
        let err = parse::<Body>(Some(BodyKind::Json), b"{\"email\":\"\xff\"}").unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    proptest! {
        /// Whatever decodes to UTF-8 the form decoder would decode unchanged, so it passes.
        #[test]
        fn utf8_forms_pass_the_check(value in "\\PC{0,12}") {
            let body = serde_urlencoded::to_string([("email", value.as_str())]).unwrap();
            prop_assert!(check_form_utf8(body.as_bytes()).is_ok());
        }

        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse::<Body>(Some(BodyKind::Json), &body);
            let _ = parse::<Body>(Some(BodyKind::Form), &body);
            let _ = parse::<Body>(None, &body);
        }
    }
}

//! Signed-in browsers. The session cookie holds a random secret (HttpOnly, SameSite=Strict,
//! Secure behind https) and the store keeps only its hash. A request that carries the cookie
//! and no `Authorization` header is given a call token for its agent before it reaches the API,
//! so the pages use the same endpoints as every other client; a change (any method but GET and
//! HEAD) must also carry the session's CSRF token in `X-CSRF-Token`, which a page of another
//! site cannot read.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::issue_call_token;
use crate::http::ApiError;
use crate::state::AppState;
use crate::store::{Agent, WebSession};

pub const SESSION_COOKIE: &str = "cb_session";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A working day and then some: an agent signs in once a morning.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// The signed-in agent of a request, for the pages.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub agent: Agent,
    pub csrf_token: String,
    secret_hash: String,
}

fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A cookie's value by name, from every `Cookie` header.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// `Set-Cookie` for `name`, scoped to `path`; an empty value with max-age 0 removes it.
pub fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: Duration,
) -> HeaderValue {
    let secure = if state.settings.public_base_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{name}={value}; Path={path}; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Opens a session for `agent`: the `Set-Cookie` to send.
pub async fn open(state: &AppState, agent: &Agent) -> Result<HeaderValue, ApiError> {
    let secret = random_token();
    let now = Utc::now();
    let session = WebSession {
        agent_id: agent.id,
        csrf_token: random_token(),
        expires_at: now + chrono::Duration::from_std(SESSION_TTL).unwrap_or_default(),
    };
    state
        .store
        .create_session(&hash(&secret), &session, now)
        .await?;
    Ok(set_cookie(state, SESSION_COOKIE, &secret, "/", SESSION_TTL))
}

/// Ends the session: the `Set-Cookie` that removes the cookie.
pub async fn close(state: &AppState, signed_in: &SignedIn) -> Result<HeaderValue, ApiError> {
    state.store.end_session(&signed_in.secret_hash).await?;
    Ok(set_cookie(state, SESSION_COOKIE, "", "/", Duration::ZERO))
}

/// The session the request's cookie names, with its agent, while both still hold: an agent
/// revoked since, or whose phone is no longer verified, is signed out.
async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Option<SignedIn>, ApiError> {
    let Some(secret) = cookie(headers, SESSION_COOKIE).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let secret_hash = hash(secret);
    let Some(session) = state.store.session(&secret_hash, Utc::now()).await? else {
        return Ok(None);
    };
    let Some(agent) = state.store.agent_by_id(session.agent_id).await? else {
        return Ok(None);
    };
    if agent.revoked_at.is_some() || agent.phone_verified_at.is_none() {
        return Ok(None);
    }
    Ok(Some(SignedIn {
        agent,
        csrf_token: session.csrf_token,
        secret_hash,
    }))
}

/// Whether `given` is the session's CSRF token, compared in constant time.
pub fn csrf_matches(signed_in: &SignedIn, given: Option<&str>) -> bool {
    given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(signed_in.csrf_token.as_bytes())))
}

/// Paths whose forms carry the CSRF token as a field, checked by their handlers.
fn checks_its_own_form(path: &str) -> bool {
    path == super::SIGN_OUT_PATH
        || path.starts_with(super::SIGN_IN_PATH)
        || path.starts_with(super::ADMIN_PATH)
}

/// The middleware: resolves the cookie's session, hands the pages its agent, and gives API
/// requests a call token.
pub async fn cookie_sessions(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.headers().contains_key(AUTHORIZATION) {
        return next.run(request).await;
    }
    let signed_in = match resolve(&state, request.headers()).await {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return next.run(request).await,
        Err(err) => return err.into_response(),
    };
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe && !checks_its_own_form(request.uri().path()) {
        let given = request
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if !csrf_matches(&signed_in, given) {
            return ApiError::Forbidden(
                "a change made with the session cookie needs the page's X-CSRF-Token header".into(),
            )
            .into_response();
        }
    }
    match issue_call_token(&state.settings, &signed_in.agent) {
        Ok(token) => {
            if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
                request.headers_mut().insert(AUTHORIZATION, value);
            }
        }
        Err(err) => return ApiError::from(err).into_response(),
    }
    request.extensions_mut().insert(signed_in);
    let mut response = next.run(request).await;
    // A page a session sees must not be kept by a shared cache or shown after sign-out.
    response
        .headers_mut()
        .entry(axum::http::header::VARY)
        .or_insert(HeaderValue::from_static("Cookie"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name_from_every_header() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; cb_session=s3cret"));
        headers.append(COOKIE, HeaderValue::from_static("other=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("s3cret"));
        assert_eq!(cookie(&headers, "other"), Some("2"));
        assert_eq!(cookie(&headers, "cb_sess"), None);
    }

    #[test]
    fn secrets_are_random_and_kept_only_as_hashes() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), a);
    }
}

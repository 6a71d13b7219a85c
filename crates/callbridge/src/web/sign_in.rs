//! Signing in is onboarding, page by page: an email and its code, then a phone and its code,
//! through the same steps (rate limits, allowed domains, destination policy) as the setup API.
//! An agent whose phone is already verified is texted a code at once after the email step. The
//! setup token between the steps rides in an HttpOnly cookie scoped to these pages.

use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::session::{self, SignedIn, cookie, set_cookie};
use super::{Me, SIGN_IN_PATH, render, same_origin};
use crate::domain::ClientAddress;
use crate::domain::{EmailAddress, PhoneNumber};
use crate::http::{ApiError, JsonOrForm};
use crate::setup::{email, phone};
use crate::state::AppState;

const SETUP_COOKIE: &str = "cb_setup";
/// As long as the setup token it holds.
const SETUP_COOKIE_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Email,
    EmailCode,
    Phone,
    PhoneCode,
}

#[derive(Template)]
#[template(path = "web/sign_in.html")]
struct SignInPage {
    me: Option<Me>,
    page: &'static str,
    step: Step,
    email: String,
    phone: String,
    phone_shown: String,
    error: Option<String>,
    note: Option<String>,
}

impl SignInPage {
    fn at(step: Step) -> Self {
        Self {
            me: None,
            page: "sign-in",
            step,
            email: String::new(),
            phone: String::new(),
            phone_shown: String::new(),
            error: None,
            note: None,
        }
    }

    fn failed(mut self, state: &AppState, error: &ApiError) -> Response {
        self.error = Some(error.to_string());
        super::html(state, error.status(), render(&self))
    }

    fn shown(&self, state: &AppState) -> Response {
        super::html(state, StatusCode::OK, render(self))
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    phone: String,
}

/// The sign-in page (signed-in agents go to the dialer).
#[utoipa::path(get, path = SIGN_IN_PATH, tag = super::WEB_TAG,
    responses((status = 200, description = "The email step.", content_type = "text/html", body = String),
              (status = 303, description = "Already signed in: to the dialer.")))]
pub(super) async fn page(
    State(state): State<AppState>,
    signed_in: Option<Extension<SignedIn>>,
) -> Response {
    if signed_in.is_some() {
        return see_other("/", None);
    }
    SignInPage::at(Step::Email).shown(&state)
}

/// Emails a code.
#[utoipa::path(post, path = "/sign-in/email", tag = super::WEB_TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`email`"),
    responses((status = 200, description = "The code step.", content_type = "text/html", body = String),
              (status = "4XX", description = "The email step again, saying why.", content_type = "text/html", body = String)))]
pub(super) async fn send_email_code(
    State(state): State<AppState>,
    ip: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let mut page = SignInPage::at(Step::Email);
    page.email = form.email.trim().to_owned();
    if let Err(refused) = same_origin(&state, &headers) {
        return page.failed(&state, &refused);
    }
    let body = email::InitBody {
        email: Some(form.email.clone()),
    };
    match email::init(State(state.clone()), ip, JsonOrForm(body)).await {
        Ok(_) => {
            page.step = Step::EmailCode;
            page.note = demo_code(&state, &page.email).await;
            page.shown(&state)
        }
        Err(err) => page.failed(&state, &err),
    }
}

/// Checks the email's code, then asks for the phone, or texts the known one.
#[utoipa::path(post, path = "/sign-in/email/code", tag = super::WEB_TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`email`, `code`"),
    responses((status = 200, description = "The phone step, or the phone code step for an agent whose phone is known.", content_type = "text/html", body = String),
              (status = "4XX", description = "The code step again, saying why.", content_type = "text/html", body = String)))]
pub(super) async fn check_email_code(
    State(state): State<AppState>,
    ip: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let mut page = SignInPage::at(Step::EmailCode);
    page.email = form.email.trim().to_owned();
    if let Err(refused) = same_origin(&state, &headers) {
        return page.failed(&state, &refused);
    }
    let body = email::ValidateBody {
        email: Some(form.email.clone()),
        code: Some(form.code.clone()),
    };
    let verified = match email::validate(State(state.clone()), ip, JsonOrForm(body)).await {
        Ok(answer) => answer.into_data(),
        Err(err) => return page.failed(&state, &err),
    };
    let setup_cookie = set_cookie(
        &state,
        SETUP_COOKIE,
        &verified.token,
        SIGN_IN_PATH,
        SETUP_COOKIE_TTL,
    );
    let known_phone = match EmailAddress::parse(&verified.email) {
        Ok(address) => match state.store.agent_by_email(&address).await {
            Ok(agent) => agent
                .filter(|a| a.phone_verified_at.is_some())
                .and_then(|a| a.phone),
            Err(err) => return page.failed(&state, &err.into()),
        },
        Err(err) => return page.failed(&state, &err.into()),
    };
    let mut page = SignInPage::at(Step::Phone);
    if let Some(known) = known_phone {
        let body = phone::InitBody {
            token: Some(verified.token.clone()),
            phone: Some(known.as_str().to_owned()),
        };
        match phone::init(State(state.clone()), ip, JsonOrForm(body)).await {
            Ok(_) => {
                page.step = Step::PhoneCode;
                page.phone = known.as_str().to_owned();
                page.phone_shown = known.masked();
                page.note = demo_code(&state, known.as_str()).await;
            }
            Err(err) => {
                page.error = Some(err.to_string());
            }
        }
    }
    let mut response = page.shown(&state);
    response.headers_mut().append(SET_COOKIE, setup_cookie);
    response
}

/// Texts a code to the phone.
#[utoipa::path(post, path = "/sign-in/phone", tag = super::WEB_TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`phone`"),
    responses((status = 200, description = "The phone code step.", content_type = "text/html", body = String),
              (status = "4XX", description = "The phone step again, saying why.", content_type = "text/html", body = String)))]
pub(super) async fn send_phone_code(
    State(state): State<AppState>,
    ip: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let mut page = SignInPage::at(Step::Phone);
    page.phone = form.phone.trim().to_owned();
    if let Err(refused) = same_origin(&state, &headers) {
        return page.failed(&state, &refused);
    }
    let Some(token) = setup_token(&headers) else {
        return expired(&state);
    };
    let typed = match PhoneNumber::parse_in(&form.phone, &caller_region(&state)) {
        Ok(typed) => typed,
        Err(err) => return page.failed(&state, &err.into()),
    };
    let body = phone::InitBody {
        token: Some(token),
        phone: Some(typed.as_str().to_owned()),
    };
    match phone::init(State(state.clone()), ip, JsonOrForm(body)).await {
        Ok(_) => {
            page.step = Step::PhoneCode;
            page.phone_shown = typed.masked();
            page.phone = typed.as_str().to_owned();
            page.note = demo_code(&state, typed.as_str()).await;
            page.shown(&state)
        }
        Err(err) => page.failed(&state, &err),
    }
}

/// Checks the phone's code and opens the session.
#[utoipa::path(post, path = "/sign-in/phone/code", tag = super::WEB_TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`phone`, `code`"),
    responses((status = 303, description = "Signed in: to the dialer, with the session cookie."),
              (status = "4XX", description = "The code step again, saying why.", content_type = "text/html", body = String)))]
pub(super) async fn check_phone_code(
    State(state): State<AppState>,
    ip: ClientAddress,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let mut page = SignInPage::at(Step::PhoneCode);
    page.phone = form.phone.trim().to_owned();
    page.phone_shown = PhoneNumber::parse(&form.phone)
        .map(|p| p.masked())
        .unwrap_or_default();
    if let Err(refused) = same_origin(&state, &headers) {
        return page.failed(&state, &refused);
    }
    let Some(token) = setup_token(&headers) else {
        return expired(&state);
    };
    let body = phone::ValidateBody {
        token: Some(token),
        phone: Some(form.phone.clone()),
        code: Some(form.code.clone()),
    };
    let verified = match phone::validate(State(state.clone()), ip, JsonOrForm(body)).await {
        Ok(answer) => answer.into_data(),
        Err(err) => return page.failed(&state, &err),
    };
    let agent = match EmailAddress::parse(&verified.email) {
        Ok(address) => state.store.agent_by_email(&address).await,
        Err(err) => return page.failed(&state, &err.into()),
    };
    let agent = match agent {
        Ok(Some(agent)) => agent,
        Ok(None) => {
            return page.failed(&state, &ApiError::Unauthorized("the agent is gone".into()));
        }
        Err(err) => return page.failed(&state, &err.into()),
    };
    match session::open(&state, &agent).await {
        Ok(session_cookie) => {
            let clear = set_cookie(&state, SETUP_COOKIE, "", SIGN_IN_PATH, Duration::ZERO);
            let mut response = see_other("/", Some(session_cookie));
            response.headers_mut().append(SET_COOKIE, clear);
            response
        }
        Err(err) => page.failed(&state, &err),
    }
}

/// Ends the session.
#[utoipa::path(post, path = super::SIGN_OUT_PATH, tag = super::WEB_TAG,
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`csrf`: the page's token"),
    responses((status = 303, description = "Signed out: to the sign-in page."),
              (status = 403, description = "The form did not come from the session's page.")))]
pub(super) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    signed_in: Option<Extension<SignedIn>>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(Extension(signed_in)) = signed_in else {
        return see_other(SIGN_IN_PATH, None);
    };
    if same_origin(&state, &headers).is_err()
        || !session::csrf_matches(&signed_in, Some(&form.csrf))
    {
        return (
            StatusCode::FORBIDDEN,
            "This sign-out did not come from your page.",
        )
            .into_response();
    }
    match session::close(&state, &signed_in).await {
        Ok(clear) => see_other(SIGN_IN_PATH, Some(clear)),
        Err(err) => err.into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// In `demo --web` nobody receives the simulator's emails and texts: the page says the code.
async fn demo_code(state: &AppState, to: &str) -> Option<String> {
    let inbox = state.settings.demo_inbox.as_ref()?;
    let mut url = inbox.join("sim/verifications").ok()?;
    url.query_pairs_mut().append_pair("to", to);
    let answer: serde_json::Value = reqwest::get(url).await.ok()?.json().await.ok()?;
    let code = answer["code"].as_str()?;
    Some(format!(
        "Demo: the simulated Twilio sent the code {code} to {to}."
    ))
}

fn setup_token(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SETUP_COOKIE)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The setup cookie is gone (five minutes passed): back to the start, saying so.
fn expired(state: &AppState) -> Response {
    let mut page = SignInPage::at(Step::Email);
    page.note = Some("That took more than five minutes: start again with your email.".into());
    super::html(state, StatusCode::UNAUTHORIZED, render(&page))
}

/// The country whose notation numbers typed without `+` are read in: the caller ID's.
pub(super) fn caller_region(state: &AppState) -> String {
    state
        .settings
        .caller_id
        .line()
        .region
        .unwrap_or_else(|| "US".to_owned())
}

pub(super) fn see_other(to: &str, cookie: Option<axum::http::HeaderValue>) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, to.to_owned())]).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

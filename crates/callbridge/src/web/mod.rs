//! The agent web app: pages rendered on the server (askama) and small JavaScript modules, all
//! embedded in the binary. The pages' scripts call the same JSON API as every client, with the
//! session cookie standing in for the call token (see [`session`]).

mod admin;
mod assets;
mod campaigns;
mod number;
mod pages;
mod recording;
mod session;
mod sign_in;
mod words;

use askama::Template;
use axum::http::HeaderMap;
use axum::http::header::ORIGIN;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use session::cookie_sessions;

use crate::http::ApiError;
use crate::state::AppState;

pub const WEB_TAG: &str = "Web app";
pub const SIGN_IN_PATH: &str = "/sign-in";
pub const SIGN_OUT_PATH: &str = "/sign-out";
pub const ADMIN_PATH: &str = "/admin";

/// Every page: no script but our own, nothing from elsewhere but the Voice SDK's origin when it
/// is served from another one, and no framing.
pub fn content_security_policy(state: &AppState) -> String {
    let sdk = &state.settings.browser.voice_sdk_url;
    let sdk_origin = url::Url::parse(sdk)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{sdk_origin}; style-src 'self'; img-src 'self' data:; \
         media-src 'self'; connect-src 'self'{sdk_origin} https://*.twilio.com wss://*.twilio.com; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// The signed-in agent as the layout shows them.
#[derive(Clone)]
pub(crate) struct Me {
    pub email: String,
    pub csrf: String,
    pub admin: bool,
    /// Whether Airtable is configured, so that campaigns have a page.
    pub campaigns: bool,
}

/// The layout's view of the signed-in agent.
async fn me(state: &AppState, signed_in: &session::SignedIn) -> Me {
    Me {
        email: signed_in.agent.email.as_str().to_owned(),
        csrf: signed_in.csrf_token.clone(),
        admin: state
            .store
            .is_admin(signed_in.agent.id)
            .await
            .unwrap_or(false),
        campaigns: state.airtable.is_some(),
    }
}

/// A page as the browser gets it: with the content security policy.
fn html(
    state: &AppState,
    status: axum::http::StatusCode,
    body: String,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [(
            axum::http::header::CONTENT_SECURITY_POLICY,
            content_security_policy(state),
        )],
        axum::response::Html(body),
    )
        .into_response()
}

/// A page that only says something: a refusal, a missing call, a feature switched off.
#[derive(Template)]
#[template(path = "web/message.html")]
struct MessagePage {
    me: Option<Me>,
    page: &'static str,
    heading: &'static str,
    text: &'static str,
    back_href: &'static str,
    back_text: &'static str,
}

fn message(
    state: &AppState,
    status: axum::http::StatusCode,
    me: Me,
    page: &'static str,
    (heading, text): (&'static str, &'static str),
    (back_href, back_text): (&'static str, &'static str),
) -> axum::response::Response {
    let body = render(&MessagePage {
        me: Some(me),
        page,
        heading,
        text,
        back_href,
        back_text,
    });
    html(state, status, body)
}

fn render(template: &impl Template) -> String {
    template.render().unwrap_or_else(|err| {
        tracing::error!(%err, "a page did not render");
        "<!doctype html><title>Error</title><p>This page could not be shown.</p>".to_owned()
    })
}

/// Form posts must come from our own pages: a browser names the page's origin in `Origin`.
fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let ours = state
        .settings
        .public_base_url
        .origin()
        .ascii_serialization();
    match headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) if origin != ours => Err(ApiError::Forbidden(
            "this form was sent from another site".into(),
        )),
        _ => Ok(()),
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pages::dialer))
        .routes(routes!(admin::page))
        .routes(routes!(campaigns::page))
        .routes(routes!(admin::invite))
        .routes(routes!(admin::revoke))
        .routes(routes!(pages::history))
        .routes(routes!(pages::call))
        .routes(routes!(sign_in::page))
        .routes(routes!(sign_in::send_email_code))
        .routes(routes!(sign_in::check_email_code))
        .routes(routes!(sign_in::send_phone_code))
        .routes(routes!(sign_in::check_phone_code))
        .routes(routes!(sign_in::sign_out))
        .routes(routes!(number::check))
        .routes(routes!(recording::recording))
        .routes(routes!(assets::style))
        .routes(routes!(assets::script))
}

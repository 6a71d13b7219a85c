//! The API's own description: `GET /openapi.json` (OpenAPI 3.1) and `GET /docs`, a page that
//! reads it. Both come from the router itself: every route is registered with `routes!` from a
//! handler's `#[utoipa::path]`, which names the handler's own request and answer types, so the
//! document lists exactly what the router answers.

mod page;
mod schemas;

use std::sync::{Arc, OnceLock};

use axum::Extension;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::envelope::{ErrorStatus, SuccessStatus};
use super::error::{CallRef, ErrorBody};
use crate::state::AppState;

pub const OPENAPI_PATH: &str = "/openapi.json";
pub const DOCS_PATH: &str = "/docs";
pub const DOCS_STYLE_PATH: &str = "/assets/docs.css";

pub const SETUP_TAG: &str = "Setup";
pub const CALLS_TAG: &str = "Calls";
pub const BROWSER_TAG: &str = "Browser calling";
pub const AIRTABLE_TAG: &str = "Airtable";
pub const WEBHOOKS_TAG: &str = "Twilio webhooks";
pub const OPERATIONS_TAG: &str = "Operations";
pub const DOCS_TAG: &str = "Documentation";

/// The security scheme names the handlers' annotations use.
pub const CALL_TOKEN: &str = "callToken";
pub const TWILIO_SIGNATURE: &str = "twilioSignature";

const STYLE: &str = include_str!("../../../assets/docs.css");

const DESCRIPTION: &str = "\
Outbound conference calls on Twilio Voice: callbridge rings the agent (a phone or a browser), \
then the customer, and joins both in a private conference.

**Envelope.** Every JSON answer is `{\"status\": \"success\", \"message\": …, \"data\": …}` or \
`{\"status\": \"error\", \"message\": …, \"code\": …}`, where `code` is Twilio's error code when \
Twilio refused something and the HTTP status otherwise. A `Retry-After` header comes with 429 \
and with 503s worth retrying.

**Authentication.** Onboarding proves an email and then a phone with Twilio Verify. \
`POST /setup/email/validate` answers with a *setup token* (five minutes), passed as the `token` \
field of the phone step, which answers with the *call token*: `Authorization: Bearer <call token>` \
on every call endpoint (the seed's `token` body field is accepted too). Revoking the agent \
revokes the token.

**Bodies.** Request bodies are JSON or `application/x-www-form-urlencoded`, as the seed accepted.

**Twilio webhooks** are called by Twilio, not by clients: they need a valid \
`X-Twilio-Signature` (403 otherwise) and answer TwiML, or `{}` to a status callback.";

#[derive(OpenApi)]
#[openapi(
    info(title = "callbridge", description = DESCRIPTION, license(name = "MIT", identifier = "MIT")),
    tags(
        (name = SETUP_TAG, description = "Onboarding: prove an email, then a phone, get a call token."),
        (name = CALLS_TAG, description = "Start calls, read the call log, follow a call live, hang up."),
        (name = BROWSER_TAG, description = "Talk from a browser with Twilio's Voice SDK."),
        (name = AIRTABLE_TAG, description = "Calls from Airtable records, one at a time or as campaigns; 404 unless Airtable is configured."),
        (name = WEBHOOKS_TAG, description = "Called by Twilio with a signed form; never by clients."),
        (name = crate::web::WEB_TAG, description = "The agent web app's pages and the helpers its scripts call. Pages answer HTML; a session cookie stands in for the call token, and changes made with it need the page's `X-CSRF-Token`."),
        (name = OPERATIONS_TAG, description = "Liveness, readiness and metrics."),
        (name = DOCS_TAG, description = "This description, as JSON and as a page."),
    ),
    components(schemas(ErrorBody, CallRef, ErrorStatus, SuccessStatus, crate::calls::live::StateView)),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            CALL_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "The call token from `POST /setup/phone/validate` or `/setup/validate`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            TWILIO_SIGNATURE,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Twilio-Signature",
                "Twilio's HMAC-SHA1 of the request's URL and form, keyed with the auth token.",
            ))),
        );
    }
}

/// The document and the page, made at their first request: a start that serves webhooks does
/// not wait for them.
pub struct Published {
    api: utoipa::openapi::OpenApi,
    rendered: OnceLock<Rendered>,
}

impl std::fmt::Debug for Published {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Published")
            .field("rendered", &self.rendered.get().is_some())
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Rendered {
    json: String,
    page: String,
}

/// Splits the router from its description; every route must have come through `routes!`.
pub fn publish(router: OpenApiRouter<AppState>) -> (axum::Router<AppState>, Arc<Published>) {
    let (router, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .routes(routes!(docs))
        .routes(routes!(docs_style))
        .merge(router)
        .split_for_parts();
    let published = Arc::new(Published {
        api,
        rendered: OnceLock::new(),
    });
    (router.layer(Extension(published.clone())), published)
}

impl Published {
    pub fn json(&self) -> &str {
        &self.rendered().json
    }

    fn page(&self) -> &str {
        &self.rendered().page
    }

    fn rendered(&self) -> &Rendered {
        self.rendered.get_or_init(|| {
            let document = complete(serde_json::to_value(&self.api).unwrap_or_default());
            Rendered {
                json: serde_json::to_string_pretty(&document).unwrap_or_default(),
                page: page::render(&document),
            }
        })
    }
}

/// Adds what every operation may answer, whatever its handler: the layers' errors (timeouts,
/// body limits, an unavailable database) and each security scheme's refusal.
fn complete(mut document: Value) -> Value {
    let version = env!("CARGO_PKG_VERSION");
    document["info"]["version"] = json!(version);
    document["components"]["responses"] = common_responses();
    refer_to_envelope_data(&mut document);
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return document;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let Some(operation) = operation.as_object_mut() else {
                continue;
            };
            operation.insert("operationId".into(), json!(operation_id(method, path)));
            also_as_form(operation);
            let schemes: Vec<String> = operation
                .get("security")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|requirement| requirement.keys().cloned())
                .collect();
            let has_body = operation.contains_key("requestBody");
            let responses = operation
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("responses is an object");
            let mut add = |status: &str, name: &str| {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
            };
            if schemes.iter().any(|s| s == CALL_TOKEN) {
                add("401", "Unauthorized");
            }
            if schemes.iter().any(|s| s == TWILIO_SIGNATURE) {
                add("403", "BadSignature");
            }
            if has_body {
                add("413", "TooLarge");
                add("415", "UnsupportedBody");
            }
            add("500", "Internal");
            add("503", "Unavailable");
            add("504", "Timeout");
            // OpenAPI requires one; where a handler's annotation gives none, the status's own
            // words say it.
            for (status, response) in responses.iter_mut() {
                if let Some(response) = response.as_object_mut()
                    && !response.contains_key("$ref")
                    && !response.contains_key("description")
                {
                    let reason = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("Answer");
                    response.insert("description".into(), json!(reason));
                }
            }
        }
    }
    document
}

/// The envelope's generic `data` comes inlined in each `SuccessBody_X`; where it is exactly the
/// schema `X`, a reference reads better (the page links to it) and says the same.
fn refer_to_envelope_data(document: &mut Value) {
    let Some(schemas) = document["components"]["schemas"].as_object_mut() else {
        return;
    };
    let names: Vec<String> = schemas.keys().cloned().collect();
    for name in names {
        let Some(inner) = name.strip_prefix("SuccessBody_") else {
            continue;
        };
        let Some(target) = schemas.get(inner).cloned() else {
            continue;
        };
        if let Some(data) = schemas[&name]["properties"].get_mut("data")
            && *data == target
        {
            *data = json!({"$ref": format!("#/components/schemas/{inner}")});
        }
    }
}

/// `POST /calls/{id}/hangup` → `postCallsIdHangup`: unique, since method and path are, and
/// stable for generated clients. The handlers' own names repeat across modules (`init`).
fn operation_id(method: &str, path: &str) -> String {
    if path == "/" {
        return format!("{}Root", method.to_ascii_lowercase());
    }
    let mut id = method.to_ascii_lowercase();
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

/// Every JSON body of the API is read by `JsonOrForm`, which takes a form as well, as the seed
/// did; webhooks declare their forms themselves.
fn also_as_form(operation: &mut Map<String, Value>) {
    let Some(content) = operation
        .get_mut("requestBody")
        .and_then(|body| body.get_mut("content"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(json) = content.get("application/json").cloned() {
        content
            .entry("application/x-www-form-urlencoded")
            .or_insert(json);
    }
}

fn common_responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        })
    };
    let mut responses = Map::new();
    for (name, description) in [
        (
            "Unauthorized",
            "No call token, or one that is expired, revoked or not a call token.",
        ),
        (
            "BadSignature",
            "The X-Twilio-Signature is missing or does not match.",
        ),
        ("TooLarge", "The body is larger than 256 KiB."),
        ("UnsupportedBody", "The body is neither JSON nor a form."),
        ("Internal", "callbridge failed; the detail is in its log."),
        (
            "Unavailable",
            "The database (or what the operation needs) is unavailable: retry shortly.",
        ),
        ("Timeout", "The request took longer than REQUEST_TIMEOUT."),
    ] {
        responses.insert(name.to_owned(), error(description));
    }
    Value::Object(responses)
}

/// This document.
#[utoipa::path(
    get,
    path = OPENAPI_PATH,
    tag = DOCS_TAG,
    responses((status = 200, description = "The OpenAPI 3.1 document.", content_type = "application/json", body = Object)),
)]
async fn openapi_json(Extension(published): Extension<Arc<Published>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        published.json().to_owned(),
    )
        .into_response()
}

/// This document as a page to read.
#[utoipa::path(
    get,
    path = DOCS_PATH,
    tag = DOCS_TAG,
    responses((status = 200, description = "An HTML page, with no scripts and nothing from other hosts.", content_type = "text/html", body = String)),
)]
async fn docs(Extension(published): Extension<Arc<Published>>) -> Response {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        )],
        Html(published.page().to_owned()),
    )
        .into_response()
}

/// The page's style sheet.
#[utoipa::path(
    get,
    path = DOCS_STYLE_PATH,
    tag = DOCS_TAG,
    responses((status = 200, description = "CSS.", content_type = "text/css", body = String)),
)]
async fn docs_style() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
}

#[cfg(test)]
mod tests;

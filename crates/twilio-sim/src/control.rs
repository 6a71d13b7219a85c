//! The control API under `/sim/` (no auth): what tests and people use to look inside the simulator and
//! to act as the callee.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::NumberBehaviour;
use crate::devices::{self, DeviceError};
use crate::engine::Signal;
use crate::model::{CallRec, Model};
use crate::state::Shared;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/verifications", get(verification))
        .route("/calls", get(calls))
        .route("/calls/{sid}", get(call))
        .route("/calls/{sid}/digits", post(digits))
        .route("/calls/{sid}/hangup", post(hangup))
        .route("/calls/{sid}/answer", post(answer))
        .route("/calls/{sid}/decline", post(decline))
        .route("/calls/{sid}/ignore", post(ignore))
        .route("/people.js", get(crate::people::script))
        .route("/people.css", get(crate::people::style))
        .route("/numbers/{number}", put(set_number).get(get_number))
        .route("/conferences", get(conferences))
        .route("/webhooks", get(webhooks))
        .route("/clock/advance", post(advance_clock))
        .route(
            "/faults/calls-create",
            put(crate::fault::put).delete(crate::fault::clear),
        )
        .merge(device_routes())
}

/// What the Voice SDK script calls, so open to pages of any origin.
fn device_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/devices", post(register_device).get(list_devices))
        .route("/devices/{id}", get(device).delete(unregister_device))
        .route(
            "/devices/{id}/registration",
            post(start_registration).delete(stop_registration),
        )
        .route("/devices/{id}/token", put(update_token))
        .route("/devices/{id}/connect", post(connect_device))
        .route("/devices/{id}/calls", get(device_calls))
        .route("/devices/{id}/calls/{sid}/{action}", post(device_action))
        .merge(crate::sdk::router())
        .layer(crate::sdk::cors())
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

#[derive(Deserialize)]
struct ToQuery {
    to: String,
}

async fn verification(State(shared): State<Arc<Shared>>, Query(q): Query<ToQuery>) -> Response {
    let model = shared.model();
    match model.verifications.iter().rev().find(|v| v.to == q.to) {
        Some(v) => Json(json!({"to": v.to, "channel": v.channel, "code": v.code, "status": v.status, "sid": v.sid})).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("no verification for {}", q.to)),
    }
}

fn call_view(model: &Model, c: &CallRec) -> Value {
    let conference = c
        .conference_sid
        .as_ref()
        .and_then(|sid| model.conferences.get(sid));
    json!({
        "sid": c.sid,
        "parent_call_sid": c.parent_call_sid,
        "direction": c.direction,
        "from": c.from,
        "to": c.to,
        "status": c.status.as_str(),
        "duration": c.duration,
        "answered_by": c.answered_by,
        "machine_detection_duration_ms": c.machine_detection_ms,
        "voicemail": c.voicemail,
        "in_gather": c.in_gather,
        "error_code": c.error_code,
        "conference": conference.map(|cf| cf.friendly_name.clone()),
        "conference_sid": c.conference_sid,
        "timeline": c.timeline,
    })
}

async fn calls(State(shared): State<Arc<Shared>>) -> Response {
    let model = shared.model();
    let calls: Vec<Value> = model
        .call_order
        .iter()
        .filter_map(|sid| model.calls.get(sid))
        .map(|c| call_view(&model, c))
        .collect();
    Json(json!({ "calls": calls })).into_response()
}

async fn call(State(shared): State<Arc<Shared>>, Path(sid): Path<String>) -> Response {
    let model = shared.model();
    match model.calls.get(&sid) {
        Some(c) => Json(call_view(&model, c)).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("no call {sid}")),
    }
}

#[derive(Deserialize)]
struct DigitsForm {
    digits: String,
}

async fn digits(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    Form(form): Form<DigitsForm>,
) -> Response {
    if form.digits.is_empty()
        || !form
            .digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '*' || c == '#' || c == 'w')
    {
        return problem(StatusCode::BAD_REQUEST, "digits may hold 0-9, * and # only");
    }
    send(
        &shared,
        &sid,
        Signal::Digits(form.digits.replace('w', "")),
        |s| s == crate::model::CallStatus::InProgress,
    )
}

async fn hangup(State(shared): State<Arc<Shared>>, Path(sid): Path<String>) -> Response {
    send(&shared, &sid, Signal::Hangup, |s| !s.is_final())
}

fn ringing(status: crate::model::CallStatus) -> bool {
    status == crate::model::CallStatus::Ringing
}

/// The person playing the phone picks up (a number whose behaviour is `person`).
async fn answer(State(shared): State<Arc<Shared>>, Path(sid): Path<String>) -> Response {
    send(&shared, &sid, Signal::PersonAnswers, ringing)
}

/// The person declines the call: the caller hears busy.
async fn decline(State(shared): State<Arc<Shared>>, Path(sid): Path<String>) -> Response {
    send(&shared, &sid, Signal::PersonDeclines, ringing)
}

/// The person lets it ring out: the caller hears no answer, now rather than at its timeout.
async fn ignore(State(shared): State<Arc<Shared>>, Path(sid): Path<String>) -> Response {
    send(&shared, &sid, Signal::PersonIgnores, ringing)
}

fn send(
    shared: &Shared,
    sid: &str,
    signal: Signal,
    allowed: impl Fn(crate::model::CallStatus) -> bool,
) -> Response {
    let model = shared.model();
    let Some(c) = model.calls.get(sid) else {
        return problem(StatusCode::NOT_FOUND, format!("no call {sid}"));
    };
    if !allowed(c.status) {
        return problem(
            StatusCode::CONFLICT,
            format!("call {sid} is {}", c.status.as_str()),
        );
    }
    let _ = c.signals.send(signal);
    (
        StatusCode::ACCEPTED,
        Json(json!({"sid": sid, "status": c.status.as_str()})),
    )
        .into_response()
}

async fn set_number(
    State(shared): State<Arc<Shared>>,
    Path(number): Path<String>,
    Json(b): Json<NumberBehaviour>,
) -> Response {
    shared.model().numbers.insert(number.clone(), b.clone());
    tracing::info!(target: "twilio_sim::control", "{number} now behaves as {b:?}");
    Json(b).into_response()
}

async fn get_number(State(shared): State<Arc<Shared>>, Path(number): Path<String>) -> Response {
    Json(shared.behaviour(&number)).into_response()
}

async fn conferences(State(shared): State<Arc<Shared>>) -> Response {
    let model = shared.model();
    let list: Vec<Value> = model
        .conf_order
        .iter()
        .filter_map(|sid| model.conferences.get(sid))
        .map(|c| {
            json!({
                "sid": c.sid,
                "friendly_name": c.friendly_name,
                "status": c.status.as_str(),
                "reason_conference_ended": c.reason_ended,
                "call_sid_ending_conference": c.call_sid_ending,
                "recording_sid": c.recording.as_ref().map(|r| r.sid.clone()),
                "participants": c.participants.iter().map(|p| json!({
                    "call_sid": p.call_sid,
                    "label": p.label,
                    "status": p.status,
                    "muted": p.muted,
                    "hold": p.hold,
                    "start_conference_on_enter": p.start_on_enter,
                    "end_conference_on_exit": p.end_on_exit,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(json!({ "conferences": list })).into_response()
}

async fn webhooks(State(shared): State<Arc<Shared>>) -> Response {
    let model = shared.model();
    Json(json!({ "webhooks": model.webhooks, "forgotten": model.webhooks_forgotten }))
        .into_response()
}

#[derive(Deserialize)]
struct Advance {
    ms: i64,
}

/// Moves the simulator's wall clock forward (Verify expiry, Sync TTLs), without waiting.
async fn advance_clock(State(shared): State<Arc<Shared>>, Json(a): Json<Advance>) -> Response {
    shared.clock.advance(a.ms);
    Json(json!({"now": shared.now_rfc3339()})).into_response()
}

// ---- devices ----

pub(crate) fn device_problem(e: &DeviceError) -> Response {
    let status = match e.code {
        0 if e.conflict => StatusCode::CONFLICT,
        0 => StatusCode::NOT_FOUND,
        31001 => StatusCode::NOT_FOUND,
        20106 => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    let code = (e.code != 0).then_some(e.code);
    (status, Json(json!({"error": e.message, "code": code}))).into_response()
}

#[derive(Deserialize)]
struct Registration {
    token: String,
    /// `false` makes a device that only places calls.
    #[serde(default = "yes")]
    register: bool,
}

fn yes() -> bool {
    true
}

async fn register_device(
    State(shared): State<Arc<Shared>>,
    Json(r): Json<Registration>,
) -> Response {
    match devices::register(&shared, &r.token, r.register) {
        Ok(d) => (StatusCode::CREATED, Json(d)).into_response(),
        Err(e) => device_problem(&e),
    }
}

async fn list_devices(State(shared): State<Arc<Shared>>) -> Response {
    Json(json!({ "devices": devices::list(&shared) })).into_response()
}

/// A page may act only for the device whose token it holds ([`crate::sdk::check_page`]).
macro_rules! page_check {
    ($shared:expr, $headers:expr, $id:expr) => {
        if let Err(e) = crate::sdk::check_page(&$shared, &$headers, &$id) {
            return device_problem(&e);
        }
    };
}

async fn device(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_check!(shared, headers, id);
    match devices::get(&shared, &id) {
        Some((d, calls)) => {
            let mut v = json!(d);
            v["calls"] = json!(calls);
            Json(v).into_response()
        }
        None => problem(StatusCode::NOT_FOUND, format!("no device {id}")),
    }
}

async fn unregister_device(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_check!(shared, headers, id);
    if devices::unregister(&shared, &id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        problem(StatusCode::NOT_FOUND, format!("no device {id}"))
    }
}

async fn start_registration(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_check!(shared, headers, id);
    match devices::set_registered(&shared, &id, true) {
        Ok(d) => Json(d).into_response(),
        Err(e) => device_problem(&e),
    }
}

async fn stop_registration(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_check!(shared, headers, id);
    match devices::set_registered(&shared, &id, false) {
        Ok(d) => Json(d).into_response(),
        Err(e) => device_problem(&e),
    }
}

#[derive(Deserialize)]
struct NewToken {
    token: String,
}

/// Answers the token's remaining lifetime (`ttl`, seconds), from which the SDK times its next
/// `tokenWillExpire`.
async fn update_token(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(t): Json<NewToken>,
) -> Response {
    page_check!(shared, headers, id);
    match devices::update_token(&shared, &id, &t.token) {
        Ok(d) => {
            let mut v = json!(d);
            v["ttl"] = json!(devices::token_ttl(&shared, &id));
            Json(v).into_response()
        }
        Err(e) => device_problem(&e),
    }
}

async fn device_calls(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    page_check!(shared, headers, id);
    match devices::get(&shared, &id) {
        Some((_, calls)) => Json(json!({ "calls": calls })).into_response(),
        None => problem(StatusCode::NOT_FOUND, format!("no device {id}")),
    }
}

#[derive(Deserialize, Default)]
struct Connect {
    #[serde(default)]
    params: serde_json::Map<String, Value>,
}

async fn connect_device(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Option<Json<Connect>>,
) -> Response {
    page_check!(shared, headers, id);
    let Json(c) = body.unwrap_or_default();
    let params = c
        .params
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect();
    match devices::connect(&shared, &id, &params) {
        Ok(sid) => (StatusCode::CREATED, Json(json!({ "call_sid": sid }))).into_response(),
        Err(e) => device_problem(&e),
    }
}

#[derive(Deserialize, Default)]
struct Action {
    digits: Option<String>,
}

async fn device_action(
    State(shared): State<Arc<Shared>>,
    Path((id, sid, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Option<Json<Action>>,
) -> Response {
    page_check!(shared, headers, id);
    let signal = match action.as_str() {
        "accept" => Signal::Accept(id.clone()),
        "reject" => Signal::Reject(id.clone()),
        "hangup" => Signal::Hangup,
        "digits" => {
            let digits = body.and_then(|Json(a)| a.digits).unwrap_or_default();
            if digits.is_empty()
                || !digits
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
            {
                return problem(StatusCode::BAD_REQUEST, "digits may hold 0-9, * and # only");
            }
            Signal::Digits(digits)
        }
        other => {
            return problem(
                StatusCode::NOT_FOUND,
                format!("no action {other}: accept, reject, hangup or digits"),
            );
        }
    };
    match devices::act(&shared, &id, &sid, signal) {
        Ok(c) => (StatusCode::ACCEPTED, Json(c)).into_response(),
        Err(e) => device_problem(&e),
    }
}

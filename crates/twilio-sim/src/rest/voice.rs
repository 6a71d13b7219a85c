//! The 2010-04-01 Voice resources: Calls, Conferences, Participants, Recordings, IncomingPhoneNumbers.

use std::sync::Arc;

use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ApiError, ApiResult, Form, Req, method_not_allowed, page, reply};
use crate::clock::rfc2822;
use crate::engine::media::Music;
use crate::engine::twiml::Callback;
use crate::engine::{self, JoinSpec, NewCall, Signal, Start, TwimlSource, amd, conference};
use crate::model::{CallRec, CallStatus, ConfRec, ConfStatus, Model, ParticipantRec, RecordingRec};
use crate::state::Shared;

pub(super) async fn route(shared: &Arc<Shared>, req: &Req<'_>, rest: &[&str]) -> ApiResult {
    let m = req.method;
    match rest {
        ["Calls.json"] => match *m {
            Method::GET => list_calls(shared, req),
            Method::POST => {
                crate::fault::before_calls_create(shared, req.form.get("To")).await?;
                create_call(shared, req)
            }
            _ => Err(method_not_allowed(req)),
        },
        ["Calls", file] => {
            let sid = json_sid(file, req)?;
            match *m {
                Method::GET => fetch_call(shared, req, sid),
                Method::POST => update_call(shared, req, sid).await,
                Method::DELETE => delete_call(shared, req, sid),
                _ => Err(method_not_allowed(req)),
            }
        }
        ["Calls", call, "Recordings.json"] if *m == Method::GET => {
            list_recordings(shared, req, |r| r.call_sid.as_deref() == Some(*call))
        }
        ["Conferences.json"] if *m == Method::GET => list_conferences(shared, req),
        ["Conferences", file] => {
            let sid = json_sid(file, req)?;
            match *m {
                Method::GET => fetch_conference(shared, req, sid),
                Method::POST => update_conference(shared, req, sid),
                _ => Err(method_not_allowed(req)),
            }
        }
        ["Conferences", conf, "Participants.json"] => match *m {
            Method::GET => list_participants(shared, req, conf),
            Method::POST => create_participant(shared, req, conf),
            _ => Err(method_not_allowed(req)),
        },
        ["Conferences", conf, "Participants", file] => {
            let call = json_sid(file, req)?;
            match *m {
                Method::GET => fetch_participant(shared, req, conf, call),
                Method::POST => update_participant(shared, req, conf, call),
                Method::DELETE => delete_participant(shared, req, conf, call),
                _ => Err(method_not_allowed(req)),
            }
        }
        ["Conferences", conf, "Recordings.json"] if *m == Method::GET => {
            list_recordings(shared, req, |r| r.conference_sid.as_deref() == Some(*conf))
        }
        ["Recordings.json"] if *m == Method::GET => {
            let call = req.query.get("CallSid").map(str::to_owned);
            let conf = req.query.get("ConferenceSid").map(str::to_owned);
            list_recordings(shared, req, |r| {
                call.as_ref().is_none_or(|c| r.call_sid.as_ref() == Some(c))
                    && conf
                        .as_ref()
                        .is_none_or(|c| r.conference_sid.as_ref() == Some(c))
            })
        }
        ["Recordings", file] => recording(shared, req, file),
        ["IncomingPhoneNumbers.json"] if *m == Method::GET => super::numbers::list(shared, req),
        ["IncomingPhoneNumbers", file] => super::numbers::route(shared, req, file),
        [
            "Applications.json" | "Applications" | "Keys.json" | "Keys",
            ..,
        ] => super::apps::route(shared, req, rest),
        _ => Err(ApiError::not_found(req.path)),
    }
}

pub(super) fn json_sid<'a>(file: &'a str, req: &Req<'_>) -> Result<&'a str, ApiError> {
    file.strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found(req.path))
}

// ---- validation ----

/// E.164 (`+` and 8 to 15 digits), or a Client / SIP address.
pub(crate) fn valid_address(to: &str) -> bool {
    if to.starts_with("client:") && to.len() > 7 {
        return true;
    }
    if to.starts_with("sip:") && to.contains('@') {
        return true;
    }
    to.strip_prefix('+').is_some_and(|d| {
        (8..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()) && !d.starts_with('0')
    })
}

pub(super) fn valid_url(u: &str) -> bool {
    url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn to_and_from(form: &Form) -> Result<(String, String), ApiError> {
    let to = form
        .non_empty("To")
        .ok_or_else(|| ApiError::bad_request(21201, "No 'To' number is specified"))?;
    if !valid_address(&to) {
        return Err(ApiError::bad_request(
            21211,
            format!("Invalid 'To' Phone Number: {to}"),
        ));
    }
    let from = form
        .non_empty("From")
        .ok_or_else(|| ApiError::bad_request(21213, "No 'From' number is specified"))?;
    if !valid_address(&from) {
        return Err(ApiError::bad_request(
            21212,
            format!("Invalid 'From' Phone Number: {from}"),
        ));
    }
    Ok((to, from))
}

/// Twilio places calls only from a number the account owns or has verified (21210). Client and SIP
/// callers are not phone numbers and are not checked.
fn check_caller_id(shared: &Shared, from: &str) -> Result<(), ApiError> {
    if from.starts_with('+') && !owns(shared, from) {
        return Err(ApiError::bad_request(
            21210,
            format!(
                "The source phone number provided, {from}, is not yet verified for your account. \
                 You may only make calls from phone numbers that you've verified or purchased from Twilio."
            ),
        ));
    }
    Ok(())
}

/// Whether the account owns `number`; with no `incoming_numbers` configured it owns them all.
pub(super) fn owns(shared: &Shared, number: &str) -> bool {
    let owned = &shared.config.incoming_numbers;
    owned.is_empty() || owned.iter().any(|n| n == number)
}

fn callback(
    form: &Form,
    url: &str,
    events: &str,
    default_events: &[&str],
) -> Result<Option<Callback>, ApiError> {
    let Some(u) = form.non_empty(url) else {
        return Ok(None);
    };
    if !valid_url(&u) {
        return Err(ApiError::bad_request(21609, format!("Invalid {url}: {u}")));
    }
    let mut events = form.list(events);
    if events.is_empty() {
        events = default_events.iter().map(|e| (*e).to_owned()).collect();
    }
    Ok(Some(Callback {
        url: u,
        method: form.method(&format!("{url}Method")),
        events,
    }))
}

/// How long the call may ring, 1 to 600 seconds (default 60).
fn timeout(form: &Form) -> Result<u64, ApiError> {
    match form.uint("Timeout")? {
        None => Ok(60),
        Some(t) if (1..=600).contains(&t) => Ok(t),
        Some(t) => Err(ApiError::bad_request(
            20001,
            format!("Timeout must be between 1 and 600 seconds, not {t}"),
        )),
    }
}

/// `MachineDetection` and its settings. Calls detect synchronously unless `AsyncAmd=true` (then
/// the verdict goes to `AsyncAmdStatusCallback`); participants always detect asynchronously and
/// report to `AmdStatusCallback`.
fn machine_detection(form: &Form, participant: bool) -> Result<Option<amd::Request>, ApiError> {
    let Some(value) = form.non_empty("MachineDetection") else {
        return Ok(None);
    };
    let mode = amd::Mode::parse(&value).ok_or_else(|| {
        ApiError::bad_request(
            20001,
            format!("Invalid MachineDetection: {value} (Enable or DetectMessageEnd)"),
        )
    })?;
    let timeout_s = match form.uint("MachineDetectionTimeout")? {
        None => amd::DEFAULT_TIMEOUT_S,
        Some(t) if (3..=59).contains(&t) => t,
        Some(t) => {
            return Err(ApiError::bad_request(
                20001,
                format!("MachineDetectionTimeout must be between 3 and 59 seconds, not {t}"),
            ));
        }
    };
    let (asynchronous, url) = if participant {
        (true, "AmdStatusCallback")
    } else {
        (
            form.bool("AsyncAmd")?.unwrap_or(false),
            "AsyncAmdStatusCallback",
        )
    };
    let callback = if asynchronous {
        callback(form, url, "", &[])?
    } else {
        None
    };
    Ok(Some(amd::Request {
        mode,
        timeout_s,
        callback,
        asynchronous,
    }))
}

// ---- calls ----

fn create_call(shared: &Arc<Shared>, req: &Req<'_>) -> ApiResult {
    let f = &req.form;
    let (to, from) = to_and_from(f)?;
    let (to, client_params) = client_address(&to);
    super::reachable::check(&to, &from)?;
    check_caller_id(shared, &from)?;
    check_client_caller(&to, &from)?;
    let mut status_callback = callback(f, "StatusCallback", "StatusCallbackEvent", &["completed"])?;
    let mut fallback = optional_url(f, "FallbackUrl")?.map(|u| (u, f.method("FallbackMethod")));
    let source = if let Some(app_sid) = f.non_empty("ApplicationSid") {
        // The application's URLs replace the request's: Twilio ignores Url, FallbackUrl and
        // StatusCallback when an ApplicationSid is given.
        let app = shared
            .model()
            .applications
            .get(&app_sid)
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(21218, format!("Invalid ApplicationSid: {app_sid}"))
            })?;
        let events = status_callback
            .map(|cb| cb.events)
            .unwrap_or_else(|| vec!["completed".to_owned()]);
        status_callback = app.status_callback.clone().map(|url| Callback {
            url,
            method: app.status_callback_method.clone(),
            events,
        });
        fallback = app
            .voice_fallback_url
            .clone()
            .map(|u| (u, app.voice_fallback_method.clone()));
        TwimlSource::Fetch {
            url: app.voice_url.clone().unwrap_or_default(),
            method: app.voice_method,
            extra: vec![("ApplicationSid".to_owned(), app_sid)],
            kind: "twiml",
        }
    } else if let Some(twiml) = f.non_empty("Twiml") {
        TwimlSource::Inline(twiml)
    } else if let Some(url) = f.non_empty("Url") {
        if !valid_url(&url) {
            return Err(ApiError::bad_request(
                21205,
                format!("Url is not a valid URL: {url}"),
            ));
        }
        TwimlSource::Fetch {
            url,
            method: f.method("Method"),
            extra: Vec::new(),
            kind: "twiml",
        }
    } else {
        return Err(ApiError::bad_request(21205, "Url parameter is required"));
    };
    let spec = NewCall {
        from,
        to,
        parent: None,
        direction: "outbound-api",
        status_callback,
        timeout_s: timeout(f)?,
        amd: machine_detection(f, false)?,
        fallback,
        record: recording_request(
            f,
            "Record",
            "RecordingStatusCallback",
            "RecordingStatusCallbackEvent",
        )?,
        client_params,
        start: Start::Twiml(source),
    };
    let mut model = shared.model();
    let sid = engine::place_call(shared, &mut model, spec);
    reply(StatusCode::CREATED, call_json(shared, &model.calls[&sid]))
}

/// `client:alice?k=v&…` calls `client:alice`, whose device sees the custom parameters `k=v…`.
fn client_address(to: &str) -> (String, Vec<(String, String)>) {
    match to.split_once('?') {
        Some((client, query)) if client.starts_with("client:") => (
            client.to_owned(),
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
        ),
        _ => (to.to_owned(), Vec::new()),
    }
}

/// A phone call needs a phone number as its caller: a Client identity may call only Clients.
fn check_client_caller(to: &str, from: &str) -> Result<(), ApiError> {
    if from.starts_with("client:") && to.starts_with('+') {
        return Err(ApiError::bad_request(
            21212,
            format!(
                "Invalid 'From' Phone Number: {from}. When 'To' is a phone number, 'From' must be \
                 a phone number too"
            ),
        ));
    }
    Ok(())
}

fn recording_request(
    f: &Form,
    flag: &str,
    url: &str,
    events: &str,
) -> Result<Option<Option<Callback>>, ApiError> {
    Ok(match f.bool(flag)? {
        Some(true) => Some(callback(f, url, events, &["completed"])?),
        _ => None,
    })
}

fn fetch_call(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let model = shared.model();
    let call = model
        .calls
        .get(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    reply(StatusCode::OK, call_json(shared, call))
}

fn list_calls(shared: &Shared, req: &Req<'_>) -> ApiResult {
    let q = &req.query;
    let starts = super::time_filter::TimeFilter::parse(q, "StartTime")?;
    let model = shared.model();
    let items = model
        .call_order
        .iter()
        .rev()
        .filter_map(|sid| model.calls.get(sid))
        .filter(|c| q.get("To").is_none_or(|v| v == c.to))
        .filter(|c| q.get("From").is_none_or(|v| v == c.from))
        .filter(|c| q.get("Status").is_none_or(|v| v == c.status.as_str()))
        .filter(|c| {
            q.get("ParentCallSid")
                .is_none_or(|v| Some(v) == c.parent_call_sid.as_deref())
        })
        .filter(|c| starts.admits(c.start_time))
        .map(|c| call_json(shared, c))
        .collect();
    reply(
        StatusCode::OK,
        page::classic(
            &format!("{}/Calls.json", shared.account_path()),
            "calls",
            items,
            q,
        ),
    )
}

async fn update_call(shared: &Arc<Shared>, req: &Req<'_>, sid: &str) -> ApiResult {
    let f = &req.form;
    let status = {
        let model = shared.model();
        model
            .calls
            .get(sid)
            .ok_or_else(|| ApiError::not_found(req.path))?
            .status
    };
    if let Some(target) = f.get("Status") {
        if target != "completed" && target != "canceled" {
            return Err(ApiError::bad_request(
                20001,
                format!("Invalid Status: {target}"),
            ));
        }
        let applies = match target {
            "canceled" => matches!(status, CallStatus::Queued | CallStatus::Ringing),
            _ => !status.is_final(),
        };
        if applies {
            signal(shared, sid, Signal::End);
            wait_for_final(shared, sid).await;
        }
    } else {
        let source = if let Some(twiml) = f.non_empty("Twiml") {
            Some(TwimlSource::Inline(twiml))
        } else if let Some(url) = f.non_empty("Url") {
            if !valid_url(&url) {
                return Err(ApiError::bad_request(
                    21205,
                    format!("Url is not a valid URL: {url}"),
                ));
            }
            Some(TwimlSource::Fetch {
                url,
                method: f.method("Method"),
                extra: Vec::new(),
                kind: "twiml",
            })
        } else {
            None
        };
        if let Some(source) = source {
            if status.is_final() {
                return Err(ApiError::bad_request(
                    21220,
                    "Call is not in-progress. Cannot redirect.",
                ));
            }
            signal(shared, sid, Signal::Redirect(source));
        }
        if let Some(cb) = callback(f, "StatusCallback", "StatusCallbackEvent", &["completed"])? {
            let mut model = shared.model();
            if let Some(c) = model.calls.get_mut(sid) {
                c.status_callback = Some(cb);
            }
        }
    }
    fetch_call(shared, req, sid)
}

fn signal(shared: &Shared, sid: &str, s: Signal) {
    if let Some(c) = shared.model().calls.get(sid) {
        let _ = c.signals.send(s);
    }
}

/// Ending a call answers with the ended call, as Twilio does; the call's task needs a moment.
async fn wait_for_final(shared: &Shared, sid: &str) {
    for _ in 0..400 {
        if shared
            .model()
            .calls
            .get(sid)
            .is_none_or(|c| c.status.is_final())
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

fn delete_call(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let mut model = shared.model();
    let call = model
        .calls
        .get(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    if !call.status.is_final() {
        return Err(ApiError::bad_request(
            20009,
            "Cannot delete a call that is not completed",
        ));
    }
    model.calls.remove(sid);
    model.call_order.retain(|s| s != sid);
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(super) fn formatted(number: &str) -> String {
    match number.strip_prefix("+1") {
        Some(d) if d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()) => {
            format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
        }
        _ => number.to_owned(),
    }
}

fn date(d: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    d.map_or(Value::Null, |d| json!(rfc2822(d)))
}

pub(crate) fn call_json(shared: &Shared, c: &CallRec) -> Value {
    let uri = format!("{}/Calls/{}", shared.account_path(), c.sid);
    let sub = |s: &str| format!("{uri}/{s}.json");
    json!({
        "sid": c.sid,
        "date_created": rfc2822(c.date_created),
        "date_updated": rfc2822(c.date_updated),
        "parent_call_sid": c.parent_call_sid,
        "account_sid": shared.config.account_sid,
        "to": c.to,
        "to_formatted": formatted(&c.to),
        "from": c.from,
        "from_formatted": formatted(&c.from),
        "phone_number_sid": super::numbers::phone_number_sid(&c.from, shared),
        "status": c.status.as_str(),
        "start_time": date(c.start_time),
        "end_time": date(c.end_time),
        "duration": c.duration.map(|d| d.to_string()),
        "price": Value::Null,
        "price_unit": "USD",
        "direction": c.direction,
        "answered_by": c.answered_by,
        "api_version": "2010-04-01",
        "forwarded_from": Value::Null,
        "group_sid": Value::Null,
        "caller_name": Value::Null,
        "queue_time": c.queue_time_ms.to_string(),
        "trunk_sid": Value::Null,
        "uri": format!("{uri}.json"),
        "subresource_uris": {
            "feedback": format!("{uri}/Feedback.json"),
            "user_defined_messages": sub("UserDefinedMessages"),
            "notifications": sub("Notifications"),
            "recordings": sub("Recordings"),
            "streams": sub("Streams"),
            "payments": sub("Payments"),
            "user_defined_message_subscriptions": sub("UserDefinedMessageSubscriptions"),
            "siprec": sub("Siprec"),
            "events": sub("Events"),
            "feedback_summaries": format!("{}/Calls/FeedbackSummary.json", shared.account_path()),
            "transcriptions": sub("Transcriptions"),
        },
    })
}

// ---- conferences ----

fn conference_sid(model: &Model, key: &str) -> Option<String> {
    if model.conferences.contains_key(key) {
        return Some(key.to_owned());
    }
    model.conference_by_name(key).map(|c| c.sid.clone())
}

fn fetch_conference(shared: &Shared, req: &Req<'_>, sid: &str) -> ApiResult {
    let model = shared.model();
    let conf = model
        .conferences
        .get(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    reply(StatusCode::OK, conference_json(shared, conf))
}

fn list_conferences(shared: &Shared, req: &Req<'_>) -> ApiResult {
    let q = &req.query;
    let model = shared.model();
    let items = model
        .conf_order
        .iter()
        .rev()
        .filter_map(|sid| model.conferences.get(sid))
        .filter(|c| q.get("FriendlyName").is_none_or(|v| v == c.friendly_name))
        .filter(|c| q.get("Status").is_none_or(|v| v == c.status.as_str()))
        .map(|c| conference_json(shared, c))
        .collect();
    reply(
        StatusCode::OK,
        page::classic(
            &format!("{}/Conferences.json", shared.account_path()),
            "conferences",
            items,
            q,
        ),
    )
}

fn update_conference(shared: &Arc<Shared>, req: &Req<'_>, sid: &str) -> ApiResult {
    let announce_url = optional_url(&req.form, "AnnounceUrl")?;
    let mut model = shared.model();
    let Some(conf) = model.conferences.get(sid) else {
        return Err(ApiError::not_found(req.path));
    };
    let live = conf.status != ConfStatus::Completed;
    match req.form.get("Status") {
        Some("completed") => {
            conference::end(shared, &mut model, sid, "conference-ended-via-api", None)
        }
        Some(other) => {
            return Err(ApiError::bad_request(
                20001,
                format!("Invalid Status: {other}"),
            ));
        }
        None => {
            if let Some(url) = announce_url {
                if !live {
                    return Err(ApiError::bad_request(
                        20001,
                        format!("Conference {sid} is over: nothing to announce to"),
                    ));
                }
                conference::announce(
                    shared,
                    sid,
                    None,
                    Music::Url {
                        url,
                        method: req.form.method("AnnounceMethod"),
                    },
                );
            }
        }
    }
    reply(
        StatusCode::OK,
        conference_json(shared, &model.conferences[sid]),
    )
}

pub(crate) fn conference_json(shared: &Shared, c: &ConfRec) -> Value {
    let uri = format!("{}/Conferences/{}", shared.account_path(), c.sid);
    json!({
        "account_sid": shared.config.account_sid,
        "date_created": rfc2822(c.date_created),
        "date_updated": rfc2822(c.date_updated),
        "api_version": "2010-04-01",
        "friendly_name": c.friendly_name,
        "region": "us1",
        "sid": c.sid,
        "status": c.status.as_str(),
        "uri": format!("{uri}.json"),
        "subresource_uris": {
            "participants": format!("{uri}/Participants.json"),
            "recordings": format!("{uri}/Recordings.json"),
        },
        "reason_conference_ended": c.reason_ended,
        "call_sid_ending_conference": c.call_sid_ending,
    })
}

// ---- participants ----

fn create_participant(shared: &Arc<Shared>, req: &Req<'_>, conf_key: &str) -> ApiResult {
    let f = &req.form;
    let (to, from) = to_and_from(f)?;
    let (to, client_params) = client_address(&to);
    super::reachable::check(&to, &from)?;
    check_caller_id(shared, &from)?;
    check_client_caller(&to, &from)?;
    let conference_record = f
        .get("ConferenceRecord")
        .is_some_and(|v| v == "true" || v == "record-from-start");
    let beep = f.get("Beep").unwrap_or("true");
    if !matches!(beep, "true" | "false" | "onEnter" | "onExit") {
        return Err(ApiError::bad_request(
            20001,
            format!("Invalid Beep: {beep} (true, false, onEnter or onExit)"),
        ));
    }
    f.bool("EarlyMedia")?;
    let wait_url = f.get("WaitUrl");
    if let Some(u) = wait_url.map(str::trim).filter(|u| !u.is_empty())
        && !valid_url(u)
    {
        return Err(ApiError::bad_request(
            21609,
            format!("Invalid WaitUrl: {u}"),
        ));
    }
    let coaching = f.bool("Coaching")?.unwrap_or(false);
    let call_sid_to_coach = f.non_empty("CallSidToCoach");
    if coaching && call_sid_to_coach.is_none() {
        return Err(ApiError::bad_request(
            20001,
            "CallSidToCoach is required when Coaching is true",
        ));
    }
    let mut join = JoinSpec {
        conference_sid: None,
        name: String::new(),
        label: f.non_empty("Label"),
        muted: f.bool("Muted")?.unwrap_or(false),
        start_on_enter: f.bool("StartConferenceOnEnter")?.unwrap_or(true),
        end_on_exit: f.bool("EndConferenceOnExit")?.unwrap_or(false),
        coaching,
        call_sid_to_coach,
        beep_on_exit: matches!(beep, "true" | "onExit"),
        status_callback: callback(
            f,
            "ConferenceStatusCallback",
            "ConferenceStatusCallbackEvent",
            // Twilio's default for the Participants API, unlike <Conference>, which has none.
            &["start", "end"],
        )?,
        wait: Music::from_param(wait_url, f.method("WaitMethod")),
        record: if conference_record {
            Some(callback(
                f,
                "ConferenceRecordingStatusCallback",
                "ConferenceRecordingStatusCallbackEvent",
                &["completed"],
            )?)
        } else {
            None
        },
    };
    let status_callback = callback(f, "StatusCallback", "StatusCallbackEvent", &["completed"])?;
    let timeout_s = match f.uint("Timeout")? {
        None => 60,
        Some(t) if (5..=600).contains(&t) => t,
        Some(t) => {
            return Err(ApiError::bad_request(
                20001,
                format!("Timeout must be between 5 and 600 seconds, not {t}"),
            ));
        }
    };
    let record = recording_request(
        f,
        "Record",
        "RecordingStatusCallback",
        "RecordingStatusCallbackEvent",
    )?;
    let mut model = shared.model();
    let conf_sid = if conf_key.starts_with("CF") && crate::sid::is_sid(conf_key, "CF") {
        match model.conferences.get(conf_key) {
            Some(c) if c.status != ConfStatus::Completed => conf_key.to_owned(),
            _ => return Err(ApiError::not_found(req.path)),
        }
    } else {
        conference::find_or_create(shared, &mut model, conf_key)
    };
    if let Some(coached) = &join.call_sid_to_coach
        && !model.conferences[&conf_sid]
            .participants
            .iter()
            .any(|p| &p.call_sid == coached)
    {
        return Err(ApiError::bad_request(
            20001,
            format!("CallSidToCoach {coached} is not a participant of this conference"),
        ));
    }
    if let Some(label) = &join.label
        && model.conferences[&conf_sid]
            .participants
            .iter()
            .any(|p| p.label.as_ref() == Some(label))
    {
        return Err(ApiError::bad_request(
            20001,
            format!("Label {label} is already used by a participant of this conference"),
        ));
    }
    join.conference_sid = Some(conf_sid.clone());
    join.name = model.conferences[&conf_sid].friendly_name.clone();
    let spec = NewCall {
        from,
        to,
        parent: None,
        direction: "outbound-api",
        status_callback,
        timeout_s,
        amd: machine_detection(f, true)?,
        fallback: None,
        record,
        client_params,
        start: Start::Conference(join.clone()),
    };
    let call_sid = engine::place_call(shared, &mut model, spec);
    conference::add_pending(shared, &mut model, &conf_sid, &call_sid, &join);
    let p = model.conferences[&conf_sid]
        .participants
        .iter()
        .find(|p| p.call_sid == call_sid)
        .expect("just added");
    reply(StatusCode::CREATED, participant_json(shared, &conf_sid, p))
}

fn list_participants(shared: &Shared, req: &Req<'_>, conf_key: &str) -> ApiResult {
    let model = shared.model();
    let conf_sid = conference_sid(&model, conf_key).ok_or_else(|| ApiError::not_found(req.path))?;
    let q = &req.query;
    let items = model.conferences[&conf_sid]
        .participants
        .iter()
        .filter(|p| q.get("Muted").is_none_or(|v| v == p.muted.to_string()))
        .filter(|p| q.get("Hold").is_none_or(|v| v == p.hold.to_string()))
        .map(|p| participant_json(shared, &conf_sid, p))
        .collect();
    let path = format!(
        "{}/Conferences/{conf_sid}/Participants.json",
        shared.account_path()
    );
    reply(
        StatusCode::OK,
        page::classic(&path, "participants", items, q),
    )
}

fn find_participant<'m>(
    model: &'m Model,
    req: &Req<'_>,
    conf_key: &str,
    call: &str,
) -> Result<(String, &'m ParticipantRec), ApiError> {
    let conf_sid = conference_sid(model, conf_key).ok_or_else(|| ApiError::not_found(req.path))?;
    let p = model.conferences[&conf_sid]
        .participants
        .iter()
        .find(|p| p.call_sid == call || p.label.as_deref() == Some(call))
        .ok_or_else(|| ApiError::not_found(req.path))?;
    Ok((conf_sid, p))
}

fn fetch_participant(shared: &Shared, req: &Req<'_>, conf_key: &str, call: &str) -> ApiResult {
    let model = shared.model();
    let (conf_sid, p) = find_participant(&model, req, conf_key, call)?;
    reply(StatusCode::OK, participant_json(shared, &conf_sid, p))
}

/// A `…Url` parameter that must be a valid URL when given.
fn optional_url(f: &Form, key: &str) -> Result<Option<String>, ApiError> {
    match f.non_empty(key) {
        Some(u) if !valid_url(&u) => {
            Err(ApiError::bad_request(21609, format!("Invalid {key}: {u}")))
        }
        other => Ok(other),
    }
}

fn update_participant(
    shared: &Arc<Shared>,
    req: &Req<'_>,
    conf_key: &str,
    call: &str,
) -> ApiResult {
    let f = &req.form;
    let change = conference::Change {
        muted: f.bool("Muted")?,
        hold: f.bool("Hold")?,
        end_on_exit: f.bool("EndConferenceOnExit")?,
        coaching: f.bool("Coaching")?,
        call_sid_to_coach: f.non_empty("CallSidToCoach"),
        beep_on_exit: f.bool("BeepOnExit")?,
    };
    let hold_url = optional_url(f, "HoldUrl")?;
    let announce_url = optional_url(f, "AnnounceUrl")?;
    optional_url(f, "WaitUrl")?;
    let mut model = shared.model();
    let (conf_sid, p) = find_participant(&model, req, conf_key, call)?;
    let call_sid = p.call_sid.clone();
    let was_held = p.hold;
    let coached = change
        .call_sid_to_coach
        .clone()
        .or_else(|| p.call_sid_to_coach.clone());
    if change.coaching == Some(true) {
        let Some(target) = coached else {
            return Err(ApiError::bad_request(
                20001,
                "CallSidToCoach is required when Coaching is true",
            ));
        };
        if target == call_sid
            || !model.conferences[&conf_sid]
                .participants
                .iter()
                .any(|p| p.call_sid == target)
        {
            return Err(ApiError::bad_request(
                20001,
                format!("CallSidToCoach {target} is not another participant of this conference"),
            ));
        }
    }
    let holds = change.hold == Some(true) && !was_held;
    conference::update_participant(shared, &mut model, &conf_sid, &call_sid, change);
    if holds {
        // HoldMethod defaults to GET, unlike every other method parameter.
        let method = match f.get("HoldMethod") {
            Some(m) if m.eq_ignore_ascii_case("POST") => "POST".to_owned(),
            _ => "GET".to_owned(),
        };
        conference::play_hold_music(
            shared,
            &call_sid,
            Music::from_param(hold_url.as_deref(), method),
        );
    }
    if let Some(url) = announce_url {
        conference::announce(
            shared,
            &conf_sid,
            Some(&call_sid),
            Music::Url {
                url,
                method: f.method("AnnounceMethod"),
            },
        );
    }
    let (conf_sid, p) = find_participant(&model, req, &conf_sid, &call_sid)?;
    reply(StatusCode::OK, participant_json(shared, &conf_sid, p))
}

fn delete_participant(shared: &Shared, req: &Req<'_>, conf_key: &str, call: &str) -> ApiResult {
    let mut model = shared.model();
    let (conf_sid, p) = find_participant(&model, req, conf_key, call)?;
    let (call_sid, connected) = (p.call_sid.clone(), p.status == "connected");
    if connected {
        conference::leave(
            shared,
            &mut model,
            &conf_sid,
            &call_sid,
            conference::Leave::Kicked,
        );
    }
    if let Some(c) = model.calls.get(&call_sid) {
        let _ = c.signals.send(if connected {
            Signal::Kicked
        } else {
            Signal::End
        });
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub(crate) fn participant_json(shared: &Shared, conf_sid: &str, p: &ParticipantRec) -> Value {
    json!({
        "account_sid": shared.config.account_sid,
        "call_sid": p.call_sid,
        "label": p.label,
        "call_sid_to_coach": p.call_sid_to_coach,
        "coaching": p.coaching,
        "conference_sid": conf_sid,
        "date_created": rfc2822(p.date_created),
        "date_updated": rfc2822(p.date_updated),
        "end_conference_on_exit": p.end_on_exit,
        "muted": p.muted,
        "hold": p.hold,
        "start_conference_on_enter": p.start_on_enter,
        "status": p.status,
        "queue_time": "0",
        "uri": format!("{}/Conferences/{conf_sid}/Participants/{}.json", shared.account_path(), p.call_sid),
    })
}

// ---- recordings ----

fn list_recordings(
    shared: &Shared,
    req: &Req<'_>,
    keep: impl Fn(&RecordingRec) -> bool,
) -> ApiResult {
    let model = shared.model();
    let items = model
        .recording_order
        .iter()
        .rev()
        .filter_map(|sid| model.recordings.get(sid))
        .filter(|r| keep(r))
        .map(|r| recording_json(shared, r))
        .collect();
    reply(
        StatusCode::OK,
        page::classic(req.path, "recordings", items, &req.query),
    )
}

fn recording(shared: &Shared, req: &Req<'_>, file: &str) -> ApiResult {
    let (sid, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| ApiError::not_found(req.path))?;
    let mut model = shared.model();
    let rec = model
        .recordings
        .get(sid)
        .ok_or_else(|| ApiError::not_found(req.path))?;
    match (ext, req.method) {
        ("json", &Method::GET) => reply(StatusCode::OK, recording_json(shared, rec)),
        ("json", &Method::DELETE) => {
            model.recordings.remove(sid);
            model.recording_order.retain(|s| s != sid);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        ("wav" | "mp3", &Method::GET) => {
            let content_type = if ext == "wav" {
                "audio/x-wav"
            } else {
                "audio/mpeg"
            };
            Ok((
                [(header::CONTENT_TYPE, content_type)],
                silent_wav(rec.duration),
            )
                .into_response())
        }
        ("json" | "wav" | "mp3", _) => Err(method_not_allowed(req)),
        _ => Err(ApiError::not_found(req.path)),
    }
}

/// A valid, silent 8 kHz mono WAV of `secs` seconds (capped), standing in for the recorded audio.
fn silent_wav(secs: u64) -> Vec<u8> {
    let samples = (secs.min(60) * 8000) as u32;
    let data_len = samples * 2;
    let mut w = Vec::with_capacity(44 + data_len as usize);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    w.resize(44 + data_len as usize, 0);
    w
}

pub(crate) fn recording_json(shared: &Shared, r: &RecordingRec) -> Value {
    let uri = format!("{}/Recordings/{}", shared.account_path(), r.sid);
    json!({
        "account_sid": shared.config.account_sid,
        "api_version": "2010-04-01",
        "call_sid": r.call_sid,
        "conference_sid": r.conference_sid,
        "date_created": rfc2822(r.date_created),
        "date_updated": rfc2822(r.date_updated),
        "start_time": rfc2822(r.start_time),
        "duration": if r.status == "completed" { json!(r.duration.to_string()) } else { json!("-1") },
        "sid": r.sid,
        "price": Value::Null,
        "price_unit": "USD",
        "status": r.status,
        "channels": r.channels,
        "source": r.source,
        "error_code": Value::Null,
        "uri": format!("{uri}.json"),
        "encryption_details": Value::Null,
        "subresource_uris": {
            "add_on_results": format!("{uri}/AddOnResults.json"),
            "transcriptions": format!("{uri}/Transcriptions.json"),
        },
        "media_url": engine::recording::media_url(shared, &r.sid),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        for ok in [
            "+14155550100",
            "+442071838750",
            "client:alice",
            "sip:a@b.example",
        ] {
            assert!(valid_address(ok), "{ok}");
        }
        for bad in [
            "4155550100",
            "+1",
            "+1415555010a",
            "client:",
            "",
            "+0123456789",
        ] {
            assert!(!valid_address(bad), "{bad}");
        }
    }

    #[test]
    fn us_numbers_are_formatted() {
        assert_eq!(formatted("+14155550100"), "(415) 555-0100");
        assert_eq!(formatted("+442071838750"), "+442071838750");
    }

    #[test]
    fn wav_header_is_consistent() {
        let w = silent_wav(1);
        assert_eq!(&w[..4], b"RIFF");
        assert_eq!(w.len(), 44 + 16000);
    }
}

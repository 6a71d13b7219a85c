//! The call engine: one tokio task per call, driving it through its lifecycle and its TwiML.

pub(crate) mod amd;
pub(crate) mod call;
pub(crate) mod conference;
pub(crate) mod media;
pub(crate) mod recording;
pub(crate) mod twiml;
pub(crate) mod xml;

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::clock::rfc2822;
use crate::model::{CallRec, CallStatus, Model};
use crate::state::Shared;
use crate::webhook::{self, Outgoing};
use twiml::Callback;

/// What can happen to a call from outside its task.
#[derive(Clone, Debug)]
pub(crate) enum Signal {
    /// Keys pressed by the callee.
    Digits(String),
    /// The callee hangs up.
    Hangup,
    /// The REST API ended the call (`Status=completed|canceled`).
    End,
    /// The REST API gave the call new TwiML.
    Redirect(TwimlSource),
    /// The conference the call is in has ended.
    ConferenceEnded,
    /// The call was removed from its conference through the API.
    Kicked,
    /// Dial>Number: a dialed leg answered.
    LegAnswered(String),
    /// Dial>Number: a dialed leg is over.
    LegEnded {
        sid: String,
        status: CallStatus,
        duration: u64,
    },
    /// For a dialed leg: the call that dialed it is gone.
    ParentGone,
    /// A device ringing for a call to `client:…` answered it.
    Accept(String),
    /// A device ringing for a call to `client:…` declined it (or went away).
    Reject(String),
    /// The person playing a ringing phone answered it.
    PersonAnswers,
    /// The person playing a ringing phone declined it: busy.
    PersonDeclines,
    /// The person playing a ringing phone let it ring out: no answer.
    PersonIgnores,
}

/// Where a call's next TwiML comes from.
#[derive(Clone, Debug)]
pub(crate) enum TwimlSource {
    Inline(String),
    /// Fetched with the call's parameters plus `extra` (Digits, DialCallStatus, …).
    Fetch {
        url: String,
        method: String,
        extra: Vec<(String, String)>,
        kind: &'static str,
    },
}

/// How to join a conference: from `<Dial><Conference>` or from the Participants API.
#[derive(Clone, Debug)]
pub(crate) struct JoinSpec {
    /// The conference created up front by the Participants API.
    pub(crate) conference_sid: Option<String>,
    pub(crate) name: String,
    pub(crate) label: Option<String>,
    pub(crate) muted: bool,
    pub(crate) start_on_enter: bool,
    pub(crate) end_on_exit: bool,
    pub(crate) coaching: bool,
    pub(crate) call_sid_to_coach: Option<String>,
    pub(crate) beep_on_exit: bool,
    pub(crate) status_callback: Option<Callback>,
    /// What the participant hears while the conference waits to start.
    pub(crate) wait: media::Music,
    /// Record from start, reporting to this callback.
    pub(crate) record: Option<Option<Callback>>,
}

/// What an answered call does.
#[derive(Clone, Debug)]
pub(crate) enum Start {
    Twiml(TwimlSource),
    /// Participants API: straight into the conference.
    Conference(JoinSpec),
    /// Dial>Number: bridged to the call that dialed it.
    Leg {
        parent: String,
    },
}

#[derive(Debug)]
pub(crate) struct NewCall {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) parent: Option<String>,
    pub(crate) direction: &'static str,
    pub(crate) status_callback: Option<Callback>,
    pub(crate) timeout_s: u64,
    pub(crate) amd: Option<amd::Request>,
    /// `FallbackUrl` and its method: asked when the call's TwiML cannot be fetched or parsed.
    pub(crate) fallback: Option<(String, String)>,
    pub(crate) record: Option<Option<Callback>>,
    /// Custom parameters a called `client:…` device sees.
    pub(crate) client_params: Vec<(String, String)>,
    pub(crate) start: Start,
}

/// Creates the call resource (status `queued`) and starts its task. Takes the locked model so the
/// call exists before the REST answer is written.
pub(crate) fn place_call(shared: &Arc<Shared>, model: &mut Model, spec: NewCall) -> String {
    let sid = crate::sid::new_sid("CA");
    let (tx, rx) = mpsc::unbounded_channel();
    let now = shared.clock.now();
    let dial_at = dial_slot(shared, model, spec.direction);
    let queue_time_ms = shared
        .clock
        .sim_ms_between(tokio::time::Instant::now(), dial_at);
    model.calls.insert(
        sid.clone(),
        CallRec {
            sid: sid.clone(),
            parent_call_sid: spec.parent.clone(),
            from: spec.from.clone(),
            to: spec.to.clone(),
            status: CallStatus::Queued,
            direction: spec.direction,
            date_created: now,
            date_updated: now,
            start_time: None,
            end_time: None,
            duration: None,
            answered_at: None,
            answered_by: None,
            machine_detection_ms: None,
            queue_time_ms,
            voicemail: Vec::new(),
            status_callback: spec.status_callback.clone(),
            seq: 0,
            conference_sid: None,
            in_gather: false,
            error_code: None,
            timeline: Vec::new(),
            signals: tx.clone(),
            record: spec.record.clone(),
            recording_sid: None,
        },
    );
    model.call_order.push(sid.clone());
    shared.note(model, &sid, format!("queued: {} -> {}", spec.from, spec.to));
    // A browser is played through the control API: nothing it does is scripted by a behaviour.
    let behaviour = if spec.to.starts_with("client:") || spec.direction == "inbound" {
        crate::config::NumberBehaviour {
            digits: None,
            talk_ms: None,
            ..crate::config::NumberBehaviour::default()
        }
    } else {
        model
            .numbers
            .get(&spec.to)
            .cloned()
            .unwrap_or_else(|| shared.config.default_behaviour.clone())
    };
    let task = call::CallTask::new(
        Arc::clone(shared),
        sid.clone(),
        spec,
        behaviour,
        dial_at,
        (tx, rx),
    );
    tokio::spawn(task.run());
    sid
}

/// When a new call may be dialed: now, or for an API call under a CPS limit, the next free slot.
fn dial_slot(shared: &Shared, model: &mut Model, direction: &str) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let Some(cps) = shared.config.calls_per_second else {
        return now;
    };
    if direction != "outbound-api" {
        return now;
    }
    let slot = model.next_dial_at.map_or(now, |next| next.max(now));
    model.next_dial_at = Some(slot + shared.clock.real((1000.0 / cps) as u64));
    slot
}

/// The parameters Twilio sends with every request about a call.
pub(crate) fn call_params(shared: &Shared, call: &CallRec) -> Vec<(String, String)> {
    let mut p = vec![
        ("AccountSid".to_owned(), shared.config.account_sid.clone()),
        ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
        ("CallSid".to_owned(), call.sid.clone()),
        ("CallStatus".to_owned(), call.status.as_str().to_owned()),
        ("Called".to_owned(), call.to.clone()),
        ("Caller".to_owned(), call.from.clone()),
        ("Direction".to_owned(), call.direction.to_owned()),
        ("From".to_owned(), call.from.clone()),
        ("To".to_owned(), call.to.clone()),
    ];
    if let Some(parent) = &call.parent_call_sid {
        p.push(("ParentCallSid".to_owned(), parent.clone()));
    }
    if let Some(by) = &call.answered_by {
        p.push(("AnsweredBy".to_owned(), by.clone()));
    }
    p
}

/// Sends the call's status callback for `event` (initiated | ringing | answered | completed) if it
/// asked for that event.
pub(crate) fn call_event(shared: &Shared, model: &mut Model, sid: &str, event: &str) {
    let Some(call) = model.calls.get_mut(sid) else {
        return;
    };
    let Some(cb) = call.status_callback.clone() else {
        return;
    };
    if !cb.events.iter().any(|e| e == event) {
        return;
    }
    let seq = call.seq;
    call.seq += 1;
    let call = &model.calls[sid];
    let mut params = call_params(shared, call);
    // The call resource is still `queued` when dialing starts, but Twilio reports the initiated
    // event with CallStatus=initiated (a value only callbacks carry).
    if event == "initiated" {
        set(&mut params, "CallStatus", "initiated");
    }
    params.push((
        "CallbackSource".to_owned(),
        "call-progress-events".to_owned(),
    ));
    params.push(("SequenceNumber".to_owned(), seq.to_string()));
    params.push(("Timestamp".to_owned(), rfc2822(shared.clock.now())));
    if event == "completed" {
        let secs = call.duration.unwrap_or(0);
        params.push(("CallDuration".to_owned(), secs.to_string()));
        params.push(("Duration".to_owned(), secs.div_ceil(60).to_string()));
        let sip = match call.status {
            CallStatus::Busy => "486",
            CallStatus::NoAnswer => "487",
            CallStatus::Canceled => "487",
            CallStatus::Failed => "500",
            _ => "200",
        };
        params.push(("SipResponseCode".to_owned(), sip.to_owned()));
        // Twilio adds the recording a `Record=true` call made to its completed event.
        if let Some(rec) = call
            .recording_sid
            .as_ref()
            .and_then(|r| model.recordings.get(r))
        {
            params.extend([
                (
                    "RecordingUrl".to_owned(),
                    recording::media_url(shared, &rec.sid),
                ),
                ("RecordingSid".to_owned(), rec.sid.clone()),
                ("RecordingDuration".to_owned(), rec.duration.to_string()),
            ]);
        }
    }
    if let Some(code) = call.error_code {
        params.push(("ErrorCode".to_owned(), code.to_string()));
        params.push(("ErrorMessage".to_owned(), error_message(code).to_owned()));
    }
    webhook::enqueue(
        shared,
        Outgoing {
            kind: "status",
            url: cb.url,
            method: cb.method,
            params,
        },
    );
}

pub(crate) fn error_message(code: u32) -> &'static str {
    match code {
        11200 => "HTTP retrieval failure",
        11205 => "HTTP connection failure",
        12100 => "Document parse failure",
        _ => "Application error",
    }
}

fn set(params: &mut [(String, String)], key: &str, value: &str) {
    if let Some(p) = params.iter_mut().find(|(k, _)| k == key) {
        p.1 = value.to_owned();
    }
}

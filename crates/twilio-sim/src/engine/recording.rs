//! Recordings: created when recording starts, completed (and reported) when it stops.

use tokio::time::Instant;

use crate::clock::rfc2822;
use crate::engine::twiml::Callback;
use crate::model::{Model, RecordingRec};
use crate::state::Shared;
use crate::webhook::{self, Outgoing};

/// Starts a recording of a call or a conference and returns its SID.
pub(crate) fn start(
    shared: &Shared,
    model: &mut Model,
    call_sid: Option<&str>,
    conference_sid: Option<&str>,
    source: &'static str,
    callback: Option<&Callback>,
) -> (String, Instant) {
    let sid = crate::sid::new_sid("RE");
    let now = shared.clock.now();
    model.recordings.insert(
        sid.clone(),
        RecordingRec {
            sid: sid.clone(),
            call_sid: call_sid.map(str::to_owned),
            conference_sid: conference_sid.map(str::to_owned),
            date_created: now,
            date_updated: now,
            start_time: now,
            duration: 0,
            status: "in-progress",
            channels: 1,
            source,
        },
    );
    model.recording_order.push(sid.clone());
    if let Some(call) = call_sid {
        shared.note(model, call, format!("recording {sid} started ({source})"));
    }
    if let Some(cb) = callback.filter(|cb| cb.events.iter().any(|e| e == "in-progress")) {
        let params = params(shared, model, &sid, "in-progress");
        webhook::enqueue(
            shared,
            Outgoing {
                kind: "recording-status",
                url: cb.url.clone(),
                method: cb.method.clone(),
                params,
            },
        );
    }
    (sid, Instant::now())
}

/// Completes a recording started at `started` and sends its `completed` callback if asked.
pub(crate) fn finish(
    shared: &Shared,
    model: &mut Model,
    sid: &str,
    started: Instant,
    callback: Option<&Callback>,
) {
    let duration = shared.clock.sim_secs_since(started);
    let now = shared.clock.now();
    let Some(rec) = model.recordings.get_mut(sid) else {
        return;
    };
    if rec.status == "completed" {
        return;
    }
    rec.status = "completed";
    rec.duration = duration;
    rec.date_updated = now;
    if let Some(call) = rec.call_sid.clone() {
        shared.note(
            model,
            &call,
            format!("recording {sid} completed, {duration}s"),
        );
    }
    if let Some(cb) = callback.filter(|cb| cb.events.iter().any(|e| e == "completed")) {
        let params = params(shared, model, sid, "completed");
        webhook::enqueue(
            shared,
            Outgoing {
                kind: "recording-status",
                url: cb.url.clone(),
                method: cb.method.clone(),
                params,
            },
        );
    }
}

/// The URL of a recording's media, without extension, as Twilio reports it.
pub(crate) fn media_url(shared: &Shared, sid: &str) -> String {
    shared.absolute(&format!("{}/Recordings/{sid}", shared.account_path()))
}

/// Twilio sends a conference recording's callback without CallSid or RecordingTrack (the recording
/// is of the mix, not of one call); a call recording's callback carries both.
fn params(shared: &Shared, model: &Model, sid: &str, status: &str) -> Vec<(String, String)> {
    let rec = &model.recordings[sid];
    let mut p = vec![("AccountSid".to_owned(), shared.config.account_sid.clone())];
    match &rec.conference_sid {
        Some(conf) => p.push(("ConferenceSid".to_owned(), conf.clone())),
        None => p.push((
            "CallSid".to_owned(),
            rec.call_sid.clone().unwrap_or_default(),
        )),
    }
    p.extend([
        ("RecordingSid".to_owned(), sid.to_owned()),
        ("RecordingUrl".to_owned(), media_url(shared, sid)),
        ("RecordingStatus".to_owned(), status.to_owned()),
        ("RecordingDuration".to_owned(), rec.duration.to_string()),
        ("RecordingChannels".to_owned(), rec.channels.to_string()),
        ("RecordingStartTime".to_owned(), rfc2822(rec.start_time)),
        ("RecordingSource".to_owned(), rec.source.to_owned()),
    ]);
    if rec.conference_sid.is_none() {
        p.push(("RecordingTrack".to_owned(), "both".to_owned()));
    }
    p
}

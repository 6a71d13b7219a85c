//! Conferences and Twilio's rules for them. A conference starts once at least two participants are
//! in it and at least one of them has startConferenceOnEnter; until then whoever is there hears
//! hold music. It ends when an endConferenceOnExit participant leaves, when the last participant
//! leaves, or through the API. All functions take the locked model.

use std::sync::Arc;

use crate::clock::rfc2822;
use crate::engine::media::{self, Music};
use crate::engine::{JoinSpec, Signal, recording};
use crate::model::{ActiveRecording, ConfRec, ConfStatus, Model, ParticipantRec};
use crate::state::{Shared, SimEvent};
use crate::webhook::{self, Outgoing};

/// Why a participant leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leave {
    /// Its call ended.
    HungUp,
    /// Removed with `DELETE …/Participants/{CallSid}`.
    Kicked,
    /// Its call was given new TwiML.
    Redirected,
}

impl Leave {
    /// `ReasonParticipantLeft`. Twilio sends one of conference_ended_via_api,
    /// moderator_ended_conference, participant_updated_via_api, participant_hung_up and
    /// participant_add_failed; removal through the API is an update through the API.
    fn reason(self) -> &'static str {
        match self {
            Self::HungUp => "participant_hung_up",
            Self::Kicked | Self::Redirected => "participant_updated_via_api",
        }
    }
}

/// The `ReasonParticipantLeft` of everyone still in a conference when it ends.
fn reason_left_at_end(reason_ended: &str) -> &'static str {
    if reason_ended == "conference-ended-via-api" {
        "conference_ended_via_api"
    } else {
        "moderator_ended_conference"
    }
}

/// The parameters of a `participant-leave` that describe the participant.
fn leave_params(p: &ParticipantRec, reason: &str, call_status: &str) -> Vec<(String, String)> {
    let mut params = vec![
        ("ReasonParticipantLeft".to_owned(), reason.to_owned()),
        ("ParticipantCallStatus".to_owned(), call_status.to_owned()),
        ("Muted".to_owned(), p.muted.to_string()),
        ("Hold".to_owned(), p.hold.to_string()),
        ("Coaching".to_owned(), p.coaching.to_string()),
        ("EndConferenceOnExit".to_owned(), p.end_on_exit.to_string()),
        (
            "StartConferenceOnEnter".to_owned(),
            p.start_on_enter.to_string(),
        ),
    ];
    if let Some(label) = &p.label {
        params.push(("ParticipantLabel".to_owned(), label.clone()));
    }
    params
}

/// Whether a conference that has not started has what it takes to start.
fn ready_to_start(conf: &ConfRec) -> bool {
    let connected = || conf.participants.iter().filter(|p| p.status == "connected");
    conf.status == ConfStatus::Init
        && connected().count() >= 2
        && connected().any(|p| p.start_on_enter)
}

/// The live conference called `name`, created (status `init`) if there is none.
pub(crate) fn find_or_create(shared: &Shared, model: &mut Model, name: &str) -> String {
    if let Some(c) = model.conference_by_name(name) {
        return c.sid.clone();
    }
    let sid = crate::sid::new_sid("CF");
    let now = shared.clock.now();
    model.conferences.insert(
        sid.clone(),
        ConfRec {
            sid: sid.clone(),
            friendly_name: name.to_owned(),
            status: ConfStatus::Init,
            date_created: now,
            date_updated: now,
            reason_ended: None,
            call_sid_ending: None,
            participants: Vec::new(),
            status_callback: None,
            seq: 0,
            record: None,
            recording: None,
        },
    );
    model.conf_order.push(sid.clone());
    tracing::info!(target: "twilio_sim::conference", "{sid} {name:?} created");
    sid
}

fn participant(
    shared: &Shared,
    call_sid: &str,
    spec: &JoinSpec,
    status: &'static str,
) -> ParticipantRec {
    let now = shared.clock.now();
    ParticipantRec {
        call_sid: call_sid.to_owned(),
        label: spec.label.clone(),
        muted: spec.muted,
        hold: false,
        start_on_enter: spec.start_on_enter,
        end_on_exit: spec.end_on_exit,
        coaching: spec.coaching,
        call_sid_to_coach: spec.call_sid_to_coach.clone(),
        beep_on_exit: spec.beep_on_exit,
        status,
        date_created: now,
        date_updated: now,
    }
}

fn adopt_settings(conf: &mut ConfRec, call_sid: &str, spec: &JoinSpec) {
    // The first participant that names a callback (or asks for recording) sets it for the conference.
    if conf.status_callback.is_none() {
        conf.status_callback = spec.status_callback.clone();
    }
    if conf.record.is_none()
        && let Some(cb) = &spec.record
    {
        conf.record = Some((call_sid.to_owned(), cb.clone()));
    }
}

/// A participant added through the API, whose call is still being placed.
pub(crate) fn add_pending(
    shared: &Shared,
    model: &mut Model,
    conf_sid: &str,
    call_sid: &str,
    spec: &JoinSpec,
) {
    let p = participant(shared, call_sid, spec, "queued");
    if let Some(conf) = model.conferences.get_mut(conf_sid) {
        adopt_settings(conf, call_sid, spec);
        conf.participants.push(p);
    }
    if let Some(call) = model.calls.get_mut(call_sid) {
        call.conference_sid = Some(conf_sid.to_owned());
    }
}

pub(crate) fn set_pending_status(model: &mut Model, call_sid: &str, status: &'static str) {
    let Some(conf_sid) = model
        .calls
        .get(call_sid)
        .and_then(|c| c.conference_sid.clone())
    else {
        return;
    };
    if let Some(p) = model
        .conferences
        .get_mut(&conf_sid)
        .and_then(|c| c.participants.iter_mut().find(|p| p.call_sid == call_sid))
        && p.status != "connected"
    {
        p.status = status;
    }
}

/// Joins a call to its conference (creating a fresh one if the one it was meant for has ended) and
/// returns the conference SID.
pub(crate) fn join(shared: &Shared, model: &mut Model, call_sid: &str, spec: &JoinSpec) -> String {
    let conf_sid = match &spec.conference_sid {
        Some(sid)
            if model
                .conferences
                .get(sid)
                .is_some_and(|c| c.status != ConfStatus::Completed) =>
        {
            sid.clone()
        }
        _ => find_or_create(shared, model, &spec.name),
    };
    let fresh = participant(shared, call_sid, spec, "connected");
    let conf = model
        .conferences
        .get_mut(&conf_sid)
        .expect("conference just found or created");
    adopt_settings(conf, call_sid, spec);
    match conf
        .participants
        .iter_mut()
        .find(|p| p.call_sid == call_sid)
    {
        Some(p) => {
            p.status = "connected";
            p.date_updated = fresh.date_updated;
        }
        None => conf.participants.push(fresh),
    }
    conf.date_updated = shared.clock.now();
    let name = conf.friendly_name.clone();
    let starts = ready_to_start(conf);
    if let Some(call) = model.calls.get_mut(call_sid) {
        call.conference_sid = Some(conf_sid.clone());
    }
    let state = if starts || model.conferences[&conf_sid].status == ConfStatus::InProgress {
        "live"
    } else {
        "waiting, hold music"
    };
    shared.note(
        model,
        call_sid,
        format!("joined conference {name:?} {conf_sid} ({state})"),
    );
    // The join that completes the conference is reported before the start it causes.
    emit(
        shared,
        model,
        &conf_sid,
        "participant-join",
        Some(call_sid),
        Vec::new(),
    );
    if starts {
        start(shared, model, &conf_sid);
    }
    conf_sid
}

fn start(shared: &Shared, model: &mut Model, conf_sid: &str) {
    let conf = model
        .conferences
        .get_mut(conf_sid)
        .expect("conference exists");
    conf.status = ConfStatus::InProgress;
    conf.date_updated = shared.clock.now();
    emit(
        shared,
        model,
        conf_sid,
        "conference-start",
        None,
        Vec::new(),
    );
    let conf = &model.conferences[conf_sid];
    if let (Some((call_sid, cb)), None) = (conf.record.clone(), &conf.recording) {
        let (sid, started) = recording::start(
            shared,
            model,
            Some(&call_sid),
            Some(conf_sid),
            "Conference",
            cb.as_ref(),
        );
        if let Some(conf) = model.conferences.get_mut(conf_sid) {
            conf.recording = Some(ActiveRecording { sid, started });
        }
    }
}

/// A call leaves its conference; applies the end rules. Does nothing if it is not a participant.
pub(crate) fn leave(
    shared: &Shared,
    model: &mut Model,
    conf_sid: &str,
    call_sid: &str,
    why: Leave,
) {
    let Some(conf) = model.conferences.get_mut(conf_sid) else {
        return;
    };
    let Some(idx) = conf
        .participants
        .iter()
        .position(|p| p.call_sid == call_sid)
    else {
        return;
    };
    let was_connected = conf.participants[idx].status == "connected";
    let leaver = conf.participants.remove(idx);
    conf.date_updated = shared.clock.now();
    let call_status = model
        .calls
        .get(call_sid)
        .map_or("completed", |c| c.status.as_str());
    if !was_connected {
        // A participant added through the API whose call never connected: Twilio reports it
        // with a participant-leave (participant_add_failed and the call's busy / no-answer /
        // failed / canceled) and no participant-join before it.
        emit(
            shared,
            model,
            conf_sid,
            "participant-leave",
            Some(call_sid),
            leave_params(&leaver, "participant_add_failed", call_status),
        );
        let conf = model
            .conferences
            .get_mut(conf_sid)
            .expect("conference exists");
        if conf.status == ConfStatus::Init && conf.participants.is_empty() {
            conf.status = ConfStatus::Completed;
            conf.reason_ended = Some("last-participant-left".to_owned());
        }
        return;
    }
    shared.note(
        model,
        call_sid,
        format!("left conference {conf_sid} ({})", why.reason()),
    );
    emit(
        shared,
        model,
        conf_sid,
        "participant-leave",
        Some(call_sid),
        leave_params(&leaver, why.reason(), call_status),
    );
    let conf = &model.conferences[conf_sid];
    let connected_left = conf
        .participants
        .iter()
        .filter(|p| p.status == "connected")
        .count();
    let kicked = why == Leave::Kicked;
    if conf.status == ConfStatus::InProgress && leaver.end_on_exit {
        let reason = if kicked {
            "participant-with-end-conference-on-exit-kicked"
        } else {
            "participant-with-end-conference-on-exit-left"
        };
        end(shared, model, conf_sid, reason, Some(&leaver));
    } else if connected_left == 0 {
        let reason = if kicked {
            "last-participant-kicked"
        } else {
            "last-participant-left"
        };
        end(shared, model, conf_sid, reason, Some(&leaver));
    }
}

/// Ends a conference: everyone still in it leaves (their calls continue after their `<Dial>`).
/// `ending` is the participant whose leaving ended it, if one did.
pub(crate) fn end(
    shared: &Shared,
    model: &mut Model,
    conf_sid: &str,
    reason: &str,
    ending: Option<&ParticipantRec>,
) {
    let Some(conf) = model.conferences.get_mut(conf_sid) else {
        return;
    };
    if conf.status == ConfStatus::Completed {
        return;
    }
    let was_started = conf.status == ConfStatus::InProgress;
    let remaining = std::mem::take(&mut conf.participants);
    conf.status = ConfStatus::Completed;
    conf.reason_ended = Some(reason.to_owned());
    conf.call_sid_ending = ending.map(|p| p.call_sid.clone());
    conf.date_updated = shared.clock.now();
    let recording = conf.recording.take();
    let record_cb = conf.record.as_ref().and_then(|(_, cb)| cb.clone());
    for p in &remaining {
        let Some(call) = model.calls.get(&p.call_sid) else {
            continue;
        };
        let _ = call.signals.send(if p.status == "connected" {
            Signal::ConferenceEnded
        } else {
            Signal::End
        });
        if p.status != "connected" {
            continue;
        }
        let status = call.status;
        emit(
            shared,
            model,
            conf_sid,
            "participant-leave",
            Some(&p.call_sid),
            leave_params(p, reason_left_at_end(reason), status.as_str()),
        );
    }
    if was_started {
        let mut extra = vec![
            ("ReasonConferenceEnded".to_owned(), reason.to_owned()),
            ("Reason".to_owned(), human_reason(reason).to_owned()),
        ];
        if let Some(p) = ending {
            extra.push(("CallSidEndingConference".to_owned(), p.call_sid.clone()));
            if let Some(label) = &p.label {
                extra.push(("ParticipantLabelEndingConference".to_owned(), label.clone()));
            }
        }
        emit(shared, model, conf_sid, "conference-end", None, extra);
    }
    // The recording becomes available after the conference it recorded is over.
    if let Some(rec) = recording {
        recording::finish(shared, model, &rec.sid, rec.started, record_cb.as_ref());
    }
    tracing::info!(target: "twilio_sim::conference", "{conf_sid} ended: {reason}");
}

fn human_reason(reason: &str) -> &'static str {
    match reason {
        "conference-ended-via-api" => "Conference ended via API",
        "participant-with-end-conference-on-exit-left" => {
            "Participant with endConferenceOnExit left the conference"
        }
        "participant-with-end-conference-on-exit-kicked" => {
            "Participant with endConferenceOnExit was kicked from the conference"
        }
        "last-participant-kicked" => "Last participant was kicked from the conference",
        _ => "Last participant left the conference",
    }
}

/// What a Participants update asks to change.
#[derive(Debug, Default)]
pub(crate) struct Change {
    pub(crate) muted: Option<bool>,
    pub(crate) hold: Option<bool>,
    pub(crate) end_on_exit: Option<bool>,
    pub(crate) coaching: Option<bool>,
    pub(crate) call_sid_to_coach: Option<String>,
    pub(crate) beep_on_exit: Option<bool>,
}

/// Applies a Participants update: mute and hold changes send their own events, any other change a
/// `participant-modify`. Returns whether the participant was there.
pub(crate) fn update_participant(
    shared: &Shared,
    model: &mut Model,
    conf_sid: &str,
    call_sid: &str,
    change: Change,
) -> bool {
    let Some(p) = model
        .conferences
        .get_mut(conf_sid)
        .and_then(|c| c.participants.iter_mut().find(|p| p.call_sid == call_sid))
    else {
        return false;
    };
    let mut events = Vec::new();
    if let Some(m) = change.muted.filter(|m| *m != p.muted) {
        p.muted = m;
        events.push(if m {
            "participant-mute"
        } else {
            "participant-unmute"
        });
    }
    if let Some(h) = change.hold.filter(|h| *h != p.hold) {
        p.hold = h;
        events.push(if h {
            "participant-hold"
        } else {
            "participant-unhold"
        });
    }
    let mut modified = false;
    if let Some(e) = change.end_on_exit.filter(|e| *e != p.end_on_exit) {
        p.end_on_exit = e;
        modified = true;
    }
    if let Some(b) = change.beep_on_exit.filter(|b| *b != p.beep_on_exit) {
        p.beep_on_exit = b;
        modified = true;
    }
    if let Some(c) = change.coaching.filter(|c| *c != p.coaching) {
        p.coaching = c;
        if !c {
            p.call_sid_to_coach = None;
        }
        modified = true;
    }
    if let Some(target) = change.call_sid_to_coach
        && p.call_sid_to_coach.as_deref() != Some(target.as_str())
    {
        p.call_sid_to_coach = Some(target);
        modified = true;
    }
    if modified {
        events.push("participant-modify");
    }
    p.date_updated = shared.clock.now();
    for e in events {
        emit(shared, model, conf_sid, e, Some(call_sid), Vec::new());
    }
    true
}

/// Plays hold music to a participant just put on hold.
pub(crate) fn play_hold_music(shared: &Arc<Shared>, call_sid: &str, music: Music) {
    let shared = Arc::clone(shared);
    let call_sid = call_sid.to_owned();
    tokio::spawn(async move {
        let listeners = [call_sid.clone()];
        let _ = media::play(
            &shared,
            "hold",
            "on hold",
            &music,
            Some(&call_sid),
            Vec::new(),
            &listeners,
        )
        .await;
    });
}

/// Plays an announcement to one participant (`call_sid`) or to the whole conference, then reports
/// `announcement-end`, or `announcement-failed` when it could not be fetched or played.
pub(crate) fn announce(shared: &Arc<Shared>, conf_sid: &str, call_sid: Option<&str>, music: Music) {
    let shared = Arc::clone(shared);
    let conf_sid = conf_sid.to_owned();
    let call_sid = call_sid.map(str::to_owned);
    tokio::spawn(async move {
        let (listeners, params) = {
            let model = shared.model();
            let Some(conf) = model.conferences.get(&conf_sid) else {
                return;
            };
            let listeners: Vec<String> = match &call_sid {
                Some(c) => vec![c.clone()],
                None => conf
                    .participants
                    .iter()
                    .filter(|p| p.status == "connected")
                    .map(|p| p.call_sid.clone())
                    .collect(),
            };
            let mut params = vec![
                ("ConferenceSid".to_owned(), conf_sid.clone()),
                ("FriendlyName".to_owned(), conf.friendly_name.clone()),
            ];
            if call_sid.is_none() {
                params.insert(
                    0,
                    ("AccountSid".to_owned(), shared.config.account_sid.clone()),
                );
            }
            (listeners, params)
        };
        let played = media::play(
            &shared,
            "announce",
            "announcement",
            &music,
            call_sid.as_deref(),
            params,
            &listeners,
        )
        .await;
        let (event, extra) = match played {
            Ok(p) => {
                tokio::time::sleep(shared.clock.real(p.sim_ms)).await;
                ("announcement-end", Vec::new())
            }
            Err(code) => (
                "announcement-failed",
                vec![(
                    "ReasonAnnouncementFailed".to_owned(),
                    crate::engine::error_message(code).to_owned(),
                )],
            ),
        };
        let mut model = shared.model();
        if model
            .conferences
            .get(&conf_sid)
            .is_some_and(|c| c.status != ConfStatus::Completed)
        {
            emit(
                &shared,
                &mut model,
                &conf_sid,
                event,
                call_sid.as_deref(),
                extra,
            );
        }
    });
}

/// The statusCallbackEvent name that subscribes to a conference event.
fn subscription(event: &str) -> &str {
    match event {
        "conference-start" => "start",
        "conference-end" => "end",
        "participant-join" => "join",
        "participant-leave" => "leave",
        "participant-mute" | "participant-unmute" => "mute",
        "participant-hold" | "participant-unhold" => "hold",
        "participant-modify" => "modify",
        "announcement-end" | "announcement-failed" => "announcement",
        other => other.strip_prefix("participant-").unwrap_or(other),
    }
}

fn emit(
    shared: &Shared,
    model: &mut Model,
    conf_sid: &str,
    event: &str,
    call_sid: Option<&str>,
    extra: Vec<(String, String)>,
) {
    let Some(conf) = model.conferences.get_mut(conf_sid) else {
        return;
    };
    let _ = shared.events.send(SimEvent::Conference {
        at: shared.now_rfc3339(),
        sid: conf_sid.to_owned(),
        name: conf.friendly_name.clone(),
        event: event.to_owned(),
        call_sid: call_sid.map(str::to_owned),
    });
    tracing::info!(target: "twilio_sim::conference", "{conf_sid} {:?} {event} {}", conf.friendly_name, call_sid.unwrap_or(""));
    let Some(cb) = conf.status_callback.clone() else {
        return;
    };
    if !cb.events.iter().any(|e| e == subscription(event)) {
        return;
    }
    let seq = conf.seq;
    conf.seq += 1;
    let mut params = vec![
        ("AccountSid".to_owned(), shared.config.account_sid.clone()),
        ("ConferenceSid".to_owned(), conf_sid.to_owned()),
        ("FriendlyName".to_owned(), conf.friendly_name.clone()),
        ("StatusCallbackEvent".to_owned(), event.to_owned()),
        ("SequenceNumber".to_owned(), seq.to_string()),
        ("Timestamp".to_owned(), rfc2822(shared.clock.now())),
    ];
    if let Some(call_sid) = call_sid {
        params.push(("CallSid".to_owned(), call_sid.to_owned()));
        if let Some(p) = conf.participants.iter().find(|p| p.call_sid == call_sid) {
            params.extend([
                ("Muted".to_owned(), p.muted.to_string()),
                ("Hold".to_owned(), p.hold.to_string()),
                ("Coaching".to_owned(), p.coaching.to_string()),
                ("EndConferenceOnExit".to_owned(), p.end_on_exit.to_string()),
                (
                    "StartConferenceOnEnter".to_owned(),
                    p.start_on_enter.to_string(),
                ),
            ]);
            if let Some(label) = &p.label {
                params.push(("ParticipantLabel".to_owned(), label.clone()));
            }
            if let Some(coached) = &p.call_sid_to_coach {
                params.push(("CallSidToCoach".to_owned(), coached.clone()));
            }
        }
    }
    params.extend(extra);
    webhook::enqueue(
        shared,
        Outgoing {
            kind: "conference-status",
            url: cb.url,
            method: cb.method,
            params,
        },
    );
}

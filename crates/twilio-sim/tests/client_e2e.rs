//! The simulator's end-to-end promise, exercised only through the `twilio` client: a call whose
//! TwiML gathers a digit and, through the Gather action, joins a conference; a second participant
//! added with the Participants API; one party hung up. The application side is a small receiver,
//! and what it gets is the complete story, each call's and the conference's in order, every
//! request signed.

mod common;

use std::collections::HashMap;

use common::{Hook, Receiver};
use twilio::{
    CallEvent, CallInstructions, CallStatus, CallUpdateStatus, Client, ClientConfig, Conference,
    ConferenceStatus, CreateCall, CreateParticipant, Credentials, ReasonConferenceEnded,
    SecretString, UpdateCall,
};
use twilio_sim::{NumberBehaviour, Sim, SimConfig};

const CALLER_ID: &str = "+15005550006";
const AGENT: &str = "+15550100001";
const GUEST: &str = "+15550100002";
const ROOM: &str = "e2e-room";

fn client(sim: &Sim) -> Client {
    let mut config = ClientConfig::new(
        sim.account_sid(),
        Credentials::AuthToken(SecretString::from(sim.auth_token().to_owned())),
    );
    config.base_url = Some(sim.base_url());
    Client::new(config).expect("a client for the simulator")
}

fn config() -> SimConfig {
    let agent = NumberBehaviour {
        digits: Some("1".to_owned()),
        digits_after_ms: 500,
        ..NumberBehaviour::default()
    };
    SimConfig {
        time_scale: 0.01,
        incoming_numbers: vec![CALLER_ID.to_owned()],
        numbers: HashMap::from([
            (AGENT.to_owned(), agent),
            (GUEST.to_owned(), NumberBehaviour::default()),
        ]),
        ..SimConfig::default()
    }
}

/// One line per request, naming the call by its role, so the whole story reads as a list.
fn describe(hook: &Hook, role: &dyn Fn(&str) -> String) -> String {
    let p = |k: &str| hook.param(k).to_owned();
    let seq = || format!("#{}", p("SequenceNumber"));
    match hook.path.as_str() {
        "/status" => {
            let who = role(&p("CallSid"));
            assert_eq!(hook.query.get("leg"), Some(&who), "{hook:?}");
            format!("{who} call {} {}", p("CallStatus"), seq())
        }
        "/gather" => format!(
            "{} gather action Digits={}",
            role(&p("CallSid")),
            p("Digits")
        ),
        "/conference" => match hook.param("StatusCallbackEvent") {
            "participant-leave" => format!(
                "participant-leave {} ({}, {}) {}",
                role(&p("CallSid")),
                p("ReasonParticipantLeft"),
                p("ParticipantCallStatus"),
                seq()
            ),
            "conference-end" => format!(
                "conference-end ({}, ended by {}) {}",
                p("ReasonConferenceEnded"),
                role(&p("CallSidEndingConference")),
                seq()
            ),
            event if event.starts_with("participant-") => {
                format!("{event} {} {}", role(&p("CallSid")), seq())
            }
            event => format!("{event} {}", seq()),
        },
        "/recording" => format!("conference recording {}", p("RecordingStatus")),
        other => panic!("unexpected request to {other}: {hook:?}"),
    }
}

/// Whose story a line of [`STORY`] belongs to: a call's, or the conference's.
fn lane_of(line: &str) -> &'static str {
    match line.split(' ').next() {
        Some("agent") => "agent",
        Some("guest") => "guest",
        _ => "conference",
    }
}

const STORY: [&str; 16] = [
    "agent call initiated #0",
    "agent call ringing #1",
    "agent call in-progress #2",
    "agent gather action Digits=1",
    "participant-join agent #0",
    "guest call initiated #0",
    "guest call ringing #1",
    "guest call in-progress #2",
    // The second participant's arrival is what starts the conference.
    "participant-join guest #1",
    "conference-start #2",
    "participant-leave guest (participant_hung_up, completed) #3",
    "participant-leave agent (moderator_ended_conference, in-progress) #4",
    "conference-end (participant-with-end-conference-on-exit-left, ended by guest) #5",
    "conference recording completed",
    "guest call completed #3",
    "agent call completed #3",
];

#[tokio::test]
async fn gather_conference_participant_and_hangup_tell_the_whole_story_in_order() {
    let sim = Sim::start(config()).await.unwrap();
    let twilio = client(&sim);
    let rx = Receiver::start(sim.auth_token()).await;
    rx.answer(
        "/gather",
        &format!(
            r#"<Response><Dial><Conference startConferenceOnEnter="true" endConferenceOnExit="true" beep="false" statusCallback="{}" statusCallbackEvent="start end join leave" record="record-from-start" recordingStatusCallback="{}">{ROOM}</Conference></Dial></Response>"#,
            rx.url("/conference"),
            rx.url("/recording"),
        ),
    );

    let mut agent_leg = CreateCall::new(
        AGENT,
        CALLER_ID,
        CallInstructions::Twiml(format!(
            r#"<Response><Say>Hello.</Say><Gather action="{}" numDigits="1" timeout="10"><Say>Press any key to join.</Say></Gather></Response>"#,
            rx.url("/gather")
        )),
    );
    agent_leg.status_callback = Some(rx.url("/status?leg=agent"));
    agent_leg.status_callback_event = CallEvent::ALL.to_vec();
    let agent = twilio.create_call(&agent_leg).await.unwrap();
    assert_eq!(agent.status, Some(CallStatus::Queued));

    let joined = rx
        .wait_for("the agent to join the conference", |hooks| {
            hooks
                .iter()
                .any(|h| h.get("StatusCallbackEvent") == Some("participant-join"))
        })
        .await;
    let conference_sid = joined
        .iter()
        .find_map(|h| h.get("ConferenceSid"))
        .unwrap()
        .to_owned();
    let waiting: Conference = twilio.fetch_conference(&conference_sid).await.unwrap();
    assert_eq!(
        waiting.status,
        Some(ConferenceStatus::Init),
        "alone, the agent waits"
    );

    let mut guest_leg = CreateParticipant::new(CALLER_ID, GUEST);
    guest_leg.label = Some("guest".to_owned());
    guest_leg.status_callback = Some(rx.url("/status?leg=guest"));
    guest_leg.status_callback_event = CallEvent::ALL.to_vec();
    guest_leg.end_conference_on_exit = Some(true);
    let guest = twilio.create_participant(ROOM, &guest_leg).await.unwrap();
    assert_eq!(
        guest.conference_sid.as_deref(),
        Some(conference_sid.as_str())
    );

    rx.wait_for("the conference to start", |hooks| {
        hooks
            .iter()
            .any(|h| h.get("StatusCallbackEvent") == Some("conference-start"))
    })
    .await;
    let hung_up = twilio
        .update_call(
            &guest.call_sid,
            &UpdateCall {
                status: Some(CallUpdateStatus::Completed),
                ..UpdateCall::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hung_up.status, Some(CallStatus::Completed));

    rx.wait_for("the agent's last callback", |hooks| {
        hooks.len() >= STORY.len()
    })
    .await;
    // Settle what the REST API says before reading the story once more: nothing may follow.
    let ended = twilio.fetch_conference(&conference_sid).await.unwrap();
    assert_eq!(
        ended.reason_conference_ended,
        Some(ReasonConferenceEnded::ParticipantWithEndConferenceOnExitLeft)
    );
    assert_eq!(
        ended.call_sid_ending_conference.as_deref(),
        Some(guest.call_sid.as_str())
    );
    let agent_now = twilio.fetch_call(&agent.sid).await.unwrap();
    assert_eq!(agent_now.status, Some(CallStatus::Completed));

    let hooks = rx.hooks();
    let unsigned: Vec<&Hook> = hooks.iter().filter(|h| !h.signature_ok).collect();
    assert!(unsigned.is_empty(), "bad X-Twilio-Signature: {unsigned:#?}");
    let role = |sid: &str| match sid {
        s if s == agent.sid => "agent".to_owned(),
        s if s == guest.call_sid => "guest".to_owned(),
        other => panic!("a callback about an unknown call {other}"),
    };
    let story: Vec<String> = hooks.iter().map(|h| describe(h, &role)).collect();
    // Each call's webhooks, and the conference's, keep their own order; calls do not wait for
    // each other, so different calls' stories may interleave.
    for lane in ["agent", "guest", "conference"] {
        let told: Vec<&str> = story
            .iter()
            .map(String::as_str)
            .filter(|line| lane_of(line) == lane)
            .collect();
        let expected: Vec<&str> = STORY
            .into_iter()
            .filter(|line| lane_of(line) == lane)
            .collect();
        assert_eq!(told, expected, "the {lane}'s story: {hooks:#?}");
    }
    assert_eq!(story.len(), STORY.len(), "{story:#?}");

    for h in hooks.iter().filter(|h| h.path == "/conference") {
        assert_eq!(h.param("ConferenceSid"), conference_sid);
        assert_eq!(h.param("FriendlyName"), ROOM);
        assert_eq!(h.param("AccountSid"), sim.account_sid());
    }
    let guest_left = hooks
        .iter()
        .find(|h| {
            h.get("StatusCallbackEvent") == Some("participant-leave")
                && h.get("CallSid") == Some(guest.call_sid.as_str())
        })
        .unwrap();
    assert_eq!(guest_left.param("ParticipantLabel"), "guest");
    assert_eq!(guest_left.param("EndConferenceOnExit"), "true");
    let gathered = hooks.iter().find(|h| h.path == "/gather").unwrap();
    assert_eq!(gathered.param("CallStatus"), "in-progress");
    assert_eq!(gathered.param("From"), CALLER_ID);
    let recording = hooks.iter().find(|h| h.path == "/recording").unwrap();
    assert_eq!(recording.param("ConferenceSid"), conference_sid);
    assert_eq!(recording.param("RecordingSource"), "Conference");
    let completed = hooks.iter().rfind(|h| h.path == "/status").unwrap();
    assert_eq!(completed.param("CallbackSource"), "call-progress-events");
    assert!(
        completed.param("CallDuration").parse::<u64>().is_ok(),
        "{completed:?}"
    );

    sim.shutdown().await;
}

#[tokio::test]
async fn a_caller_id_the_account_does_not_own_is_refused_with_21210() {
    let sim = Sim::start(config()).await.unwrap();
    let twilio = client(&sim);
    let stranger = CreateCall::new(
        AGENT,
        "+15550109999",
        CallInstructions::Twiml("<Response/>".to_owned()),
    );
    match twilio.create_call(&stranger).await {
        Err(e @ twilio::Error::Api { status: 400, .. }) => {
            assert_eq!(e.code(), Some(21210), "{e}");
        }
        other => panic!("expected Twilio's 21210, got {other:?}"),
    }
    sim.shutdown().await;
}

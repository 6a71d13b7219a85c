//! The TwiML the call flow hands to Twilio, and the callback URLs in it. Every URL carries the
//! call id (and the leg), because conference and recording callbacks name no call of ours.

use twiml::{
    Conference, ConferenceEvent, ConferenceRecord, Dial, Gather, GatherInput, Method, Play,
    RecordingEvent, Response, Say,
};

use crate::config::{AgentSilence, Settings};
use crate::domain::{CallId, CallState, LegRole};
use crate::store::Call;

pub const DIAL_RECIPIENT_PATH: &str = "/phone-to-phone/dial-recipient";
pub const CONFERENCE_TWIML_PATH: &str = "/phone-to-phone/conference-twiml";
pub const STATUS_PATH: &str = "/phone-to-phone/status";
pub const CONFERENCE_STATUS_PATH: &str = "/phone-to-phone/conference-status";
pub const RECORDING_STATUS_PATH: &str = "/phone-to-phone/recording-status";
pub const HOLD_MUSIC_PATH: &str = "/phone-to-phone/hold-music";

/// Twilio's own classical hold music, a public recording: what a held party hears unless
/// `HOLD_MUSIC_URL` names something else.
pub const HOLD_MUSIC_AUDIO: &str =
    "https://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3";

/// The seed's prompt, kept word for word.
const GATHER_PROMPT: &str =
    "Please press any key to dial the customer. Or, wait till we connect you.";
pub const GOODBYE: &str = "Goodbye.";
const SILENT_GOODBYE: &str = "No key was pressed, so the customer was not dialled. Goodbye.";
/// Seconds the agent has to press a key (the seed's value).
const GATHER_TIMEOUT_SECS: u32 = 10;

/// Where one of our webhooks lives, for this call (and leg).
pub fn callback_url(settings: &Settings, path: &str, call: CallId, leg: Option<LegRole>) -> String {
    let query = match leg {
        Some(leg) => format!("call={call}&leg={leg}"),
        None => format!("call={call}"),
    };
    settings.public_url(&format!("{path}?{query}"))
}

/// The agent's first TwiML: a greeting, then a one-key `<Gather>` whose action dials the customer.
pub fn agent_greeting(settings: &Settings, call: CallId) -> Result<String, twiml::Error> {
    let connect_on_silence = settings.agent_silence == AgentSilence::Connect;
    let mut gather = Gather::new().action(callback_url(settings, DIAL_RECIPIENT_PATH, call, None));
    if connect_on_silence {
        // The seed's behaviour (and attribute order): the action runs on silence too.
        gather = gather.action_on_empty_result(true);
    }
    let gather = gather
        .method(Method::Post)
        .finish_on_key("")
        .timeout(GATHER_TIMEOUT_SECS)
        .num_digits(1)
        .input([GatherInput::Dtmf])
        .say(GATHER_PROMPT);
    let response = Response::new().say("Hello.").gather(gather);
    if connect_on_silence {
        response.to_xml()
    } else {
        response.say(SILENT_GOODBYE).hangup().to_xml()
    }
}

/// `<Dial><Conference>` for either party: the conference starts when one enters and ends when
/// either leaves, with every conference event (and the recording, if asked) reported to us.
pub fn conference(settings: &Settings, call: &Call, leg: LegRole) -> Result<String, twiml::Error> {
    let mut room = Conference::new(call.conference_name.as_str())
        .start_conference_on_enter(true)
        .end_conference_on_exit(true)
        .beep(twiml::Beep::False)
        .status_callback(callback_url(
            settings,
            CONFERENCE_STATUS_PATH,
            call.id,
            Some(leg),
        ))
        .status_callback_method(Method::Post)
        .status_callback_event([
            ConferenceEvent::Start,
            ConferenceEvent::End,
            ConferenceEvent::Join,
            ConferenceEvent::Leave,
            // Holds and mutes are what a call's parties show (`calls::control`).
            ConferenceEvent::Hold,
            ConferenceEvent::Mute,
        ])
        .participant_label(leg.as_str());
    if call.record {
        room = room
            .record(ConferenceRecord::RecordFromStart)
            .recording_status_callback(callback_url(settings, RECORDING_STATUS_PATH, call.id, None))
            .recording_status_callback_method(Method::Post)
            .recording_status_callback_event([
                RecordingEvent::InProgress,
                RecordingEvent::Completed,
                RecordingEvent::Absent,
            ]);
    }
    Response::new().dial(Dial::new().conference(room)).to_xml()
}

/// What a party is told when Twilio asks where they go: into the conference while the call is
/// live, let go once it is over (e.g. the customer answering after the agent gave up).
pub fn answer(settings: &Settings, call: &Call, leg: LegRole) -> Result<String, twiml::Error> {
    match call.state {
        CallState::Completed | CallState::Failed => say_and_hang_up(GOODBYE),
        _ => conference(settings, call, leg),
    }
}

/// What a held party hears, served at [`HOLD_MUSIC_PATH`]: the music, over and over.
pub fn hold_music() -> Result<String, twiml::Error> {
    Response::new()
        .play(Play::new(HOLD_MUSIC_AUDIO).loop_count(0))
        .to_xml()
}

/// Says `message` and hangs up: how a party is released.
pub fn say_and_hang_up(message: &str) -> Result<String, twiml::Error> {
    Response::new().say(Say::new(message)).hangup().to_xml()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawSettings, Settings};
    use crate::domain::{AgentId, CallState, PhoneNumber};

    fn settings(silence: &str) -> Settings {
        Settings::from_raw(RawSettings {
            twilio_account_sid: Some("AC00000000000000000000000000000000".into()),
            twilio_auth_token: Some("token".into()),
            caller_id: Some("+14155550100".into()),
            jwt_secret: Some("an-example-secret-of-at-least-32-bytes".into()),
            public_base_url: Some("https://calls.example.com/".into()),
            agent_silence: Some(silence.into()),
            ..RawSettings::default()
        })
        .unwrap()
    }

    fn call(record: bool) -> Call {
        let id: CallId = "0190a5f4-0000-7000-8000-000000000001".parse().unwrap();
        let now = chrono::DateTime::from_timestamp_millis(1_750_000_000_000).unwrap();
        Call {
            mode: crate::domain::CallMode::Phone,
            id,
            agent_id: AgentId::new(),
            state: CallState::RecipientRinging,
            reason: None,
            label: Some(r#"Tuvok & "Spock" <sales>"#.into()),
            recipient: PhoneNumber::parse("+12025550123").unwrap(),
            agent_endpoint: PhoneNumber::parse("+14155550100").unwrap().into(),
            conference_name: id.conference_name(),
            conference_sid: None,
            record,
            created_at: now,
            updated_at: now,
            ended_at: None,
            duration_secs: None,
        }
    }

    #[test]
    fn the_greeting_is_the_seeds_with_our_action() {
        let id = call(false).id;
        insta::assert_snapshot!(agent_greeting(&settings("connect"), id).unwrap());
    }

    #[test]
    fn a_silent_agent_is_let_go_when_the_setting_says_so() {
        let id = call(false).id;
        let xml = agent_greeting(&settings("hangup"), id).unwrap();
        assert!(!xml.contains("actionOnEmptyResult"), "{xml}");
        insta::assert_snapshot!(xml);
    }

    #[test]
    fn conference_without_and_with_recording() {
        let settings = settings("connect");
        insta::assert_snapshot!(
            "conference_agent",
            conference(&settings, &call(false), LegRole::Agent).unwrap()
        );
        insta::assert_snapshot!(
            "conference_recipient_recorded",
            conference(&settings, &call(true), LegRole::Recipient).unwrap()
        );
    }

    #[test]
    fn the_users_label_never_reaches_twilio() {
        let xml = conference(&settings("connect"), &call(true), LegRole::Agent).unwrap();
        assert!(!xml.contains("Tuvok"), "{xml}");
    }

    #[test]
    fn callback_urls_sit_under_the_public_base_url() {
        let id = call(false).id;
        assert_eq!(
            callback_url(&settings("connect"), STATUS_PATH, id, Some(LegRole::Agent)),
            format!("https://calls.example.com/phone-to-phone/status?call={id}&leg=agent")
        );
    }

    #[test]
    fn release_says_why_then_hangs_up() {
        assert_eq!(
            say_and_hang_up("The customer's line is busy.").unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>The customer&apos;s line is busy.</Say><Hangup/></Response>"#
        );
    }
}

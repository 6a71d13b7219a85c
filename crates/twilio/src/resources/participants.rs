//! Conference participants:
//! `/2010-04-01/Accounts/{AccountSid}/Conferences/{ConferenceSid}/Participants`.
//!
//! Creating a participant in a conference addressed by friendly name creates the conference if
//! it does not exist yet.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    calls::{CallEvent, MachineDetection, RecordingEvent},
    common::{HttpMethod, Listed, rfc2822},
};
use crate::{
    Client, Error,
    form::{Form, ToForm},
};

/// A participant's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParticipantStatus {
    /// Waiting to be dialled.
    Queued,
    /// Being dialled.
    Connecting,
    /// Ringing.
    Ringing,
    /// In the conference.
    Connected,
    /// Left.
    Complete,
    /// Could not be added.
    Failed,
    /// A status this client does not know yet.
    #[serde(other)]
    Unknown,
}

/// Conference events a conference status callback can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConferenceEvent {
    /// The conference started.
    Start,
    /// The conference ended.
    End,
    /// A participant joined.
    Join,
    /// A participant left.
    Leave,
    /// A participant was muted or unmuted.
    Mute,
    /// A participant was held or unheld.
    Hold,
    /// A participant's settings changed.
    Modify,
    /// Someone started or stopped speaking.
    Speaker,
    /// An announcement finished or failed.
    Announcement,
}

impl fmt::Display for ConferenceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Start => "start",
            Self::End => "end",
            Self::Join => "join",
            Self::Leave => "leave",
            Self::Mute => "mute",
            Self::Hold => "hold",
            Self::Modify => "modify",
            Self::Speaker => "speaker",
            Self::Announcement => "announcement",
        })
    }
}

/// The `Beep` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Beep {
    /// Beep on enter and exit.
    Both,
    /// No beep.
    Never,
    /// Beep when someone enters.
    OnEnter,
    /// Beep when someone leaves.
    OnExit,
}

impl fmt::Display for Beep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Both => "true",
            Self::Never => "false",
            Self::OnEnter => "onEnter",
            Self::OnExit => "onExit",
        })
    }
}

/// The `ConferenceRecord` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConferenceRecord {
    /// Record from the moment the conference starts.
    RecordFromStart,
    /// Do not record.
    DoNotRecord,
}

impl fmt::Display for ConferenceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RecordFromStart => "record-from-start",
            Self::DoNotRecord => "do-not-record",
        })
    }
}

/// `POST Participants.json`: dial `to` and put them in the conference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateParticipant {
    /// Caller ID.
    pub from: String,
    /// Who to dial.
    pub to: String,
    /// A name for the participant, unique in the conference.
    pub label: Option<String>,
    /// Where the participant's call progress is reported.
    pub status_callback: Option<String>,
    /// Method for the status callback.
    pub status_callback_method: Option<HttpMethod>,
    /// Which call progress events are reported.
    pub status_callback_event: Vec<CallEvent>,
    /// Seconds to let it ring.
    pub timeout: Option<u32>,
    /// Record the participant's call.
    pub record: Option<bool>,
    /// Beep on enter/exit.
    pub beep: Option<Beep>,
    /// Whether this participant's entering starts the conference.
    pub start_conference_on_enter: Option<bool>,
    /// Whether this participant's leaving ends the conference.
    pub end_conference_on_exit: Option<bool>,
    /// Pass early media (ringback) through.
    pub early_media: Option<bool>,
    /// Where conference events are reported.
    pub conference_status_callback: Option<String>,
    /// Method for the conference status callback.
    pub conference_status_callback_method: Option<HttpMethod>,
    /// Which conference events are reported.
    pub conference_status_callback_event: Vec<ConferenceEvent>,
    /// Record the conference.
    pub conference_record: Option<ConferenceRecord>,
    /// Where conference recording progress is reported.
    pub conference_recording_status_callback: Option<String>,
    /// Which conference recording events are reported.
    pub conference_recording_status_callback_event: Vec<RecordingEvent>,
    /// Hold music/TwiML while waiting for the conference to start.
    pub wait_url: Option<String>,
    /// Method for `wait_url`.
    pub wait_method: Option<HttpMethod>,
    /// Join muted.
    pub muted: Option<bool>,
    /// Coach another participant: only that one hears this participant.
    pub coaching: Option<bool>,
    /// The call being coached, when `coaching`.
    pub call_sid_to_coach: Option<String>,
    /// Answering machine detection, reported to `amd_status_callback`.
    pub machine_detection: Option<MachineDetection>,
    /// Seconds detection may take before answering `unknown` (3 to 59).
    pub machine_detection_timeout: Option<u32>,
    /// Where the detection result is reported.
    pub amd_status_callback: Option<String>,
    /// Method for `amd_status_callback`.
    pub amd_status_callback_method: Option<HttpMethod>,
}

impl CreateParticipant {
    /// Dial `to` from `from`, everything else left to Twilio.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
            label: None,
            status_callback: None,
            status_callback_method: None,
            status_callback_event: Vec::new(),
            timeout: None,
            record: None,
            beep: None,
            start_conference_on_enter: None,
            end_conference_on_exit: None,
            early_media: None,
            conference_status_callback: None,
            conference_status_callback_method: None,
            conference_status_callback_event: Vec::new(),
            conference_record: None,
            conference_recording_status_callback: None,
            conference_recording_status_callback_event: Vec::new(),
            wait_url: None,
            wait_method: None,
            muted: None,
            coaching: None,
            call_sid_to_coach: None,
            machine_detection: None,
            machine_detection_timeout: None,
            amd_status_callback: None,
            amd_status_callback_method: None,
        }
    }
}

impl ToForm for CreateParticipant {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.set("From", &self.from)
            .set("To", &self.to)
            .opt("Label", self.label.as_ref())
            .opt("StatusCallback", self.status_callback.as_ref())
            .opt("StatusCallbackMethod", self.status_callback_method)
            .list("StatusCallbackEvent", &self.status_callback_event)
            .opt("Timeout", self.timeout)
            .opt("Record", self.record)
            .opt("Beep", self.beep)
            .opt("StartConferenceOnEnter", self.start_conference_on_enter)
            .opt("EndConferenceOnExit", self.end_conference_on_exit)
            .opt("EarlyMedia", self.early_media)
            .opt(
                "ConferenceStatusCallback",
                self.conference_status_callback.as_ref(),
            )
            .opt(
                "ConferenceStatusCallbackMethod",
                self.conference_status_callback_method,
            )
            .list(
                "ConferenceStatusCallbackEvent",
                &self.conference_status_callback_event,
            )
            .opt("ConferenceRecord", self.conference_record)
            .opt(
                "ConferenceRecordingStatusCallback",
                self.conference_recording_status_callback.as_ref(),
            )
            .list(
                "ConferenceRecordingStatusCallbackEvent",
                &self.conference_recording_status_callback_event,
            )
            .opt("WaitUrl", self.wait_url.as_ref())
            .opt("WaitMethod", self.wait_method)
            .opt("Muted", self.muted)
            .opt("Coaching", self.coaching)
            .opt("CallSidToCoach", self.call_sid_to_coach.as_ref())
            .opt("MachineDetection", self.machine_detection)
            .opt("MachineDetectionTimeout", self.machine_detection_timeout)
            .opt("AmdStatusCallback", self.amd_status_callback.as_ref())
            .opt("AmdStatusCallbackMethod", self.amd_status_callback_method);
        form
    }
}

/// `POST Participants/{CallSid}.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateParticipant {
    /// Put on hold or take off hold.
    pub hold: Option<bool>,
    /// Mute or unmute.
    pub muted: Option<bool>,
    /// What the held participant hears.
    pub hold_url: Option<String>,
    /// Method for `hold_url` (Twilio's default is GET).
    pub hold_method: Option<HttpMethod>,
    /// TwiML or audio announced to this participant alone.
    pub announce_url: Option<String>,
    /// Method for `announce_url`.
    pub announce_method: Option<HttpMethod>,
    /// What the participant hears while the conference waits to start.
    pub wait_url: Option<String>,
    /// Method for `wait_url`.
    pub wait_method: Option<HttpMethod>,
    /// Beep when the participant leaves.
    pub beep_on_exit: Option<bool>,
    /// Whether this participant's leaving ends the conference.
    pub end_conference_on_exit: Option<bool>,
    /// Coach another participant: only that one hears this participant.
    pub coaching: Option<bool>,
    /// The call being coached, when `coaching`.
    pub call_sid_to_coach: Option<String>,
}

impl ToForm for UpdateParticipant {
    fn to_form(&self) -> Form {
        let mut form = Form::new();
        form.opt("Hold", self.hold)
            .opt("Muted", self.muted)
            .opt("HoldUrl", self.hold_url.as_ref())
            .opt("HoldMethod", self.hold_method)
            .opt("AnnounceUrl", self.announce_url.as_ref())
            .opt("AnnounceMethod", self.announce_method)
            .opt("WaitUrl", self.wait_url.as_ref())
            .opt("WaitMethod", self.wait_method)
            .opt("BeepOnExit", self.beep_on_exit)
            .opt("EndConferenceOnExit", self.end_conference_on_exit)
            .opt("Coaching", self.coaching)
            .opt("CallSidToCoach", self.call_sid_to_coach.as_ref());
        form
    }
}

/// The Participant resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// The participant's call (`CA…`), which also identifies the participant.
    pub call_sid: String,
    /// Owning account.
    #[serde(default)]
    pub account_sid: Option<String>,
    /// The participant's label.
    #[serde(default)]
    pub label: Option<String>,
    /// The call being coached, for a coach.
    #[serde(default)]
    pub call_sid_to_coach: Option<String>,
    /// Whether this participant is a coach.
    #[serde(default)]
    pub coaching: Option<bool>,
    /// The conference (`CF…`).
    #[serde(default)]
    pub conference_sid: Option<String>,
    /// When created.
    #[serde(default, with = "rfc2822")]
    pub date_created: Option<DateTime<Utc>>,
    /// When last updated.
    #[serde(default, with = "rfc2822")]
    pub date_updated: Option<DateTime<Utc>>,
    /// Whether the participant's leaving ends the conference.
    #[serde(default)]
    pub end_conference_on_exit: Option<bool>,
    /// Muted.
    #[serde(default)]
    pub muted: Option<bool>,
    /// On hold.
    #[serde(default)]
    pub hold: Option<bool>,
    /// Whether the participant's entering starts the conference.
    #[serde(default)]
    pub start_conference_on_enter: Option<bool>,
    /// Current status.
    #[serde(default)]
    pub status: Option<ParticipantStatus>,
    /// Milliseconds queued, as a string.
    #[serde(default)]
    pub queue_time: Option<String>,
    /// This resource's URI.
    #[serde(default)]
    pub uri: Option<String>,
}

impl Listed for Participant {
    const LIST_KEY: &'static str = "participants";
}

impl Client {
    /// Dials a participant into `conference` (a `CF…` SID or a friendly name).
    pub async fn create_participant(
        &self,
        conference: &str,
        params: &CreateParticipant,
    ) -> Result<Participant, Error> {
        self.post(
            self.api_url(&["Conferences", conference, "Participants.json"]),
            &params.to_form(),
        )
        .await
    }

    /// Fetches the participant whose call is `call_sid` (or whose label is that).
    pub async fn fetch_participant(
        &self,
        conference_sid: &str,
        call_sid: &str,
    ) -> Result<Participant, Error> {
        self.get(self.participant_url(conference_sid, call_sid), &Form::new())
            .await
    }

    /// Holds, mutes, or changes hold music of a participant.
    pub async fn update_participant(
        &self,
        conference_sid: &str,
        call_sid: &str,
        params: &UpdateParticipant,
    ) -> Result<Participant, Error> {
        self.post(
            self.participant_url(conference_sid, call_sid),
            &params.to_form(),
        )
        .await
    }

    /// Removes a participant from the conference (hanging up their call).
    pub async fn delete_participant(
        &self,
        conference_sid: &str,
        call_sid: &str,
    ) -> Result<(), Error> {
        self.delete(self.participant_url(conference_sid, call_sid))
            .await
    }

    fn participant_url(&self, conference_sid: &str, call_sid: &str) -> url::Url {
        self.api_url(&[
            "Conferences",
            conference_sid,
            "Participants",
            &format!("{call_sid}.json"),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_encodes_every_field() {
        let mut params = CreateParticipant::new("+15551230000", "+15551230002");
        params.label = Some("customer".to_owned());
        params.status_callback = Some("https://cb.example/status".to_owned());
        params.status_callback_method = Some(HttpMethod::Post);
        params.status_callback_event = CallEvent::ALL.to_vec();
        params.timeout = Some(30);
        params.record = Some(false);
        params.beep = Some(Beep::Never);
        params.start_conference_on_enter = Some(true);
        params.end_conference_on_exit = Some(true);
        params.early_media = Some(true);
        params.conference_status_callback = Some("https://cb.example/conf".to_owned());
        params.conference_status_callback_method = Some(HttpMethod::Post);
        params.conference_status_callback_event = vec![
            ConferenceEvent::Start,
            ConferenceEvent::End,
            ConferenceEvent::Join,
            ConferenceEvent::Leave,
        ];
        params.conference_record = Some(ConferenceRecord::RecordFromStart);
        params.conference_recording_status_callback = Some("https://cb.example/rec".to_owned());
        params.conference_recording_status_callback_event = vec![RecordingEvent::Completed];
        params.wait_url = Some(String::new());
        insta::assert_snapshot!(params.to_form().encoded_lines());
    }

    #[test]
    fn update_fields() {
        let update = UpdateParticipant {
            hold: Some(true),
            hold_url: Some("https://app.example/hold".to_owned()),
            ..UpdateParticipant::default()
        };
        assert_eq!(
            update.to_form().encode(),
            "Hold=true&HoldUrl=https%3A%2F%2Fapp.example%2Fhold"
        );
    }

    #[test]
    fn decodes_the_openapi_example() {
        let participant: Participant =
            serde_json::from_str(include_str!("../../fixtures/participant.json")).unwrap();
        assert_eq!(participant.call_sid, "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        assert_eq!(participant.label.as_deref(), Some("customer"));
        assert_eq!(participant.status, Some(ParticipantStatus::Queued));
        assert_eq!(participant.start_conference_on_enter, Some(true));
        assert_eq!(participant.call_sid_to_coach, None);
    }
}

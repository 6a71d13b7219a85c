use crate::{
    Beep, ConferenceEvent, ConferenceRecord, Error, JitterBufferSize, Method, RecordingEvent,
    Region, Trim,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Conference>` inside `<Dial>`: joins a named conference room.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conference {
    name: String,
    attrs: Attrs,
}

impl Conference {
    /// Joins the room called `name`. Names are shared across the whole Twilio account.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            attrs: Attrs::default(),
        }
    }

    /// The room's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    attribute_setters! {
        /// Whether this participant joins muted.
        muted: value<bool> = "muted";
        /// Whether a tone marks participants joining and leaving.
        beep: value<Beep> = "beep";
        /// Whether the conference starts when this participant joins.
        start_conference_on_enter: value<bool> = "startConferenceOnEnter";
        /// Whether the conference ends when this participant leaves.
        end_conference_on_exit: value<bool> = "endConferenceOnExit";
        /// Hold music TwiML or audio; an empty string plays silence.
        wait_url: text = "waitUrl";
        /// Method for `waitUrl`.
        wait_method: value<Method> = "waitMethod";
        /// Most participants allowed (2 to 250).
        max_participants: value<u32> = "maxParticipants";
        /// Whether the conference is recorded.
        record: value<ConferenceRecord> = "record";
        /// Where the conference's media is mixed.
        region: value<Region> = "region";
        /// Whether silence is trimmed from the recording.
        trim: value<Trim> = "trim";
        /// Call SID of a participant this one coaches (heard by it alone).
        coach: text = "coach";
        /// URL told about conference events.
        status_callback: text = "statusCallback";
        /// Which conference events are reported.
        status_callback_event: list<ConferenceEvent> = "statusCallbackEvent";
        /// Method for `statusCallback`.
        status_callback_method: value<Method> = "statusCallbackMethod";
        /// URL told about the recording's progress.
        recording_status_callback: text = "recordingStatusCallback";
        /// Method for `recordingStatusCallback`.
        recording_status_callback_method: value<Method> = "recordingStatusCallbackMethod";
        /// Which recording events are reported.
        recording_status_callback_event: list<RecordingEvent> = "recordingStatusCallbackEvent";
        /// URL told about events of the conference as a whole (Conference Events API).
        event_callback_url: text = "eventCallbackUrl";
        /// Jitter buffer for this participant's audio.
        jitter_buffer_size: value<JitterBufferSize> = "jitterBufferSize";
        /// A label that identifies this participant in API calls and callbacks.
        participant_label: text = "participantLabel";
    }
}

impl WriteXml for Conference {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Conference", &self.attrs, &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dial, voice::render};

    #[test]
    fn conference_with_every_attribute() {
        insta::assert_snapshot!(render(
            Dial::new().conference(
                Conference::new("cb-0190a5f4")
                    .muted(false)
                    .beep(Beep::OnEnter)
                    .start_conference_on_enter(true)
                    .end_conference_on_exit(true)
                    .wait_url("")
                    .wait_method(Method::Get)
                    .max_participants(2)
                    .record(ConferenceRecord::RecordFromStart)
                    .region(Region::Ie1)
                    .trim(Trim::TrimSilence)
                    .coach("CA00000000000000000000000000000001")
                    .status_callback("https://example.com/status?call=1&leg=agent")
                    .status_callback_event([
                        ConferenceEvent::Start,
                        ConferenceEvent::End,
                        ConferenceEvent::Join,
                        ConferenceEvent::Leave,
                    ])
                    .status_callback_method(Method::Post)
                    .recording_status_callback("https://example.com/recording?call=1")
                    .recording_status_callback_method(Method::Post)
                    .recording_status_callback_event([
                        RecordingEvent::Completed,
                        RecordingEvent::Absent
                    ])
                    .event_callback_url("https://example.com/conference-events")
                    .jitter_buffer_size(JitterBufferSize::Small)
                    .participant_label("agent")
            )
        ));
    }

    #[test]
    fn a_hostile_name_is_escaped() {
        insta::assert_snapshot!(render(
            Dial::new().conference(Conference::new(r#"a&b<c>"d'"#))
        ));
    }
}

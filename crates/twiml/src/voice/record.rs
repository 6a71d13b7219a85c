use crate::{
    Error, Method, RecordingEvent, Trim,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Record>`: records the caller's voice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    attrs: Attrs,
}

impl Record {
    /// A recording with Twilio's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    attribute_setters! {
        /// URL requested when the recording ends.
        action: text = "action";
        /// Method for `action`.
        method: value<Method> = "method";
        /// Seconds of silence that end the recording.
        timeout: value<u32> = "timeout";
        /// Keys that end the recording: `0`-`9`, `#`, `*`, or empty for none.
        finish_on_key: text = "finishOnKey";
        /// Longest recording, in seconds.
        max_length: value<u32> = "maxLength";
        /// Whether a beep plays before recording starts.
        play_beep: value<bool> = "playBeep";
        /// Whether leading and trailing silence is removed.
        trim: value<Trim> = "trim";
        /// URL told about the recording's progress.
        recording_status_callback: text = "recordingStatusCallback";
        /// Method for `recordingStatusCallback`.
        recording_status_callback_method: value<Method> = "recordingStatusCallbackMethod";
        /// Which recording events are reported.
        recording_status_callback_event: list<RecordingEvent> = "recordingStatusCallbackEvent";
        /// Whether Twilio transcribes the recording.
        transcribe: value<bool> = "transcribe";
    }
}

impl WriteXml for Record {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Record", &self.attrs, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn record_with_every_attribute() {
        insta::assert_snapshot!(render(
            Record::new()
                .action("/recorded")
                .method(Method::Get)
                .timeout(5)
                .finish_on_key("#")
                .max_length(3600)
                .play_beep(false)
                .trim(Trim::DoNotTrim)
                .recording_status_callback("/recording?call=1&leg=agent")
                .recording_status_callback_method(Method::Post)
                .recording_status_callback_event([
                    RecordingEvent::InProgress,
                    RecordingEvent::Completed
                ])
                .transcribe(true)
        ));
    }
}

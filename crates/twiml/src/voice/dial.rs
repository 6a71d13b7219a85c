use crate::{
    Client, Conference, DialRecord, Error, Method, Number, RecordingEvent,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Dial>`: connects the call to another party.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dial {
    attrs: Attrs,
    nouns: Vec<DialNoun>,
}

/// What a `<Dial>` connects to. Several `Number`s and `Client`s ring at once; a `Conference`
/// should be the only noun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialNoun {
    /// `<Number>`.
    Number(Number),
    /// `<Client>`.
    Client(Client),
    /// `<Conference>`.
    Conference(Conference),
    /// A phone number written as plain text, `<Dial>+15558675310</Dial>`.
    Text(String),
}

impl Dial {
    /// A dial with no target yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dials `number` given as the plain-text body.
    pub fn to(number: impl Into<String>) -> Self {
        Self::new().noun(DialNoun::Text(number.into()))
    }

    /// The targets, in order.
    pub fn nouns(&self) -> &[DialNoun] {
        &self.nouns
    }

    /// Adds any target.
    #[must_use]
    pub fn noun(mut self, noun: impl Into<DialNoun>) -> Self {
        self.nouns.push(noun.into());
        self
    }

    /// Adds a `<Number>`.
    #[must_use]
    pub fn number(self, number: Number) -> Self {
        self.noun(number)
    }

    /// Adds a `<Client>`.
    #[must_use]
    pub fn client(self, client: Client) -> Self {
        self.noun(client)
    }

    /// Adds a `<Conference>`.
    #[must_use]
    pub fn conference(self, conference: Conference) -> Self {
        self.noun(conference)
    }

    attribute_setters! {
        /// Caller ID shown to the called party.
        caller_id: text = "callerId";
        /// Seconds to ring before giving up.
        timeout: value<u32> = "timeout";
        /// Whether the caller keeps hearing ringing until the called party answers.
        answer_on_bridge: value<bool> = "answerOnBridge";
        /// URL requested when the dialled call ends.
        action: text = "action";
        /// Method for `action`.
        method: value<Method> = "method";
        /// Whether and from when the call is recorded.
        record: value<DialRecord> = "record";
        /// URL told about the recording's progress.
        recording_status_callback: text = "recordingStatusCallback";
        /// Method for `recordingStatusCallback`.
        recording_status_callback_method: value<Method> = "recordingStatusCallbackMethod";
        /// Which recording events are reported.
        recording_status_callback_event: list<RecordingEvent> = "recordingStatusCallbackEvent";
        /// Whether the caller can press `*` to hang up the called party.
        hangup_on_star: value<bool> = "hangupOnStar";
        /// Longest call, in seconds.
        time_limit: value<u32> = "timeLimit";
        /// Country whose ringback tone plays, e.g. `us` or `uk`.
        ring_tone: text = "ringTone";
    }
}

impl From<Number> for DialNoun {
    fn from(number: Number) -> Self {
        Self::Number(number)
    }
}

impl From<Client> for DialNoun {
    fn from(client: Client) -> Self {
        Self::Client(client)
    }
}

impl From<Conference> for DialNoun {
    fn from(conference: Conference) -> Self {
        Self::Conference(conference)
    }
}

impl WriteXml for DialNoun {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        match self {
            Self::Number(number) => number.write_xml(w),
            Self::Client(client) => client.write_xml(w),
            Self::Conference(conference) => conference.write_xml(w),
            Self::Text(text) => w.text("Dial", text),
        }
    }
}

impl WriteXml for Dial {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.element("Dial", &self.attrs, |w| w.children(&self.nouns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn dial_with_every_attribute() {
        insta::assert_snapshot!(render(
            Dial::to("+15558675310")
                .caller_id("+15005550006")
                .timeout(30)
                .answer_on_bridge(true)
                .action("/dial-done?call=1&leg=recipient")
                .method(Method::Post)
                .record(DialRecord::RecordFromAnswerDual)
                .recording_status_callback("/recording")
                .recording_status_callback_method(Method::Get)
                .recording_status_callback_event([
                    RecordingEvent::InProgress,
                    RecordingEvent::Completed
                ])
                .hangup_on_star(false)
                .time_limit(14400)
                .ring_tone("uk")
        ));
    }

    #[test]
    fn simultaneous_dial_keeps_noun_order() {
        insta::assert_snapshot!(render(
            Dial::new()
                .number(Number::new("+15558675310"))
                .client(Client::new("agent-7"))
        ));
    }

    #[test]
    fn empty_dial_self_closes() {
        assert_eq!(
            render(Dial::new()),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial/></Response>"#
        );
    }
}

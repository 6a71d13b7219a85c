use crate::{
    Dial, Error, Gather, Hangup, Pause, Play, Record, Redirect, Reject, Say,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// A TwiML Voice document: `<Response>` and its verbs, executed by Twilio in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    verbs: Vec<Verb>,
}

/// A top-level verb of a [`Response`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// `<Say>`.
    Say(Say),
    /// `<Play>`.
    Play(Play),
    /// `<Pause>`.
    Pause(Pause),
    /// `<Gather>`.
    Gather(Gather),
    /// `<Dial>`.
    Dial(Dial),
    /// `<Redirect>`.
    Redirect(Redirect),
    /// `<Hangup>`.
    Hangup(Hangup),
    /// `<Reject>`.
    Reject(Reject),
    /// `<Record>`.
    Record(Record),
}

impl Response {
    /// An empty document.
    pub fn new() -> Self {
        Self::default()
    }

    /// The verbs, in order.
    pub fn verbs(&self) -> &[Verb] {
        &self.verbs
    }

    /// Appends any verb.
    #[must_use]
    pub fn push(mut self, verb: impl Into<Verb>) -> Self {
        self.verbs.push(verb.into());
        self
    }

    /// Appends `<Say>`; a plain string is spoken with Twilio's defaults.
    #[must_use]
    pub fn say(self, say: impl Into<Say>) -> Self {
        self.push(say.into())
    }

    /// Appends `<Play>`; a plain string is the audio URL.
    #[must_use]
    pub fn play(self, play: impl Into<Play>) -> Self {
        self.push(play.into())
    }

    /// Appends `<Pause>`.
    #[must_use]
    pub fn pause(self, pause: Pause) -> Self {
        self.push(pause)
    }

    /// Appends `<Gather>`.
    #[must_use]
    pub fn gather(self, gather: Gather) -> Self {
        self.push(gather)
    }

    /// Appends `<Dial>`.
    #[must_use]
    pub fn dial(self, dial: Dial) -> Self {
        self.push(dial)
    }

    /// Appends `<Redirect>`; a plain string is the URL.
    #[must_use]
    pub fn redirect(self, redirect: impl Into<Redirect>) -> Self {
        self.push(redirect.into())
    }

    /// Appends `<Hangup/>`.
    #[must_use]
    pub fn hangup(self) -> Self {
        self.push(Hangup)
    }

    /// Appends `<Reject>`.
    #[must_use]
    pub fn reject(self, reject: Reject) -> Self {
        self.push(reject)
    }

    /// Appends `<Record>`.
    #[must_use]
    pub fn record(self, record: Record) -> Self {
        self.push(record)
    }

    /// The document as one line of XML, prolog included.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidChar`] when a string holds a character XML 1.0 cannot carry (such as
    /// U+0000 or another C0 control other than tab, newline and carriage return).
    pub fn to_xml(&self) -> Result<String, Error> {
        let mut w = XmlWriter::document();
        w.element("Response", &Attrs::default(), |w| w.children(&self.verbs))?;
        Ok(w.finish())
    }
}

macro_rules! verb_from {
    ($($variant:ident),+) => {
        $(impl From<$variant> for Verb {
            fn from(verb: $variant) -> Self {
                Self::$variant(verb)
            }
        })+
    };
}

verb_from!(
    Say, Play, Pause, Gather, Dial, Redirect, Hangup, Reject, Record
);

impl WriteXml for Verb {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        match self {
            Self::Say(verb) => verb.write_xml(w),
            Self::Play(verb) => verb.write_xml(w),
            Self::Pause(verb) => verb.write_xml(w),
            Self::Gather(verb) => verb.write_xml(w),
            Self::Dial(verb) => verb.write_xml(w),
            Self::Redirect(verb) => verb.write_xml(w),
            Self::Hangup(verb) => verb.write_xml(w),
            Self::Reject(verb) => verb.write_xml(w),
            Self::Record(verb) => verb.write_xml(w),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Place, RejectReason};

    #[test]
    fn empty_response_is_self_closed_after_the_prolog() {
        assert_eq!(
            Response::new().to_xml().unwrap(),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
    }

    #[test]
    fn verbs_are_written_in_order() {
        insta::assert_snapshot!(
            Response::new()
                .say("One moment.")
                .pause(Pause::new().length(1))
                .play("https://example.com/a.mp3")
                .redirect("https://example.com/next")
                .reject(Reject::new().reason(RejectReason::Rejected))
                .record(Record::new())
                .hangup()
                .to_xml()
                .unwrap()
        );
    }

    #[test]
    fn an_unwritable_character_fails_the_whole_document() {
        let response = Response::new().say("fine").say("not\u{7}fine");
        assert_eq!(
            response.to_xml(),
            Err(Error::InvalidChar {
                ch: '\u{7}',
                place: Place {
                    element: "Say",
                    attribute: None
                }
            })
        );
    }

    #[test]
    fn verbs_are_inspectable() {
        let response = Response::new().say("hi").hangup();
        assert_eq!(
            response.verbs(),
            [Verb::Say(Say::new("hi")), Verb::Hangup(Hangup)]
        );
    }
}

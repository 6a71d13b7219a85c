use crate::{
    Error,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Say>`: text-to-speech.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Say {
    text: String,
    attrs: Attrs,
}

impl Say {
    /// Speaks `text`.
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            attrs: Attrs::default(),
        }
    }

    /// The text to speak.
    pub fn text(&self) -> &str {
        &self.text
    }

    attribute_setters! {
        /// A voice such as `alice` or `Polly.Joanna`; Twilio's list grows, so any string is accepted.
        voice: text = "voice";
        /// A BCP-47 language tag such as `en-US`.
        language: text = "language";
        /// How many times to speak; `0` repeats until the call ends.
        loop_count: value<u32> = "loop";
    }
}

impl From<&str> for Say {
    fn from(text: &str) -> Self {
        Self::new(text)
    }
}

impl From<String> for Say {
    fn from(text: String) -> Self {
        Self::new(text)
    }
}

impl WriteXml for Say {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Say", &self.attrs, &self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn say_with_every_attribute() {
        insta::assert_snapshot!(render(
            Say::new("Hello & welcome")
                .voice("Polly.Joanna")
                .language("en-US")
                .loop_count(2)
        ));
    }

    #[test]
    fn empty_say_self_closes() {
        assert_eq!(
            render(Say::new("")),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say/></Response>"#
        );
    }

    #[test]
    fn attributes_are_readable_by_twiml_name() {
        let say = Say::new("hi").loop_count(3);
        assert_eq!(say.attribute("loop"), Some("3"));
        assert_eq!(say.attribute("voice"), None);
        assert_eq!(say.text(), "hi");
    }
}

use crate::{
    Error, GatherInput, Method, Pause, Play, Say, SpeechTimeout,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Gather>`: collects key presses or speech, then requests `action`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gather {
    attrs: Attrs,
    children: Vec<GatherChild>,
}

/// What may be nested in a `<Gather>`: prompts played while it listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatherChild {
    /// `<Say>`.
    Say(Say),
    /// `<Play>`.
    Play(Play),
    /// `<Pause>`.
    Pause(Pause),
}

impl Gather {
    /// A gather with Twilio's defaults and no prompt.
    pub fn new() -> Self {
        Self::default()
    }

    /// The nested prompts, in order.
    pub fn children(&self) -> &[GatherChild] {
        &self.children
    }

    /// Adds a spoken prompt.
    #[must_use]
    pub fn say(mut self, say: impl Into<Say>) -> Self {
        self.children.push(GatherChild::Say(say.into()));
        self
    }

    /// Adds an audio prompt.
    #[must_use]
    pub fn play(mut self, play: impl Into<Play>) -> Self {
        self.children.push(GatherChild::Play(play.into()));
        self
    }

    /// Adds silence between prompts.
    #[must_use]
    pub fn pause(mut self, pause: Pause) -> Self {
        self.children.push(GatherChild::Pause(pause));
        self
    }

    /// Sets `hints`: words and phrases the caller is likely to say. Twilio separates them with
    /// commas (not spaces, unlike other lists), so a hint must not contain a comma itself.
    #[must_use]
    pub fn hints<S: Into<String>>(mut self, hints: impl IntoIterator<Item = S>) -> Self {
        let hints: Vec<String> = hints.into_iter().map(Into::into).collect();
        self.attrs.set("hints", hints.join(", "));
        self
    }

    attribute_setters! {
        /// URL requested with the result.
        action: text = "action";
        /// Method for `action`.
        method: value<Method> = "method";
        /// Digits to collect before requesting `action`.
        num_digits: value<u32> = "numDigits";
        /// Seconds to wait for input.
        timeout: value<u32> = "timeout";
        /// Key that submits the digits: `0`-`9`, `#`, `*`, or empty so that none does.
        finish_on_key: text = "finishOnKey";
        /// Kinds of input accepted.
        input: list<GatherInput> = "input";
        /// Whether `action` is requested even when nothing was entered.
        action_on_empty_result: value<bool> = "actionOnEmptyResult";
        /// How long silence ends speech input.
        speech_timeout: value<SpeechTimeout> = "speechTimeout";
        /// A BCP-47 language tag for speech recognition.
        language: text = "language";
    }
}

impl From<Say> for GatherChild {
    fn from(say: Say) -> Self {
        Self::Say(say)
    }
}

impl From<Play> for GatherChild {
    fn from(play: Play) -> Self {
        Self::Play(play)
    }
}

impl From<Pause> for GatherChild {
    fn from(pause: Pause) -> Self {
        Self::Pause(pause)
    }
}

impl WriteXml for GatherChild {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        match self {
            Self::Say(say) => say.write_xml(w),
            Self::Play(play) => play.write_xml(w),
            Self::Pause(pause) => pause.write_xml(w),
        }
    }
}

impl WriteXml for Gather {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.element("Gather", &self.attrs, |w| w.children(&self.children))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn gather_with_every_attribute_and_child() {
        insta::assert_snapshot!(render(
            Gather::new()
                .action("/gathered?call=1&step=2")
                .method(Method::Post)
                .num_digits(4)
                .timeout(7)
                .finish_on_key("#")
                .input([GatherInput::Dtmf, GatherInput::Speech])
                .action_on_empty_result(false)
                .speech_timeout(SpeechTimeout::Auto)
                .hints(["sales", "customer support"])
                .language("en-GB")
                .say("Enter your PIN.")
                .pause(Pause::new().length(1))
                .play("https://example.com/beep.mp3")
        ));
    }

    #[test]
    fn empty_gather_self_closes() {
        assert_eq!(
            render(Gather::new()),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather/></Response>"#
        );
    }

    #[test]
    fn an_empty_finish_on_key_is_written_not_dropped() {
        assert_eq!(
            Gather::new().finish_on_key("").attribute("finishOnKey"),
            Some("")
        );
    }

    #[test]
    fn children_keep_their_order() {
        let gather = Gather::new().say("a").play("b");
        assert_eq!(
            gather.children(),
            [
                GatherChild::Say(Say::new("a")),
                GatherChild::Play(Play::new("b"))
            ]
        );
    }
}

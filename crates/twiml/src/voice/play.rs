use crate::{
    Error,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Play>`: an audio file, or DTMF tones when only `digits` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Play {
    url: String,
    attrs: Attrs,
}

impl Play {
    /// Plays the audio at `url`; pass an empty string with [`Play::digits`] to send tones only.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            attrs: Attrs::default(),
        }
    }

    /// The audio URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    attribute_setters! {
        /// How many times to play; `0` repeats until the call ends.
        loop_count: value<u32> = "loop";
        /// DTMF tones to send: `0`-`9`, `*`, `#`, and `w` for a half-second pause.
        digits: text = "digits";
    }
}

impl From<&str> for Play {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for Play {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

impl WriteXml for Play {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Play", &self.attrs, &self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn play_with_every_attribute() {
        insta::assert_snapshot!(render(
            Play::new("https://example.com/hold.mp3").loop_count(0)
        ));
    }

    #[test]
    fn digits_only_play_self_closes() {
        insta::assert_snapshot!(render(Play::new("").digits("w123#")));
    }
}

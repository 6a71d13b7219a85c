use crate::{
    Error,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Pause>`: silence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pause {
    attrs: Attrs,
}

impl Pause {
    /// A pause of Twilio's default length (one second).
    pub fn new() -> Self {
        Self::default()
    }

    attribute_setters! {
        /// Seconds of silence.
        length: value<u32> = "length";
    }
}

impl WriteXml for Pause {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Pause", &self.attrs, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn pause_with_length() {
        insta::assert_snapshot!(render(Pause::new().length(5)));
    }
}

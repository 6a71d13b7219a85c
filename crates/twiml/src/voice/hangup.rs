use crate::{
    Error,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Hangup/>`: ends the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hangup;

impl WriteXml for Hangup {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Hangup", &Attrs::default(), "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn hangup() {
        insta::assert_snapshot!(render(Hangup));
    }
}

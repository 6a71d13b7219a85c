use crate::{
    Error, RejectReason,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Reject>`: declines an incoming call without answering (so without charge).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reject {
    attrs: Attrs,
}

impl Reject {
    /// Rejects with Twilio's default reason (`rejected`).
    pub fn new() -> Self {
        Self::default()
    }

    attribute_setters! {
        /// Which tone the caller hears.
        reason: value<RejectReason> = "reason";
    }
}

impl WriteXml for Reject {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Reject", &self.attrs, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn reject_busy() {
        insta::assert_snapshot!(render(Reject::new().reason(RejectReason::Busy)));
    }
}

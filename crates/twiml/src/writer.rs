//! The one-line serializer every verb and noun writes itself through.

use crate::{
    attrs::Attrs,
    error::{Error, Place},
    escape::escape_into,
};

/// The declaration `twilio-node` and `twilio-python` put in front of every document.
pub(crate) const PROLOG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Something that writes itself as one XML element.
pub(crate) trait WriteXml {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error>;
}

#[derive(Debug)]
pub(crate) struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub(crate) fn document() -> Self {
        Self {
            out: PROLOG.to_owned(),
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// Writes `<name attrs…>body</name>`, or `<name attrs…/>` when `body` writes nothing.
    pub(crate) fn element(
        &mut self,
        name: &'static str,
        attrs: &Attrs,
        body: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.out.push('<');
        self.out.push_str(name);
        for (attribute, value) in attrs.iter() {
            self.out.push(' ');
            self.out.push_str(attribute);
            self.out.push_str("=\"");
            escape_into(
                &mut self.out,
                value,
                Place {
                    element: name,
                    attribute: Some(attribute),
                },
            )?;
            self.out.push('"');
        }
        self.out.push('>');
        let body_start = self.out.len();
        body(self)?;
        if self.out.len() == body_start {
            self.out.pop();
            self.out.push_str("/>");
        } else {
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push('>');
        }
        Ok(())
    }

    /// An element whose only content is `text`.
    pub(crate) fn leaf(
        &mut self,
        name: &'static str,
        attrs: &Attrs,
        text: &str,
    ) -> Result<(), Error> {
        self.element(name, attrs, |w| w.text(name, text))
    }

    /// Text content of the element `element` that is being written.
    pub(crate) fn text(&mut self, element: &'static str, text: &str) -> Result<(), Error> {
        escape_into(
            &mut self.out,
            text,
            Place {
                element,
                attribute: None,
            },
        )
    }

    /// Every item of `children`, in order.
    pub(crate) fn children<'a, T: WriteXml + 'a>(
        &mut self,
        children: impl IntoIterator<Item = &'a T>,
    ) -> Result<(), Error> {
        children
            .into_iter()
            .try_for_each(|child| child.write_xml(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut XmlWriter) -> Result<(), Error>) -> Result<String, Error> {
        let mut w = XmlWriter { out: String::new() };
        f(&mut w).map(|()| w.finish())
    }

    #[test]
    fn empty_elements_self_close_even_with_attributes() {
        let mut attrs = Attrs::default();
        attrs.set("length", "5".into());
        assert_eq!(
            written(|w| w.leaf("Pause", &attrs, "")).unwrap(),
            r#"<Pause length="5"/>"#
        );
        assert_eq!(
            written(|w| w.element("Hangup", &Attrs::default(), |_| Ok(()))).unwrap(),
            "<Hangup/>"
        );
    }

    #[test]
    fn attribute_values_and_text_are_escaped() {
        let mut attrs = Attrs::default();
        attrs.set("action", "/a?x=1&y=\"2\"".into());
        assert_eq!(
            written(|w| w.leaf("Redirect", &attrs, "<b>")).unwrap(),
            r#"<Redirect action="/a?x=1&amp;y=&quot;2&quot;">&lt;b&gt;</Redirect>"#
        );
    }

    #[test]
    fn an_invalid_character_names_element_and_attribute() {
        let mut attrs = Attrs::default();
        attrs.set("voice", "a\u{0}".into());
        assert_eq!(
            written(|w| w.leaf("Say", &attrs, "hi")),
            Err(Error::InvalidChar {
                ch: '\u{0}',
                place: Place {
                    element: "Say",
                    attribute: Some("voice")
                }
            })
        );
    }
}

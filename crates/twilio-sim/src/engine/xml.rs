//! A minimal XML element tree built with quick-xml. The simulator parses TwiML independently of the
//! `twiml` builder crate on purpose: a shared parser would share its bugs.

use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

/// One XML element with its attributes (in document order) and children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) children: Vec<Node>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The element's own text (children's text concatenated), trimmed.
    pub(crate) fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            if let Node::Text(t) = c {
                s.push_str(t);
            }
        }
        s.trim().to_owned()
    }

    pub(crate) fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }
}

/// Parses a whole document into its root element. Any well-formedness problem is an error message.
pub(crate) fn parse(xml: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => stack.push(open(&start)?),
            Event::Empty(start) => {
                let el = open(&start)?;
                close(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("closing tag without an opening one")?;
                close(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.xml10_content();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| format!("unknown entity &{name};"))?
                            .to_owned()
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(format!(
            "unclosed element <{}>",
            stack.last().map(|e| e.name.as_str()).unwrap_or("")
        ));
    }
    root.ok_or_else(|| "document has no root element".to_owned())
}

fn open(start: &BytesStart<'_>) -> Result<Element, String> {
    let name = start.name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| format!("bad attribute on <{name}>: {e}"))?;
        let key = a.key.as_ref().to_owned();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("bad attribute {key}: {e}"))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
    })
}

fn close(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(Node::Element(el)),
        None if root.is_none() => *root = Some(el),
        None => return Err("more than one root element".to_owned()),
    }
    Ok(())
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(text);
            } else {
                parent.children.push(Node::Text(text.to_owned()));
            }
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entities_and_attributes() {
        let root = parse(r#"<?xml version="1.0"?><Response><Say voice="a&amp;b">Tom &amp; &#74;erry &lt;3</Say><Hangup/></Response>"#)
            .unwrap();
        assert_eq!(root.name, "Response");
        let kids: Vec<_> = root.elements().collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0].attr("voice"), Some("a&b"));
        assert_eq!(kids[0].text(), "Tom & Jerry <3");
        assert_eq!(kids[1].name, "Hangup");
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "<Response><Say>hi</Response>",
            "<Response>",
            "",
            "<a/><b/>",
            "<Response>&nope;</Response>",
            "junk",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}

use quick_xml::{
    XmlVersion,
    escape::resolve_predefined_entity,
    events::{BytesRef, BytesStart, Event},
    reader::Reader,
};

use super::{Element, Node};
use crate::{Error, escape::is_xml10_char};

/// Parses a whole document and returns its root element.
///
/// The declaration, comments, processing instructions and the doctype are skipped. Text is
/// unescaped and normalised as the XML spec requires, so what comes back is what Twilio reads.
///
/// # Errors
///
/// [`Error::Malformed`] when the input is not one well-formed element: mismatched or unclosed
/// tags, duplicate attributes, an unknown entity, a character reference to a character XML 1.0
/// forbids, text outside the root, or no root at all.
pub fn parse(xml: &str) -> Result<Element, Error> {
    let mut reader = Reader::from_str(xml);
    let mut version = XmlVersion::Implicit1_0;
    let mut open: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|err| Error::Malformed {
            position: reader.error_position(),
            reason: err.to_string(),
        })?;
        let here = reader.buffer_position();
        let malformed = |reason: String| Error::Malformed {
            position: here,
            reason,
        };
        match event {
            Event::Decl(decl) => {
                version = decl
                    .xml_version()
                    .map_err(|err| malformed(err.to_string()))?;
            }
            Event::Start(start) => open.push(element(&start, version).map_err(malformed)?),
            Event::Empty(start) => {
                let element = element(&start, version).map_err(malformed)?;
                close(&mut open, &mut root, element).map_err(malformed)?;
            }
            Event::End(_) => {
                // The reader has already checked that the end tag matches the open element.
                let element = open
                    .pop()
                    .ok_or_else(|| malformed("unexpected end tag".into()))?;
                close(&mut open, &mut root, element).map_err(malformed)?;
            }
            Event::Text(text) => {
                push_text(&mut open, &text.xml_content(version)).map_err(malformed)?
            }
            Event::CData(cdata) => {
                push_text(&mut open, &cdata.xml_content(version)).map_err(malformed)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = resolve(&reference).map_err(malformed)?;
                push_text(&mut open, &resolved).map_err(malformed)?;
            }
            Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(unclosed) = open.last() {
        return Err(Error::Malformed {
            position: reader.buffer_position(),
            reason: format!("<{}> is never closed", unclosed.name),
        });
    }
    root.ok_or_else(|| Error::Malformed {
        position: reader.buffer_position(),
        reason: "no root element".into(),
    })
}

fn element(start: &BytesStart<'_>, version: XmlVersion) -> Result<Element, String> {
    let name = start.name().0.to_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|err| err.to_string())?;
        let value = attribute
            .normalized_value(version)
            .map_err(|err| err.to_string())?;
        attributes.push((attribute.key.0.to_owned(), value.into_owned()));
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
    })
}

/// Attaches a finished element to its parent, or makes it the root.
fn close(open: &mut [Element], root: &mut Option<Element>, element: Element) -> Result<(), String> {
    match open.last_mut() {
        Some(parent) => parent.children.push(Node::Element(element)),
        None if root.is_some() => return Err(format!("second root element <{}>", element.name)),
        None => *root = Some(element),
    }
    Ok(())
}

fn push_text(open: &mut [Element], text: &str) -> Result<(), String> {
    let Some(parent) = open.last_mut() else {
        return if text.chars().all(is_xml_space) {
            Ok(())
        } else {
            Err("text outside the root element".into())
        };
    };
    match parent.children.last_mut() {
        Some(Node::Text(existing)) => existing.push_str(text),
        _ => parent.children.push(Node::Text(text.to_owned())),
    }
    Ok(())
}

fn resolve(reference: &BytesRef<'_>) -> Result<String, String> {
    if let Some(ch) = reference
        .resolve_char_ref()
        .map_err(|err| err.to_string())?
    {
        return if is_xml10_char(ch) {
            Ok(ch.to_string())
        } else {
            Err(format!(
                "character reference to U+{:04X}, which XML 1.0 forbids",
                u32::from(ch)
            ))
        };
    }
    let name: &str = reference;
    resolve_predefined_entity(name)
        .map(str::to_owned)
        .ok_or_else(|| format!("unknown entity &{name};"))
}

pub(super) fn is_xml_space(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn say_text(xml: &str) -> String {
        parse(xml).unwrap().elements().next().unwrap().text()
    }

    #[test]
    fn reads_attributes_text_and_nesting() {
        let root = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Gather numDigits="1" input="dtmf"><Say>Hi</Say></Gather><Hangup/></Response>"#,
        )
        .unwrap();
        assert_eq!(root.name, "Response");
        let children: Vec<_> = root.elements().map(|e| e.name.as_str()).collect();
        assert_eq!(children, ["Gather", "Hangup"]);
        let gather = root.elements().next().unwrap();
        assert_eq!(
            gather.attributes,
            [
                ("numDigits".into(), "1".into()),
                ("input".into(), "dtmf".into())
            ]
        );
        assert_eq!(gather.elements().next().unwrap().text(), "Hi");
    }

    #[test]
    fn entities_char_refs_and_cdata_merge_into_one_text() {
        assert_eq!(
            say_text("<R><Say>a&amp;b&#60;&#x3E;<![CDATA[<c>]]>&apos;</Say></R>"),
            "a&b<><c>'"
        );
        let root = parse("<R><Say>a&amp;b<![CDATA[c]]></Say></R>").unwrap();
        assert_eq!(
            root.elements().next().unwrap().children,
            [Node::Text("a&bc".into())]
        );
    }

    #[test]
    fn normalises_like_a_conforming_parser() {
        assert_eq!(say_text("<R><Say>a\r\nb\rc</Say></R>"), "a\nb\nc");
        assert_eq!(say_text("<R><Say>a&#xD;b</Say></R>"), "a\rb");
        let root = parse("<R a=\"x\ty\nz\" b=\"x&#x9;y&#xA;z\"/>").unwrap();
        assert_eq!(root.attribute("a"), Some("x y z"));
        assert_eq!(root.attribute("b"), Some("x\ty\nz"));
    }

    #[test]
    fn skips_prolog_comments_and_instructions() {
        let root =
            parse("<?xml version=\"1.0\"?><!-- c --><?pi x?>\n<R><!-- in --><Hangup/></R>\n")
                .unwrap();
        assert_eq!(root.children.len(), 1);
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        for bad in [
            "",
            "just text",
            "<R>",
            "<R></S>",
            "<R/><S/>",
            "<R a=\"1\" a=\"2\"/>",
            "<R>&nbsp;</R>",
            "<R>&#1;</R>",
            "<R>a & b</R>",
            "<R/>trailing",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::Malformed { .. })),
                "accepted {bad:?}"
            );
        }
    }
}

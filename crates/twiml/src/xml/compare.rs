use super::{Element, Node, parse, parse::is_xml_space};
use crate::Error;

/// Whether two documents are the same tree: same elements in the same order, the same attributes
/// in any order, and the same text.
///
/// Whitespace-only text inside an element that has child elements is indentation and is ignored,
/// so a pretty-printed document equals its one-line form; text of leaf elements is compared
/// exactly. The declaration, comments and processing instructions do not count.
///
/// # Errors
///
/// [`Error::Malformed`] when either document is not well-formed.
pub fn equivalent(a: &str, b: &str) -> Result<bool, Error> {
    Ok(canonical(parse(a)?) == canonical(parse(b)?))
}

fn canonical(mut element: Element) -> Element {
    element.attributes.sort();
    let has_child_elements = element
        .children
        .iter()
        .any(|child| matches!(child, Node::Element(_)));
    element.children = element
        .children
        .into_iter()
        .filter_map(|child| match child {
            Node::Text(text) if has_child_elements && text.chars().all(is_xml_space) => None,
            Node::Element(child) => Some(Node::Element(canonical(child))),
            text @ Node::Text(_) => Some(text),
        })
        .collect();
    element
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(a: &str, b: &str) -> bool {
        equivalent(a, b).unwrap()
    }

    #[test]
    fn attribute_order_quoting_escaping_and_prolog_do_not_matter() {
        assert!(eq(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="POST" a="x&amp;y">u</Redirect></Response>"#,
            r#"<Response><Redirect a='x&#38;y' method="POST">u</Redirect></Response>"#,
        ));
    }

    #[test]
    fn indentation_between_elements_does_not_matter() {
        assert!(eq(
            "<Response><Dial><Conference>room</Conference></Dial></Response>",
            "<Response>\n  <Dial>\n    <Conference>room</Conference>\n  </Dial>\n</Response>\n",
        ));
    }

    #[test]
    fn self_closed_equals_empty_pair() {
        assert!(eq(
            "<Response><Hangup/></Response>",
            "<Response><Hangup></Hangup></Response>"
        ));
    }

    #[test]
    fn differences_are_seen() {
        let base =
            r#"<Response><Dial><Conference beep="false">room</Conference></Dial></Response>"#;
        for other in [
            r#"<Response><Dial><Conference beep="true">room</Conference></Dial></Response>"#,
            r#"<Response><Dial><Conference>room</Conference></Dial></Response>"#,
            r#"<Response><Dial><Conference beep="false" muted="true">room</Conference></Dial></Response>"#,
            r#"<Response><Dial><Conference beep="false">room2</Conference></Dial></Response>"#,
            r#"<Response><Dial><Conference beep="false"> room</Conference></Dial></Response>"#,
            r#"<Response><Dial><Number beep="false">room</Number></Dial></Response>"#,
            r#"<Response><Dial><Conference beep="false">room</Conference></Dial><Hangup/></Response>"#,
            r#"<Other><Dial><Conference beep="false">room</Conference></Dial></Other>"#,
        ] {
            assert!(!eq(base, other), "{other} should differ");
        }
    }

    #[test]
    fn element_order_matters() {
        assert!(!eq(
            "<R><Say>a</Say><Hangup/></R>",
            "<R><Hangup/><Say>a</Say></R>"
        ));
    }

    #[test]
    fn malformed_input_is_an_error_not_false() {
        assert!(matches!(
            equivalent("<R/>", "<R>"),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            equivalent("<R", "<R/>"),
            Err(Error::Malformed { .. })
        ));
    }
}

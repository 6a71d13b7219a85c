//! Escaping of text and attribute values, and the XML 1.0 character check.

use crate::error::{Error, Place};

/// Whether `ch` may appear in an XML 1.0 document (the `Char` production of the spec).
pub(crate) fn is_xml10_char(ch: char) -> bool {
    matches!(ch,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Appends `value` to `out` escaped for the given place.
///
/// All five predefined entities are escaped in both text and attributes. `\r` is written as a
/// character reference everywhere because parsers turn a literal one into `\n`; `\t` and `\n` are
/// written as references inside attributes because attribute-value normalisation turns literal
/// ones into spaces.
pub(crate) fn escape_into(out: &mut String, value: &str, place: Place) -> Result<(), Error> {
    let in_attribute = place.attribute.is_some();
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\t' if in_attribute => out.push_str("&#x9;"),
            '\n' if in_attribute => out.push_str("&#xA;"),
            ch if is_xml10_char(ch) => out.push(ch),
            ch => return Err(Error::InvalidChar { ch, place }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: Place = Place {
        element: "Say",
        attribute: None,
    };
    const ATTR: Place = Place {
        element: "Say",
        attribute: Some("voice"),
    };

    fn escaped(value: &str, place: Place) -> Result<String, Error> {
        let mut out = String::new();
        escape_into(&mut out, value, place).map(|()| out)
    }

    #[test]
    fn escapes_the_five_predefined_entities_in_text_and_attributes() {
        let expected = "a&amp;b&lt;c&gt;&quot;d&apos;";
        assert_eq!(escaped("a&b<c>\"d'", TEXT).unwrap(), expected);
        assert_eq!(escaped("a&b<c>\"d'", ATTR).unwrap(), expected);
    }

    #[test]
    fn whitespace_survives_normalisation() {
        assert_eq!(escaped("a\r\n\tb", TEXT).unwrap(), "a&#xD;\n\tb");
        assert_eq!(escaped("a\r\n\tb", ATTR).unwrap(), "a&#xD;&#xA;&#x9;b");
    }

    #[test]
    fn non_ascii_is_written_as_is() {
        assert_eq!(escaped("nécessaire 😀", TEXT).unwrap(), "nécessaire 😀");
    }

    #[test]
    fn characters_outside_xml10_are_refused_with_their_place() {
        for ch in ['\0', '\u{1}', '\u{B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}'] {
            assert_eq!(
                escaped(&format!("x{ch}"), ATTR),
                Err(Error::InvalidChar { ch, place: ATTR })
            );
        }
    }

    #[test]
    fn xml10_char_boundaries() {
        assert!(is_xml10_char('\u{20}'));
        assert!(is_xml10_char('\u{D7FF}'));
        assert!(is_xml10_char('\u{E000}'));
        assert!(is_xml10_char('\u{FFFD}'));
        assert!(is_xml10_char('\u{10000}'));
        assert!(is_xml10_char('\u{10FFFF}'));
        assert!(!is_xml10_char('\u{1F}'));
        assert!(!is_xml10_char('\u{FFFE}'));
    }
}

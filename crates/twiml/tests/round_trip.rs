//! Any string set on a verb reads back unchanged through an XML parser, or is refused.

use proptest::prelude::*;
use twiml::{
    Conference, Dial, Error, Gather, Response, Say,
    xml::{equivalent, parse},
};

/// The XML 1.0 `Char` production, restated here so the test does not trust the crate's own copy.
fn allowed_in_xml(ch: char) -> bool {
    matches!(u32::from(ch), 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// Strings XML 1.0 can carry, weighted towards the characters escaping and normalisation touch.
fn xml_strings() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        '&', '<', '>', '"', '\'', ';', '#', '\r', '\n', '\t', ' ', ']', '\u{85}', '\u{2028}', 'é',
        '😀', '\u{FFFD}',
    ]);
    let any_allowed = any::<char>().prop_filter("XML 1.0 character", |ch| allowed_in_xml(*ch));
    prop::collection::vec(prop_oneof![3 => any_allowed, 2 => tricky], 0..48)
        .prop_map(String::from_iter)
}

/// A character no XML 1.0 document can hold.
fn forbidden_char() -> impl Strategy<Value = char> {
    prop_oneof![
        (0u32..0x20).prop_filter("not tab, LF or CR", |c| !matches!(c, 0x9 | 0xA | 0xD)),
        Just(0xFFFE),
        Just(0xFFFF),
    ]
    .prop_map(|code| char::from_u32(code).unwrap())
}

/// One document carrying `s` as element text (Say, Conference name) and as attribute values.
fn document(s: &str) -> Response {
    Response::new()
        .say(Say::new(s).voice(s))
        .gather(Gather::new().action(s).say(s))
        .dial(Dial::new().conference(Conference::new(s).status_callback(s)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_xml_string_round_trips_unchanged(s in xml_strings()) {
        let xml = document(&s).to_xml().unwrap();
        let root = parse(&xml).unwrap();
        let verbs: Vec<_> = root.elements().collect();
        let say = verbs[0];
        prop_assert_eq!(say.text(), s.as_str());
        prop_assert_eq!(say.attribute("voice"), Some(s.as_str()));
        let gather = verbs[1];
        prop_assert_eq!(gather.attribute("action"), Some(s.as_str()));
        prop_assert_eq!(gather.elements().next().unwrap().text(), s.as_str());
        let conference = verbs[2].elements().next().unwrap();
        prop_assert_eq!(conference.text(), s.as_str());
        prop_assert_eq!(conference.attribute("statusCallback"), Some(s.as_str()));
    }

    #[test]
    fn a_string_xml_cannot_carry_is_refused(
        s in xml_strings(),
        bad in forbidden_char(),
        at in any::<prop::sample::Index>(),
    ) {
        let mut chars: Vec<char> = s.chars().collect();
        chars.insert(at.index(chars.len() + 1), bad);
        let s = String::from_iter(chars);
        match document(&s).to_xml() {
            Err(Error::InvalidChar { ch, .. }) => prop_assert_eq!(ch, bad),
            other => prop_assert!(false, "expected InvalidChar, got {other:?}"),
        }
    }

    #[test]
    fn documents_are_equivalent_exactly_when_their_strings_are_equal(a in xml_strings(), b in xml_strings()) {
        let (x, y) = (document(&a).to_xml().unwrap(), document(&b).to_xml().unwrap());
        prop_assert!(equivalent(&x, &x).unwrap());
        prop_assert_eq!(equivalent(&x, &y).unwrap(), a == b);
    }
}

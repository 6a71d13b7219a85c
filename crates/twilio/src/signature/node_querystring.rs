//! Node's `querystring.stringify(querystring.parse(query))`: twilio-node re-encodes a webhook
//! URL's query this way as one more form Twilio may have signed, because Node's `querystring`
//! and the URL parser disagree on characters such as `'` (kept by the one, `%27` by the other).

use std::collections::HashMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What `querystring.escape` leaves as it is: letters, digits and `-_.!~*'()`.
const KEPT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// The query (without its `?`) decoded as `querystring.parse` does and encoded again as
/// `querystring.stringify` does.
pub(super) fn round_trip(query: &str) -> String {
    // parse builds a JavaScript object: one property per name, a repeated name's values
    // gathered in an array at the name's first place.
    let mut names: Vec<(String, Vec<String>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match index.get(name.as_ref()) {
            Some(&i) => names[i].1.push(value.into_owned()),
            None => {
                index.insert(name.clone().into_owned(), names.len());
                names.push((name.into_owned(), vec![value.into_owned()]));
            }
        }
    }
    // An object lists integer-like names first, in numeric order, then the others in the
    // order they were added; the sort is stable.
    names.sort_by_key(|(name, _)| array_index(name).map_or((1, 0), |i| (0, i)));
    names
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |value| format!("{}={}", escape(name), escape(value)))
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn escape(text: &str) -> String {
    utf8_percent_encode(text, KEPT).to_string()
}

/// The name as a JavaScript array index: a canonical decimal below 2^32 - 1.
fn array_index(name: &str) -> Option<u32> {
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = name.parse().ok()?;
    (n != u32::MAX && n.to_string() == name).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_comes_back_unescaped_and_a_space_as_percent_20() {
        assert_eq!(round_trip("test=param%27WithQuote"), "test=param'WithQuote");
        assert_eq!(round_trip("test=param'WithQuote"), "test=param'WithQuote");
        assert_eq!(round_trip("Body=It's+amazing"), "Body=It's%20amazing");
        assert_eq!(round_trip("a=b%20c"), "a=b%20c");
    }

    #[test]
    fn only_letters_digits_and_a_few_marks_stay_as_they_are() {
        assert_eq!(
            round_trip("k=-_.!~*'()/:@,;$+%2B&e=%C3%A9"),
            "k=-_.!~*'()%2F%3A%40%2C%3B%24%20%2B&e=%C3%A9"
        );
        // A percent sign that starts no escape is a character like any other.
        assert_eq!(round_trip("p=100%zz"), "p=100%25zz");
    }

    #[test]
    fn repeated_names_are_gathered_at_their_first_place() {
        assert_eq!(round_trip("a=1&b=2&a=3"), "a=1&a=3&b=2");
    }

    #[test]
    fn integer_like_names_come_first_in_numeric_order() {
        assert_eq!(round_trip("b=1&10=x&2=y&01=z"), "2=y&10=x&b=1&01=z");
    }

    #[test]
    fn empty_pairs_vanish_and_a_bare_name_gets_an_equals_sign() {
        assert_eq!(round_trip("a&&b=1&"), "a=&b=1");
        assert_eq!(round_trip(""), "");
    }
}

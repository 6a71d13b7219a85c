//! What `--body-file` holds, told apart as Twilio's helper libraries tell them apart: a JSON
//! body is signed through the URL's `bodySHA256` parameter, a form body (`a=1&b=2`, as a
//! request log shows it) through its parameters, like `--param`s.

/// A request body, and so what its signature covers besides the URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Hashed into the URL's `bodySHA256`: any body once the URL carries that parameter (as
    /// twilio-go decides), else one that starts like JSON.
    Hashed(Vec<u8>),
    /// The form's parameters, decoded, in the order given.
    Form(Vec<(String, String)>),
}

impl Body {
    pub fn classify(url: &str, raw: Vec<u8>) -> Self {
        if twilio::signature::body_hash_param(url).is_some() || looks_like_json(&raw) {
            Self::Hashed(raw)
        } else {
            Self::Form(form_params(&raw))
        }
    }
}

fn looks_like_json(raw: &[u8]) -> bool {
    matches!(
        raw.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

fn form_params(raw: &[u8]) -> Vec<(String, String)> {
    // A form encodes its own spaces and newlines (`+`, `%0A`), so whitespace around it is the
    // copy's (the newline `echo` or an editor adds), never the request's.
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    url::form_urlencoded::parse(&raw[start..end])
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://calls.example.com/phone-to-phone/status?call=abc";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_form_body_is_read_as_its_parameters() {
        let body = b"CallSid=CA1&CallStatus=in-progress&From=%2B14155550100&Caller=Jane+Doe\n";
        assert_eq!(
            Body::classify(URL, body.to_vec()),
            Body::Form(pairs(&[
                ("CallSid", "CA1"),
                ("CallStatus", "in-progress"),
                ("From", "+14155550100"),
                ("Caller", "Jane Doe"),
            ]))
        );
    }

    #[test]
    fn repeated_and_empty_form_values_are_kept() {
        assert_eq!(
            Body::classify(URL, b"  Digits=1&Digits=2&Empty=\r\n".to_vec()),
            Body::Form(pairs(&[("Digits", "1"), ("Digits", "2"), ("Empty", "")]))
        );
        assert_eq!(Body::classify(URL, b"\n".to_vec()), Body::Form(vec![]));
    }

    #[test]
    fn a_json_body_is_hashed_byte_for_byte() {
        let body = b" {\"property\": \"value\"}\n".to_vec();
        assert_eq!(Body::classify(URL, body.clone()), Body::Hashed(body));
        assert_eq!(
            Body::classify(URL, b"[1]".to_vec()),
            Body::Hashed(b"[1]".to_vec())
        );
    }

    #[test]
    fn a_url_with_a_body_hash_makes_any_body_hashed() {
        let url = format!(
            "{URL}&bodySHA256=44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(
            Body::classify(&url, b"a=1".to_vec()),
            Body::Hashed(b"a=1".to_vec())
        );
    }
}

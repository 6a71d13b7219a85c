//! Path templates such as `/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json`.

/// One `/`-separated piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `prefix{name}suffix`: Twilio puts `.json` after the last parameter of its 2010 API.
    Param {
        prefix: String,
        name: String,
        suffix: String,
    },
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathTemplate {
    segments: Vec<Segment>,
}

impl PathTemplate {
    /// Parses a template; at most one parameter per segment, since two could not be told apart.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let rest = raw
            .strip_prefix('/')
            .ok_or_else(|| format!("{raw:?} does not start with '/'"))?;
        let segments = rest
            .split('/')
            .map(|segment| parse_segment(raw, segment))
            .collect::<Result<_, _>>()?;
        Ok(Self { segments })
    }

    /// The template with parameter names erased, so templates differing only in names compare equal.
    pub(crate) fn shape(&self) -> String {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Literal(l) => format!("/{l}"),
                Segment::Param { prefix, suffix, .. } => format!("/{prefix}{{}}{suffix}"),
            })
            .collect()
    }

    /// How many segments are fixed text: a more literal template wins over a more general one
    /// (`/v2/Attempts/Summary` over `/v2/Attempts/{Sid}`).
    pub(crate) fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// The parameters' percent-decoded values if `path` matches, in template order.
    pub(crate) fn matches(&self, path: &str) -> Option<Vec<(String, String)>> {
        let pieces: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if pieces.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, piece) in self.segments.iter().zip(pieces) {
            match segment {
                Segment::Literal(literal) => {
                    if literal != piece {
                        return None;
                    }
                }
                Segment::Param {
                    prefix,
                    name,
                    suffix,
                } => {
                    if piece.len() <= prefix.len() + suffix.len() {
                        return None;
                    }
                    let value = piece.strip_prefix(prefix.as_str())?;
                    let value = value.strip_suffix(suffix.as_str())?;
                    params.push((name.clone(), percent_decode(value)));
                }
            }
        }
        Some(params)
    }
}

fn parse_segment(raw: &str, segment: &str) -> Result<Segment, String> {
    let Some(open) = segment.find('{') else {
        if segment.contains('}') {
            return Err(format!("{raw:?} has an unopened '}}'"));
        }
        return Ok(Segment::Literal(segment.to_owned()));
    };
    let close = segment[open..]
        .find('}')
        .map(|i| open + i)
        .ok_or_else(|| format!("{raw:?} has an unclosed '{{'"))?;
    let suffix = &segment[close + 1..];
    if suffix.contains(['{', '}']) {
        return Err(format!(
            "{raw:?} has two parameters in one segment: {segment:?}"
        ));
    }
    let name = &segment[open + 1..close];
    if name.is_empty() {
        return Err(format!("{raw:?} has an unnamed parameter"));
    }
    Ok(Segment::Param {
        prefix: segment[..open].to_owned(),
        name: name.to_owned(),
        suffix: suffix.to_owned(),
    })
}

/// Decodes `%XX` escapes; invalid escapes stay as they are, invalid UTF-8 is replaced.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn matches_parameters_with_a_suffix() {
        let t = PathTemplate::parse("/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json").unwrap();
        assert_eq!(
            t.matches("/2010-04-01/Accounts/AC1/Calls/CA2.json"),
            Some(vec![
                ("AccountSid".to_owned(), "AC1".to_owned()),
                ("Sid".to_owned(), "CA2".to_owned())
            ])
        );
        assert_eq!(t.matches("/2010-04-01/Accounts/AC1/Calls/.json"), None);
        assert_eq!(t.matches("/2010-04-01/Accounts/AC1/Calls/CA2"), None);
        assert_eq!(t.matches("/2010-04-01/Accounts/AC1/Calls.json"), None);
        assert_eq!(t.literal_count(), 3);
        assert_eq!(t.shape(), "/2010-04-01/Accounts/{}/Calls/{}.json");
    }

    #[test]
    fn parameters_are_percent_decoded() {
        let t = PathTemplate::parse("/Conferences/{Sid}/Participants.json").unwrap();
        let params = t
            .matches("/Conferences/my%20room%2F1/Participants.json")
            .unwrap();
        assert_eq!(params[0].1, "my room/1");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert!(PathTemplate::parse("no/slash").is_err());
        assert!(PathTemplate::parse("/a/{b").is_err());
        assert!(PathTemplate::parse("/a/b}").is_err());
        assert!(PathTemplate::parse("/a/{b}{c}").is_err());
        assert!(PathTemplate::parse("/a/{}").is_err());
    }

    proptest! {
        #[test]
        fn any_segment_value_is_recovered(value in "[A-Za-z0-9 _.+~-]{1,20}") {
            let t = PathTemplate::parse("/v1/Services/{ServiceSid}/Documents/{Sid}").unwrap();
            let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
            let params = t.matches(&format!("/v1/Services/IS1/Documents/{encoded}")).unwrap();
            prop_assert_eq!(&params[1].1, &value);
        }
    }
}

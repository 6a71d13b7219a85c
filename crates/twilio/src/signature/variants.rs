//! The ways of writing a webhook's URL that Twilio's helper libraries try when they check a
//! signature: Twilio signs the URL text it was configured with, and that text may differ from
//! the URL the request reached (a port written or not, characters escaped or not).
//!
//! twilio-python and twilio-go try the URL as given, without its port and with one. twilio-node
//! parses it first (`new URL`, which escapes characters such as `'` in the query) and tries
//! that without and with the port, then both again with the query re-encoded by Node's
//! `querystring` (which leaves `'` alone).

use url::Url;

use super::UrlParts;
use super::node_querystring;

/// How the URL's text was written before it was signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlForm {
    /// As given.
    AsGiven,
    /// As a URL parser (the URL Standard's, twilio-node's `new URL`) writes it again: `'`,
    /// spaces, quotes and non-ASCII characters in the query percent-encoded, the host in lower
    /// case, a default port dropped.
    Parsed,
    /// Parsed, with the query decoded and encoded again by Node's `querystring`: `'` left as
    /// it is, a space written `%20`.
    LegacyQuery,
}

/// What was done to the URL's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortForm {
    /// Left as written.
    Unchanged,
    /// Removed.
    Removed,
    /// Kept, or the scheme's default (443 or 80) added when there was none.
    Added,
}

/// One URL a helper library computes the signature over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlVariant {
    pub url: String,
    pub form: UrlForm,
    pub port: PortForm,
}

impl UrlVariant {
    /// Whether the service's own check ([`super::check`]) tries this variant too.
    pub fn accepted_by_check(&self) -> bool {
        self.form == UrlForm::AsGiven
    }

    /// How the URL was written, for a person reading which variant matched.
    pub fn describe(&self) -> String {
        let form = match self.form {
            UrlForm::AsGiven => "the URL as given",
            UrlForm::Parsed => {
                "the URL as twilio-node's URL parser writes it (' and spaces escaped)"
            }
            UrlForm::LegacyQuery => {
                "the URL with twilio-node's legacy query encoding (' kept, spaces as %20)"
            }
        };
        match self.port {
            PortForm::Unchanged => form.to_owned(),
            PortForm::Removed => format!("{form}, without the port"),
            PortForm::Added => format!("{form}, with the port"),
        }
    }
}

/// The variants of `url` written as given, only its port changed: the ones every helper library
/// tries, and the only ones [`super::check`] accepts. Parsing the URL for the others costs more
/// than the signatures themselves.
pub(super) fn as_given_variants(url: &str) -> Vec<UrlVariant> {
    let mut out = Vec::with_capacity(3);
    add(
        &mut out,
        url.to_owned(),
        UrlForm::AsGiven,
        PortForm::Unchanged,
    );
    if let Some(parts) = UrlParts::split(url) {
        add(
            &mut out,
            parts.without_port(),
            UrlForm::AsGiven,
            PortForm::Removed,
        );
        add(
            &mut out,
            parts.with_port(),
            UrlForm::AsGiven,
            PortForm::Added,
        );
    }
    out
}

/// Every variant of `url` a helper library tries, the URL as given first, without duplicates
/// (a variant written the same as an earlier one is left out).
pub fn library_url_variants(url: &str) -> Vec<UrlVariant> {
    let mut out = as_given_variants(url);
    let Ok(mut parsed) = Url::parse(url) else {
        return out;
    };
    let Some(without_port) = UrlParts::split(parsed.as_str()).map(|p| p.without_port()) else {
        return out;
    };
    let with_port = if parsed.port().is_some() {
        parsed.to_string()
    } else {
        // twilio-node adds the port by joining the parser's parts itself, and to those an
        // empty query (`?` alone) or fragment is none at all.
        if parsed.query() == Some("") {
            parsed.set_query(None);
        }
        if parsed.fragment() == Some("") {
            parsed.set_fragment(None);
        }
        UrlParts::split(parsed.as_str()).map_or_else(|| parsed.to_string(), |p| p.with_port())
    };
    let legacy_without_port = legacy_query(&without_port);
    let legacy_with_port = legacy_query(&with_port);
    add(&mut out, without_port, UrlForm::Parsed, PortForm::Removed);
    add(&mut out, with_port, UrlForm::Parsed, PortForm::Added);
    add(
        &mut out,
        legacy_without_port,
        UrlForm::LegacyQuery,
        PortForm::Removed,
    );
    add(
        &mut out,
        legacy_with_port,
        UrlForm::LegacyQuery,
        PortForm::Added,
    );
    out
}

fn add(out: &mut Vec<UrlVariant>, url: String, form: UrlForm, port: PortForm) {
    if !out.iter().any(|v| v.url == url) {
        out.push(UrlVariant { url, form, port });
    }
}

/// twilio-node's legacy form of `url`: parsed again (which drops a default port), its query
/// replaced by the `querystring` round trip, appended after whatever follows the path, as
/// Node's code does; a URL without a query is left as given.
fn legacy_query(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return url.to_owned();
    };
    let Some(query) = parsed.query().filter(|q| !q.is_empty()).map(str::to_owned) else {
        return url.to_owned();
    };
    parsed.set_query(None);
    format!("{parsed}?{}", node_querystring::round_trip(&query))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(url: &str) -> Vec<(String, UrlForm, PortForm)> {
        library_url_variants(url)
            .into_iter()
            .map(|v| (v.url, v.form, v.port))
            .collect()
    }

    #[test]
    fn a_plain_url_has_only_its_port_variants() {
        let url = "https://calls.example.com/phone-to-phone/status?call=abc&leg=agent";
        assert_eq!(
            urls(url),
            [
                (url.to_owned(), UrlForm::AsGiven, PortForm::Unchanged),
                (
                    "https://calls.example.com:443/phone-to-phone/status?call=abc&leg=agent"
                        .to_owned(),
                    UrlForm::AsGiven,
                    PortForm::Added
                ),
            ]
        );
    }

    #[test]
    fn a_quote_in_the_query_is_tried_escaped_and_unescaped() {
        assert_eq!(
            urls("https://example.com/path?test=param'WithQuote"),
            [
                (
                    "https://example.com/path?test=param'WithQuote".to_owned(),
                    UrlForm::AsGiven,
                    PortForm::Unchanged
                ),
                (
                    "https://example.com:443/path?test=param'WithQuote".to_owned(),
                    UrlForm::AsGiven,
                    PortForm::Added
                ),
                (
                    "https://example.com/path?test=param%27WithQuote".to_owned(),
                    UrlForm::Parsed,
                    PortForm::Removed
                ),
                (
                    "https://example.com:443/path?test=param%27WithQuote".to_owned(),
                    UrlForm::Parsed,
                    PortForm::Added
                ),
            ]
        );
        let escaped = urls("https://example.com/path?test=param%27WithQuote");
        assert!(escaped.contains(&(
            "https://example.com/path?test=param'WithQuote".to_owned(),
            UrlForm::LegacyQuery,
            PortForm::Removed
        )));
    }

    #[test]
    fn the_legacy_form_keeps_a_port_only_when_it_is_not_the_default() {
        // Parsing again drops :443, so the legacy form "with the port" is the one without it.
        let https = urls("https://example.com/p?a=b+c");
        assert!(https.contains(&(
            "https://example.com/p?a=b%20c".to_owned(),
            UrlForm::LegacyQuery,
            PortForm::Removed
        )));
        assert!(
            !https
                .iter()
                .any(|(_, form, port)| *form == UrlForm::LegacyQuery && *port == PortForm::Added)
        );
        let other_port = urls("https://example.com:8443/p?a=b+c");
        assert!(other_port.contains(&(
            "https://example.com:8443/p?a=b%20c".to_owned(),
            UrlForm::LegacyQuery,
            PortForm::Added
        )));
    }

    #[test]
    fn the_parsed_form_is_what_nodes_url_parser_writes() {
        // Node 20: new URL(this).toString(), its default port then removed.
        let variants =
            library_url_variants("https://Example.com:443/a b/p{x}?q=\"<>`' é#frag ment`");
        let parsed = variants
            .iter()
            .find(|v| v.form == UrlForm::Parsed && v.port == PortForm::Removed)
            .unwrap();
        assert_eq!(
            parsed.url,
            "https://example.com/a%20b/p%7Bx%7D?q=%22%3C%3E`%27%20%C3%A9#frag%20ment%60"
        );
    }

    #[test]
    fn an_empty_query_is_dropped_where_twilio_node_adds_the_port() {
        assert_eq!(
            urls("https://example.com/p?"),
            [
                (
                    "https://example.com/p?".to_owned(),
                    UrlForm::AsGiven,
                    PortForm::Unchanged
                ),
                (
                    "https://example.com:443/p?".to_owned(),
                    UrlForm::AsGiven,
                    PortForm::Added
                ),
                (
                    "https://example.com:443/p".to_owned(),
                    UrlForm::Parsed,
                    PortForm::Added
                ),
            ]
        );
    }

    #[test]
    fn a_url_that_does_not_parse_is_tried_as_given() {
        assert_eq!(
            urls("not a url"),
            [(
                "not a url".to_owned(),
                UrlForm::AsGiven,
                PortForm::Unchanged
            )]
        );
    }

    #[test]
    fn descriptions_name_the_form_and_the_port() {
        let variant = UrlVariant {
            url: String::new(),
            form: UrlForm::LegacyQuery,
            port: PortForm::Removed,
        };
        assert_eq!(
            variant.describe(),
            "the URL with twilio-node's legacy query encoding (' kept, spaces as %20), without the port"
        );
        assert!(!variant.accepted_by_check());
    }
}

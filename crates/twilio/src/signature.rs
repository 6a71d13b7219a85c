//! Webhook request signatures (`X-Twilio-Signature`), computed and checked exactly as Twilio does.
//!
//! Form bodies: HMAC-SHA1 (key = auth token) over the full URL followed by every parameter's
//! name and value, sorted by name (values of a repeated name sorted too), base64-encoded.
//!
//! JSON bodies: Twilio adds a `bodySHA256` query parameter (hex SHA-256 of the raw body) to the
//! URL and signs that URL alone, with no parameters.
//!
//! Checking follows Twilio's helper libraries: the URL is tried both without its port and with
//! one (the scheme's default added when absent), because Twilio's own signing is inconsistent
//! about ports. [`find_signed_url`] also tries the forms twilio-node writes the URL in (see
//! [`library_url_variants`]) and says which one the signature is of, for debugging.

mod node_querystring;
mod variants;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use variants::{PortForm, UrlForm, UrlVariant, library_url_variants};

/// The HTTP header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Twilio-Signature";

/// The query parameter that carries the body hash of a JSON request.
pub const BODY_HASH_PARAM: &str = "bodySHA256";

/// Why a signature check failed; the messages are meant for a person debugging a 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No URL variant and parameter set produced the given signature.
    #[error(
        "signature mismatch: none of the URLs tried ({}) with these parameters gives this signature; \
         check the auth token, that the URL is exactly the one Twilio requested (scheme, host, \
         path and query) and that every POST parameter is included",
        tried.join(", ")
    )]
    Mismatch {
        /// The URL variants that were tried.
        tried: Vec<String>,
    },
    /// A JSON body was given but the URL carries no `bodySHA256` query parameter.
    #[error(
        "missing body hash: the URL has no bodySHA256 query parameter, so a JSON body cannot be checked"
    )]
    MissingBodyHash,
    /// The signature matched the URL, but the body is not the one the hash was taken of.
    #[error(
        "body hash mismatch: the body's SHA-256 is {actual}, the URL's bodySHA256 says {expected}"
    )]
    BodyHashMismatch {
        /// The hash in the URL.
        expected: String,
        /// The hash of the body received.
        actual: String,
    },
}

/// The signature Twilio sends for a request to `url` with form parameters `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    sorted.sort_unstable();
    sign_sorted(auth_token, url, &sorted)
}

fn sign_sorted(auth_token: &str, url: &str, sorted: &[(&str, &str)]) -> String {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` is Twilio's for a form-encoded request to `url` with `params`.
pub fn validate(auth_token: &str, signature: &str, url: &str, params: &[(String, String)]) -> bool {
    check(auth_token, signature, url, params).is_ok()
}

/// Like [`validate`], but says why a request is refused.
pub fn check(
    auth_token: &str,
    signature: &str,
    url: &str,
    params: &[(String, String)],
) -> Result<(), SignatureError> {
    let sets = ParamSets::new(params);
    let tried = url_variants(url);
    let mut ok = subtle::Choice::from(0);
    for candidate in &tried {
        for set in sets.all() {
            ok |= ct_eq(&sign_sorted(auth_token, candidate, set), signature);
        }
    }
    if bool::from(ok) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch { tried })
    }
}

/// The parameters sorted as signed: every value of a repeated name, as Twilio documents the
/// algorithm, and, when a value repeats, each distinct one once, as twilio-node and
/// twilio-python sign them.
struct ParamSets<'a> {
    every: Vec<(&'a str, &'a str)>,
    distinct: Option<Vec<(&'a str, &'a str)>>,
}

impl<'a> ParamSets<'a> {
    fn new(params: &'a [(String, String)]) -> Self {
        let mut every: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        every.sort_unstable();
        let mut distinct = every.clone();
        distinct.dedup();
        let distinct = (distinct.len() != every.len()).then_some(distinct);
        Self { every, distinct }
    }

    fn all(&self) -> impl Iterator<Item = &[(&'a str, &'a str)]> {
        std::iter::once(self.every.as_slice()).chain(self.distinct.as_deref())
    }
}

/// What a signature was found to be made over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedUrl {
    /// The form of the URL that gives the signature.
    pub variant: UrlVariant,
    /// A repeated value was signed once, as twilio-node signs it, rather than each time.
    pub distinct_values: bool,
}

/// Which of the URL variants Twilio's helper libraries try ([`library_url_variants`]) gives
/// `signature` with `params`. For debugging: it stops at the first match, so it takes longer
/// the later the match comes; requests are checked with [`check`].
pub fn find_signed_url(
    auth_token: &str,
    signature: &str,
    url: &str,
    params: &[(String, String)],
) -> Result<SignedUrl, SignatureError> {
    let sets = ParamSets::new(params);
    let variants = library_url_variants(url);
    for variant in &variants {
        for (i, set) in sets.all().enumerate() {
            if bool::from(ct_eq(
                &sign_sorted(auth_token, &variant.url, set),
                signature,
            )) {
                return Ok(SignedUrl {
                    variant: variant.clone(),
                    distinct_values: i > 0,
                });
            }
        }
    }
    Err(SignatureError::Mismatch {
        tried: variants.into_iter().map(|v| v.url).collect(),
    })
}

/// [`find_signed_url`] for a JSON request: the URL variant that gives `signature` alone, and
/// then the body checked against the URL's `bodySHA256`.
pub fn find_signed_url_with_body(
    auth_token: &str,
    signature: &str,
    url: &str,
    body: &[u8],
) -> Result<SignedUrl, SignatureError> {
    let expected = body_hash_param(url).ok_or(SignatureError::MissingBodyHash)?;
    let signed = find_signed_url(auth_token, signature, url, &[])?;
    body_matches(&expected, body)?;
    Ok(signed)
}

/// Whether `signature` is Twilio's for a JSON request to `url` (which carries `bodySHA256`)
/// with raw body `body`.
pub fn validate_body(auth_token: &str, signature: &str, url: &str, body: &[u8]) -> bool {
    check_body(auth_token, signature, url, body).is_ok()
}

/// Like [`validate_body`], but says why a request is refused.
pub fn check_body(
    auth_token: &str,
    signature: &str,
    url: &str,
    body: &[u8],
) -> Result<(), SignatureError> {
    let expected = body_hash_param(url).ok_or(SignatureError::MissingBodyHash)?;
    check(auth_token, signature, url, &[])?;
    body_matches(&expected, body)
}

fn body_matches(expected: &str, body: &[u8]) -> Result<(), SignatureError> {
    let actual = body_sha256_hex(body);
    if bool::from(ct_eq(&actual, &expected.to_ascii_lowercase())) {
        Ok(())
    } else {
        Err(SignatureError::BodyHashMismatch {
            expected: expected.to_owned(),
            actual,
        })
    }
}

/// Signs a JSON request as Twilio does: returns the URL with `bodySHA256` appended and the
/// signature of that URL.
pub fn sign_body(auth_token: &str, url_without_hash: &str, body: &[u8]) -> (String, String) {
    let (base, fragment) = match url_without_hash.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url_without_hash, None),
    };
    let separator = match base.split_once('?') {
        None => "?",
        Some((_, "")) => "",
        Some(_) if base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut url = format!(
        "{base}{separator}{BODY_HASH_PARAM}={}",
        body_sha256_hex(body)
    );
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    let signature = sign(auth_token, &url, &[]);
    (url, signature)
}

/// Lowercase hex SHA-256 of `body`, as Twilio puts it in `bodySHA256`.
pub fn body_sha256_hex(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn ct_eq(a: &str, b: &str) -> subtle::Choice {
    // Lengths of base64 SHA-1 or hex SHA-256 are public; only the content must not leak.
    if a.len() != b.len() {
        return subtle::Choice::from(0);
    }
    a.as_bytes().ct_eq(b.as_bytes())
}

/// The `bodySHA256` query parameter of `url`, which a JSON request's URL carries.
pub fn body_hash_param(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == BODY_HASH_PARAM)
        .map(|(_, v)| v.into_owned())
}

/// The URL as given, without its port and with one, in that order and without duplicates.
fn url_variants(url: &str) -> Vec<String> {
    variants::as_given_variants(url)
        .into_iter()
        .map(|v| v.url)
        .collect()
}

/// A URL cut around its port, leaving every other character as given: Twilio signs the URL
/// text, so re-serialising it through a parser would change what is hashed.
struct UrlParts<'a> {
    scheme: &'a str,
    /// Everything from the scheme's end up to and including the host.
    head: &'a str,
    port: Option<&'a str>,
    /// Path, query and fragment.
    tail: &'a str,
}

impl<'a> UrlParts<'a> {
    fn split(url: &'a str) -> Option<Self> {
        let scheme_end = url.find("://")?;
        let scheme = &url[..scheme_end];
        let authority_start = scheme_end + 3;
        let authority_len = url[authority_start..]
            .find(['/', '?', '#'])
            .unwrap_or(url.len() - authority_start);
        let authority_end = authority_start + authority_len;
        let authority = &url[authority_start..authority_end];
        let host_start = authority.rfind('@').map_or(0, |i| i + 1);
        let host_and_port = &authority[host_start..];
        // An IPv6 literal has colons of its own; the port comes after its closing bracket.
        let search_from = host_and_port.rfind(']').unwrap_or(0);
        let port_colon = host_and_port[search_from..]
            .rfind(':')
            .map(|i| search_from + i)
            .filter(|&i| {
                let digits = &host_and_port[i + 1..];
                digits.chars().all(|c| c.is_ascii_digit())
            });
        let (head_end, port) = match port_colon {
            Some(i) => (
                authority_start + host_start + i,
                Some(&host_and_port[i + 1..]),
            ),
            None => (authority_end, None),
        };
        Some(Self {
            scheme,
            head: &url[..head_end],
            port,
            tail: &url[authority_end..],
        })
    }

    fn without_port(&self) -> String {
        format!("{}{}", self.head, self.tail)
    }

    fn with_port(&self) -> String {
        let port = match self.port {
            Some(port) => port,
            None if self.scheme.eq_ignore_ascii_case("https") => "443",
            None => "80",
        };
        format!("{}:{port}{}", self.head, self.tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // The vectors below are the published ones of twilio-python (tests/unit/test_request_validator.py)
    // and twilio-node (spec/validation.spec.js).
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const BODY: &str = r#"{"property": "value", "boolean": true}"#;
    const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ])
    }

    #[test]
    fn computes_the_published_signature() {
        assert_eq!(sign(TOKEN, URL, &params()), EXPECTED);
        assert!(validate(TOKEN, EXPECTED, URL, &params()));
    }

    #[test]
    fn repeated_keys_are_sorted_by_value() {
        let expected = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert_eq!(sign(TOKEN, URL, &params), expected);
        assert!(validate(TOKEN, expected, URL, &params));
    }

    #[test]
    fn a_repeated_identical_value_validates_as_twilio_node_does() {
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert!(validate(
            TOKEN,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU=",
            URL,
            &params
        ));
    }

    #[test]
    fn array_parameters_in_any_order() {
        let expected = "83O6e2vORAoJHUNzJjDWN1jz+BA=";
        for order in [
            ["+1325xxxxxxx", "+1415xxxxxxx"],
            ["+1415xxxxxxx", "+1325xxxxxxx"],
        ] {
            let params = pairs(&[
                ("MessagingBinding.Address", order[0]),
                ("MessagingBinding.Address", order[1]),
            ]);
            assert!(validate(TOKEN, expected, URL, &params));
        }
    }

    #[test]
    fn removes_a_port_on_https() {
        let url = URL.replace(".com", ".com:1234");
        assert!(validate(TOKEN, EXPECTED, &url, &params()));
    }

    #[test]
    fn keeps_a_non_default_port_on_http() {
        let url = URL.replace(".com", ".com:1234").replace("https", "http");
        assert!(validate(
            TOKEN,
            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            &url,
            &params()
        ));
    }

    #[test]
    fn adds_port_443_on_https() {
        assert!(validate(
            TOKEN,
            "kvajT1Ptam85bY51eRf/AJRuM3w=",
            URL,
            &params()
        ));
    }

    #[test]
    fn adds_port_80_on_http() {
        let url = URL.replace("https", "http");
        assert!(validate(
            TOKEN,
            "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            &url,
            &params()
        ));
    }

    #[test]
    fn urls_with_credentials() {
        let url = "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2";
        assert!(validate(
            TOKEN,
            "CukzLTc1tT5dXEDIHm/tKBanW10=",
            url,
            &params()
        ));
        assert!(validate(
            TOKEN,
            "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=",
            url,
            &params()
        ));
        let user_only = "https://user@mycompany.com/myapp.php?foo=1&bar=2";
        assert!(validate(
            TOKEN,
            "2YRLlVAflCqxaNicjMpJcSTgzSs=",
            user_only,
            &params()
        ));
    }

    #[test]
    fn urls_with_special_characters_are_signed_as_given() {
        let url = format!("{URL}&Body=It's+amazing");
        assert!(validate(
            TOKEN,
            "dsq4Ehbj6cs+KdTkpF5sSSplOWw=",
            &url,
            &params()
        ));
    }

    #[test]
    fn wrong_signature_is_a_mismatch_naming_the_urls_tried() {
        let err = check(TOKEN, "WRONG_SIGNATURE", URL, &params()).unwrap_err();
        let SignatureError::Mismatch { tried } = &err else {
            panic!("expected a mismatch, got {err:?}");
        };
        assert_eq!(
            tried,
            &[
                URL.to_owned(),
                "https://mycompany.com:443/myapp.php?foo=1&bar=2".to_owned()
            ]
        );
        assert!(err.to_string().contains("signature mismatch"));
        assert!(!validate(TOKEN, "", URL, &params()));
    }

    #[test]
    fn the_body_hash_is_the_published_one() {
        assert_eq!(body_sha256_hex(BODY.as_bytes()), BODY_HASH);
    }

    #[test]
    fn validates_a_json_body() {
        let url = format!("{URL}&bodySHA256={BODY_HASH}");
        assert!(validate_body(
            TOKEN,
            "a9nBmqA0ju/hNViExpshrM61xv4=",
            &url,
            BODY.as_bytes()
        ));
        // The python library's form of the same check.
        assert_eq!(sign(TOKEN, &url, &[]), "a9nBmqA0ju/hNViExpshrM61xv4=");
    }

    #[test]
    fn validates_an_empty_json_body() {
        let hash = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
        let url = format!("{URL}&bodySHA256={hash}");
        assert!(validate_body(
            TOKEN,
            "Ldidvp12m26NI7eqEvxnEpkd9Hc=",
            &url,
            b"{}"
        ));
    }

    #[test]
    fn validates_a_url_whose_only_parameter_is_the_hash() {
        let url = format!("https://mycompany.com/myapp.php?bodySHA256={BODY_HASH}");
        assert!(validate_body(
            TOKEN,
            "y77kIzt2vzLz71DgmJGsen2scGs=",
            &url,
            BODY.as_bytes()
        ));
    }

    #[test]
    fn a_body_check_without_hash_says_so() {
        assert_eq!(
            check_body(TOKEN, EXPECTED, URL, BODY.as_bytes()),
            Err(SignatureError::MissingBodyHash)
        );
    }

    #[test]
    fn a_tampered_body_is_a_body_hash_mismatch() {
        let url = format!("{URL}&bodySHA256={BODY_HASH}");
        let err = check_body(TOKEN, "a9nBmqA0ju/hNViExpshrM61xv4=", &url, b"{}").unwrap_err();
        assert_eq!(
            err,
            SignatureError::BodyHashMismatch {
                expected: BODY_HASH.to_owned(),
                actual: body_sha256_hex(b"{}"),
            }
        );
    }

    #[test]
    fn sign_body_reproduces_the_published_vector() {
        let (url, signature) = sign_body(TOKEN, URL, BODY.as_bytes());
        assert_eq!(url, format!("{URL}&bodySHA256={BODY_HASH}"));
        assert_eq!(signature, "a9nBmqA0ju/hNViExpshrM61xv4=");
        let (url, signature) = sign_body(TOKEN, "https://mycompany.com/myapp.php", BODY.as_bytes());
        assert_eq!(
            url,
            format!("https://mycompany.com/myapp.php?bodySHA256={BODY_HASH}")
        );
        assert_eq!(signature, "y77kIzt2vzLz71DgmJGsen2scGs=");
    }

    #[test]
    fn ipv6_hosts_keep_their_colons() {
        let parts = UrlParts::split("http://[::1]:8080/x?y=1").unwrap();
        assert_eq!(parts.without_port(), "http://[::1]/x?y=1");
        assert_eq!(parts.with_port(), "http://[::1]:8080/x?y=1");
        let parts = UrlParts::split("https://[::1]/x").unwrap();
        assert_eq!(parts.with_port(), "https://[::1]:443/x");
    }

    #[test]
    fn a_url_without_path_gets_its_port_at_the_end() {
        let parts = UrlParts::split("https://example.com").unwrap();
        assert_eq!(parts.with_port(), "https://example.com:443");
        assert_eq!(parts.without_port(), "https://example.com");
    }

    /// Signatures computed with Twilio's documented algorithm over the URL Twilio signed, each
    /// checked against a request URL written another way, as twilio-node's validateRequest
    /// accepts it.
    fn signed_another_way() -> [(&'static str, &'static str, &'static str, bool, &'static str); 5] {
        [
            (
                "s3cr3t",
                "https://example.com/path?test=param%27WithQuote",
                "GfI7onHX/KQ2k1oVS3cUTVk4IEw=",
                false,
                "the URL with twilio-node's legacy query encoding (' kept, spaces as %20), without the port",
            ),
            (
                "s3cr3t",
                "https://example.com/path?test=param'WithQuote",
                "HkuXLxVQ7zHv9LmGpzlLuGaxhJY=",
                false,
                "the URL as twilio-node's URL parser writes it (' and spaces escaped), without the port",
            ),
            (
                TOKEN,
                "https://mycompany.com/myapp.php?name=Jane+Doe",
                "R/vJEZVH0ZGUUQ2LcpVWIzK8sYg=",
                true,
                "the URL with twilio-node's legacy query encoding (' kept, spaces as %20), without the port",
            ),
            (
                TOKEN,
                "https://mycompany.com:8443/myapp.php?test=param%27WithQuote",
                "hQNrIpPEN9kedCBUH2LqUSZpgl0=",
                true,
                "the URL with twilio-node's legacy query encoding (' kept, spaces as %20), with the port",
            ),
            (
                TOKEN,
                "https://mycompany.com/myapp.php?Body=It's",
                "tiKh/n2RZHwuRo+CLSL/8+uvuUY=",
                true,
                "the URL as twilio-node's URL parser writes it (' and spaces escaped), with the port",
            ),
        ]
    }

    #[test]
    fn finds_the_form_of_the_url_twilio_signed() {
        for (token, url, signature, with_params, described) in signed_another_way() {
            let params = if with_params { params() } else { vec![] };
            let found = find_signed_url(token, signature, url, &params)
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(found.variant.describe(), described, "{url}");
            assert!(!found.distinct_values);
        }
    }

    #[test]
    fn the_services_check_tries_only_the_url_as_given_and_its_ports() {
        for (token, url, signature, with_params, _) in signed_another_way() {
            let params = if with_params { params() } else { vec![] };
            assert!(!validate(token, signature, url, &params), "{url}");
        }
    }

    #[test]
    fn finds_the_url_as_given_first() {
        let found = find_signed_url(TOKEN, EXPECTED, URL, &params()).unwrap();
        assert_eq!(found.variant.url, URL);
        assert_eq!(found.variant.describe(), "the URL as given");
        assert!(found.variant.accepted_by_check());
        let found = find_signed_url(TOKEN, "kvajT1Ptam85bY51eRf/AJRuM3w=", URL, &params()).unwrap();
        assert_eq!(found.variant.describe(), "the URL as given, with the port");
    }

    #[test]
    fn says_when_a_repeated_value_was_signed_once() {
        let params = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        let found = find_signed_url(TOKEN, "IK+Dwps556ElfBT0I3Rgjkr1wJU=", URL, &params).unwrap();
        assert!(found.distinct_values);
    }

    #[test]
    fn a_mismatch_names_every_variant_tried() {
        let url = "https://example.com/path?test=param'WithQuote";
        let err = find_signed_url("s3cr3t", "WRONG", url, &[]).unwrap_err();
        let SignatureError::Mismatch { tried } = err else {
            panic!("expected a mismatch, got {err:?}");
        };
        assert_eq!(
            tried,
            library_url_variants(url)
                .into_iter()
                .map(|v| v.url)
                .collect::<Vec<_>>()
        );
        assert_eq!(tried.len(), 4);
    }

    #[test]
    fn finds_the_url_of_a_json_body_and_checks_the_body() {
        let url = format!("{URL}&bodySHA256={BODY_HASH}");
        let found =
            find_signed_url_with_body(TOKEN, "a9nBmqA0ju/hNViExpshrM61xv4=", &url, BODY.as_bytes())
                .unwrap();
        assert_eq!(found.variant.url, url);
        assert!(matches!(
            find_signed_url_with_body(TOKEN, "a9nBmqA0ju/hNViExpshrM61xv4=", &url, b"{}"),
            Err(SignatureError::BodyHashMismatch { .. })
        ));
        assert_eq!(
            find_signed_url_with_body(TOKEN, EXPECTED, URL, BODY.as_bytes()),
            Err(SignatureError::MissingBodyHash)
        );
    }

    fn param_list() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec(("[A-Za-z]{1,12}", "\\PC{0,20}"), 0..8)
    }

    proptest! {
        #[test]
        fn sign_then_validate_passes(
            token in "[a-f0-9]{32}",
            path in "[a-z/]{0,20}",
            params in param_list(),
        ) {
            let url = format!("https://example.com/{path}?a=1");
            let signature = sign(&token, &url, &params);
            prop_assert!(validate(&token, &signature, &url, &params));
            let mut reversed = params;
            reversed.reverse();
            prop_assert!(validate(&token, &signature, &url, &reversed));
        }

        #[test]
        fn changing_a_value_fails(
            token in "[a-f0-9]{32}",
            params in param_list().prop_filter("needs a parameter", |p| !p.is_empty()),
            index in any::<prop::sample::Index>(),
            extra in "\\PC{1,5}",
        ) {
            let url = "https://example.com/hook";
            let signature = sign(&token, url, &params);
            let mut changed = params;
            let i = index.index(changed.len());
            changed[i].1.push_str(&extra);
            prop_assert!(!validate(&token, &signature, url, &changed));
        }

        #[test]
        fn check_tries_exactly_the_library_variants_it_accepts(
            scheme in "https?",
            host in "[a-zA-Z.]{1,12}",
            port in prop::option::of(0u16..10000),
            rest in "[/?#&=a-z'% ]{0,20}",
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("{scheme}://{host}{port}{rest}");
            let accepted: Vec<String> = library_url_variants(&url)
                .into_iter()
                .filter(UrlVariant::accepted_by_check)
                .map(|v| v.url)
                .collect();
            prop_assert_eq!(url_variants(&url), accepted);
        }

        #[test]
        fn sign_body_then_validate_passes(
            token in "[a-f0-9]{32}",
            body in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let (url, signature) = sign_body(&token, "https://example.com/hook?x=1", &body);
            prop_assert!(validate_body(&token, &signature, &url, &body));
            let mut other = body;
            other.push(0);
            prop_assert!(!validate_body(&token, &signature, &url, &other));
        }
    }
}

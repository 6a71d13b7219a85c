//! What browser agents need: how long their Voice SDK tokens last, which Twilio edge the SDK
//! connects through, and where the SDK's script is loaded from.

use std::time::Duration;

use super::{ConfigError, RawSettings, duration, invalid, non_empty};

/// Twilio's helper libraries default to an hour.
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(60 * 60);
/// Twilio refuses an Access Token that lives longer than a day.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The SDK warns ten seconds before a token expires: a shorter life leaves no time to renew.
const MIN_TOKEN_TTL: Duration = Duration::from_secs(60);
/// The vendored `@twilio/voice-sdk` bundle, served by callbridge itself.
pub const VENDORED_VOICE_SDK_PATH: &str = "/assets/twilio-voice-sdk.min.js";

/// The edges the Voice SDK 2.x accepts (`Device.Options.edge`).
const EDGES: &[&str] = &[
    "ashburn",
    "dublin",
    "frankfurt",
    "roaming",
    "sao-paulo",
    "singapore",
    "sydney",
    "tokyo",
    "umatilla",
    "ashburn-ix",
    "frankfurt-ix",
    "london-ix",
    "san-jose-ix",
    "singapore-ix",
    "sydney-ix",
    "tokyo-ix",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSettings {
    pub token_ttl: Duration,
    /// `None` leaves the choice to the SDK (Twilio's Global Low Latency routing).
    pub edge: Option<String>,
    /// An absolute URL, or a path on this service.
    pub voice_sdk_url: String,
}

impl BrowserSettings {
    pub(super) fn from_raw(raw: &RawSettings) -> Result<Self, ConfigError> {
        let token_ttl = match non_empty(raw.browser_token_ttl.clone()) {
            None => DEFAULT_TOKEN_TTL,
            Some(text) => duration::parse(&text)
                .map_err(|e| invalid("BROWSER_TOKEN_TTL", format!("is wrong: {e}")))?,
        };
        if !(MIN_TOKEN_TTL..=MAX_TOKEN_TTL).contains(&token_ttl) {
            return Err(invalid(
                "BROWSER_TOKEN_TTL",
                "must be between 1m and 24h: Twilio refuses tokens that live longer than a day",
            ));
        }
        let edge = non_empty(raw.twilio_edge.clone())
            .map(|edge| {
                let edge = edge.to_ascii_lowercase();
                if EDGES.contains(&edge.as_str()) {
                    Ok(edge)
                } else {
                    Err(invalid(
                        "TWILIO_EDGE",
                        format!(
                            "{edge:?} is not a Twilio edge: use one of {}",
                            EDGES.join(", ")
                        ),
                    ))
                }
            })
            .transpose()?;
        let voice_sdk_url = match non_empty(raw.voice_sdk_url.clone()) {
            None => VENDORED_VOICE_SDK_PATH.to_owned(),
            Some(url) if url.starts_with('/') => url,
            Some(url) => url::Url::parse(&url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|_| url.clone())
                .ok_or_else(|| {
                    invalid(
                        "VOICE_SDK_URL",
                        format!("{url:?} must be an http(s) URL or a path starting with /"),
                    )
                })?,
        };
        Ok(Self {
            token_ttl,
            edge,
            voice_sdk_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(ttl: Option<&str>, edge: Option<&str>, sdk: Option<&str>) -> RawSettings {
        RawSettings {
            browser_token_ttl: ttl.map(str::to_owned),
            twilio_edge: edge.map(str::to_owned),
            voice_sdk_url: sdk.map(str::to_owned),
            ..RawSettings::default()
        }
    }

    #[test]
    fn defaults_are_an_hour_no_edge_and_the_vendored_sdk() {
        let s = BrowserSettings::from_raw(&raw(None, None, None)).unwrap();
        assert_eq!(s.token_ttl, Duration::from_secs(3600));
        assert_eq!(s.edge, None);
        assert_eq!(s.voice_sdk_url, VENDORED_VOICE_SDK_PATH);
    }

    #[test]
    fn a_token_may_live_a_day_at_most() {
        let day = BrowserSettings::from_raw(&raw(Some("24h"), None, None)).unwrap();
        assert_eq!(day.token_ttl, MAX_TOKEN_TTL);
        let err = BrowserSettings::from_raw(&raw(Some("25h"), None, None)).unwrap_err();
        assert!(
            err.to_string().starts_with("BROWSER_TOKEN_TTL must be"),
            "{err}"
        );
        assert!(BrowserSettings::from_raw(&raw(Some("10s"), None, None)).is_err());
    }

    #[test]
    fn only_twilios_edges_are_taken() {
        let s = BrowserSettings::from_raw(&raw(None, Some("Dublin"), None)).unwrap();
        assert_eq!(s.edge.as_deref(), Some("dublin"));
        let err = BrowserSettings::from_raw(&raw(None, Some("us1"), None)).unwrap_err();
        assert!(err.to_string().contains("not a Twilio edge"), "{err}");
    }

    #[test]
    fn the_sdk_may_come_from_a_path_or_an_http_url() {
        for ok in ["/sim/voice-sdk.js", "https://cdn.example.com/twilio.min.js"] {
            let s = BrowserSettings::from_raw(&raw(None, None, Some(ok))).unwrap();
            assert_eq!(s.voice_sdk_url, ok);
        }
        assert!(BrowserSettings::from_raw(&raw(None, None, Some("javascript:alert(1)"))).is_err());
    }
}

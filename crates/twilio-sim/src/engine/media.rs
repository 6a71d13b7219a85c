//! Audio documents played to a party outside its own TwiML: conference wait music (`waitUrl`),
//! hold music (`HoldUrl`) and announcements (`AnnounceUrl`). Each may be a TwiML document of
//! `<Say>`, `<Play>`, `<Pause>` and `<Redirect>`, or an audio file.

use std::sync::Arc;

use super::call_params;
use super::twiml::{self, Verb};
use crate::state::Shared;
use crate::webhook::{self, Outgoing};

/// Twilio's hold music, played when a conference's `waitUrl` or a participant's `HoldUrl` is not
/// given. The simulator never fetches it.
pub(crate) const TWILIO_HOLD_MUSIC: &str =
    "http://twimlets.com/holdmusic?Bucket=com.twilio.music.classical";

/// Where a party's music or announcement comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Music {
    /// Twilio's own hold music.
    TwilioDefault,
    /// `waitUrl=""`: silence.
    Silence,
    Url {
        url: String,
        method: String,
    },
}

impl Music {
    /// `url` as a `waitUrl`/`HoldUrl` parameter gives it: absent is Twilio's music, empty silence.
    pub(crate) fn from_param(url: Option<&str>, method: String) -> Self {
        match url.map(str::trim) {
            None => Self::TwilioDefault,
            Some("") => Self::Silence,
            Some(u) if u == TWILIO_HOLD_MUSIC => Self::TwilioDefault,
            Some(u) => Self::Url {
                url: u.to_owned(),
                method,
            },
        }
    }
}

/// What a played document was: a line per verb and how long it takes.
#[derive(Debug, Default)]
pub(crate) struct Played {
    pub(crate) lines: Vec<String>,
    pub(crate) sim_ms: u64,
}

/// Simulated time a spoken character takes.
pub(crate) const SAY_MS_PER_CHAR: u64 = 60;
/// Simulated time a `<Play>` (or an audio file) takes.
pub(crate) const PLAY_MS: u64 = 1000;

pub(crate) fn say_ms(text: &str, loops: u32) -> u64 {
    SAY_MS_PER_CHAR * text.chars().count() as u64 * u64::from(loops.max(1))
}

/// Fetches `music` for `call_sid` (or, without a call, with `params` alone) and notes on each
/// listed call what it plays. `Err` is Twilio's error code: 11200 for an HTTP error, 11205 when the
/// connection failed, 12100
/// when the document is not one of audio verbs.
pub(crate) async fn play(
    shared: &Arc<Shared>,
    kind: &'static str,
    label: &str,
    music: &Music,
    call_sid: Option<&str>,
    mut params: Vec<(String, String)>,
    listeners: &[String],
) -> Result<Played, u32> {
    let note = |line: String| {
        let mut model = shared.model();
        for sid in listeners {
            shared.note(&mut model, sid, format!("{label}: {line}"));
        }
    };
    let (url, method) = match music {
        Music::TwilioDefault => {
            note("Twilio's hold music".to_owned());
            return Ok(Played {
                lines: vec!["Twilio's hold music".to_owned()],
                sim_ms: PLAY_MS,
            });
        }
        Music::Silence => {
            note("silence".to_owned());
            return Ok(Played::default());
        }
        Music::Url { url, method } => (url.clone(), method.clone()),
    };
    if let Some(sid) = call_sid {
        let mut base = {
            let model = shared.model();
            model
                .calls
                .get(sid)
                .map(|c| call_params(shared, c))
                .unwrap_or_default()
        };
        base.append(&mut params);
        params = base;
    }
    let reply = webhook::request(
        shared,
        Outgoing {
            kind,
            url: url.clone(),
            method: method.clone(),
            params,
        },
    )
    .await;
    let body = match reply {
        Ok(r) if (200..300).contains(&r.status) => r.body,
        Ok(r) => {
            note(format!("error 11200: {method} {url} -> HTTP {}", r.status));
            return Err(11200);
        }
        Err(e) => {
            note(format!("error 11205: {method} {url}: {e}"));
            return Err(11205);
        }
    };
    if !body.trim_start().starts_with('<') {
        note(format!("play {url}"));
        return Ok(Played {
            lines: vec![format!("play {url}")],
            sim_ms: PLAY_MS,
        });
    }
    let verbs = twiml::parse(&body).map_err(|e| {
        note(format!("error 12100: {e}"));
        12100u32
    })?;
    let mut played = Played::default();
    for verb in &verbs {
        let (line, ms) = match verb {
            Verb::Say { text, loops } => (format!("say {text:?}"), say_ms(text, *loops)),
            Verb::Play { loops } => ("play".to_owned(), PLAY_MS * u64::from(*loops)),
            Verb::Pause { length_s } => (format!("pause {length_s}s"), length_s * 1000),
            Verb::Redirect { url, .. } => (format!("redirect {url}"), 0),
            _ => {
                note("error 12100: only Say, Play, Pause and Redirect can be played".to_owned());
                return Err(12100);
            }
        };
        note(line.clone());
        played.lines.push(line);
        played.sim_ms += ms;
    }
    Ok(played)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_url_parameter_picks_the_music() {
        let m = |u| Music::from_param(u, "POST".to_owned());
        assert_eq!(m(None), Music::TwilioDefault);
        assert_eq!(m(Some("")), Music::Silence);
        assert_eq!(m(Some(TWILIO_HOLD_MUSIC)), Music::TwilioDefault);
        assert_eq!(
            m(Some("https://app.example/wait")),
            Music::Url {
                url: "https://app.example/wait".into(),
                method: "POST".into()
            }
        );
    }
}

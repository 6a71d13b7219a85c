//! TwiML documents as the engine executes them. Anything Twilio would refuse to run (not XML, no
//! `<Response>`, an unknown verb, a noun where it cannot be) is an error, which fails the call with 12100.

use super::amd;
use super::media::Music;
use super::xml::{self, Element};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Verb {
    Say { text: String, loops: u32 },
    Play { loops: u32 },
    Pause { length_s: u64 },
    Gather(Gather),
    Dial(Dial),
    Redirect { url: String, method: String },
    Hangup,
    Reject { reason: String },
    Record(Record),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Gather {
    pub(crate) action: Option<String>,
    pub(crate) method: String,
    pub(crate) num_digits: Option<usize>,
    pub(crate) finish_on_key: String,
    pub(crate) timeout_s: u64,
    pub(crate) action_on_empty_result: bool,
    /// Say / Play / Pause played while listening.
    pub(crate) prompts: Vec<Verb>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Dial {
    pub(crate) action: Option<String>,
    pub(crate) method: String,
    pub(crate) timeout_s: u64,
    pub(crate) caller_id: Option<String>,
    pub(crate) time_limit_s: Option<u64>,
    pub(crate) record: bool,
    pub(crate) recording_status_callback: Option<Callback>,
    pub(crate) target: DialTarget,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DialTarget {
    /// Numbers (or clients) rung at once; the first to answer is bridged.
    Numbers(Vec<NumberNoun>),
    Conference(ConferenceNoun),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NumberNoun {
    pub(crate) to: String,
    pub(crate) status_callback: Option<Callback>,
    /// `<Number machineDetection>`: detected asynchronously, reported to `amdStatusCallback`.
    pub(crate) amd: Option<amd::Request>,
    /// `<Client>`'s `<Parameter name value>` children, for the called device.
    pub(crate) params: Vec<(String, String)>,
}

/// A webhook destination with its method and the events it wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Callback {
    pub(crate) url: String,
    pub(crate) method: String,
    pub(crate) events: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConferenceNoun {
    pub(crate) name: String,
    pub(crate) muted: bool,
    pub(crate) start_on_enter: bool,
    pub(crate) end_on_exit: bool,
    pub(crate) record_from_start: bool,
    pub(crate) coach: Option<String>,
    pub(crate) label: Option<String>,
    pub(crate) status_callback: Option<Callback>,
    pub(crate) recording_status_callback: Option<Callback>,
    pub(crate) wait: Music,
    pub(crate) beep_on_exit: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Record {
    pub(crate) action: Option<String>,
    pub(crate) method: String,
    pub(crate) timeout_s: u64,
    pub(crate) finish_on_key: String,
    pub(crate) max_length_s: u64,
    pub(crate) recording_status_callback: Option<Callback>,
}

/// Parses and validates a TwiML document.
pub(crate) fn parse(doc: &str) -> Result<Vec<Verb>, String> {
    let root = xml::parse(doc)?;
    if root.name != "Response" {
        return Err(format!("root element is <{}>, not <Response>", root.name));
    }
    root.elements().map(verb).collect()
}

fn verb(el: &Element) -> Result<Verb, String> {
    Ok(match el.name.as_str() {
        "Say" => Verb::Say {
            text: el.text(),
            loops: loops(el),
        },
        "Play" => Verb::Play { loops: loops(el) },
        "Pause" => Verb::Pause {
            length_s: num(el, "length").unwrap_or(1),
        },
        "Gather" => Verb::Gather(gather(el)?),
        "Dial" => Verb::Dial(dial(el)?),
        "Redirect" => {
            let url = el.text();
            if url.is_empty() {
                return Err("<Redirect> without a URL".to_owned());
            }
            Verb::Redirect {
                url,
                method: method(el, "method"),
            }
        }
        "Hangup" => Verb::Hangup,
        "Reject" => Verb::Reject {
            reason: el.attr("reason").unwrap_or("rejected").to_owned(),
        },
        "Record" => Verb::Record(Record {
            action: non_empty(el.attr("action")),
            method: method(el, "method"),
            timeout_s: num(el, "timeout").unwrap_or(5),
            finish_on_key: el.attr("finishOnKey").unwrap_or("1234567890*#").to_owned(),
            max_length_s: num(el, "maxLength").unwrap_or(3600),
            recording_status_callback: callback(
                el,
                "recordingStatusCallback",
                "recordingStatusCallbackEvent",
                "completed",
            ),
        }),
        other => {
            return Err(format!(
                "<{other}> is not a TwiML verb this call can execute"
            ));
        }
    })
}

fn gather(el: &Element) -> Result<Gather, String> {
    let prompts = el
        .elements()
        .map(|child| match child.name.as_str() {
            "Say" | "Play" | "Pause" => verb(child),
            other => Err(format!("<{other}> cannot be nested in <Gather>")),
        })
        .collect::<Result<_, _>>()?;
    Ok(Gather {
        action: non_empty(el.attr("action")),
        method: method(el, "method"),
        num_digits: num(el, "numDigits").map(|n| n as usize).filter(|n| *n > 0),
        finish_on_key: el.attr("finishOnKey").unwrap_or("#").to_owned(),
        timeout_s: num(el, "timeout").unwrap_or(5),
        action_on_empty_result: flag(el, "actionOnEmptyResult", false),
        prompts,
    })
}

fn dial(el: &Element) -> Result<Dial, String> {
    let nouns: Vec<&Element> = el.elements().collect();
    let target = if nouns.is_empty() {
        let to = el.text();
        if to.is_empty() {
            return Err("<Dial> with nothing to dial".to_owned());
        }
        DialTarget::Numbers(vec![NumberNoun {
            to,
            status_callback: None,
            amd: None,
            params: Vec::new(),
        }])
    } else if nouns.iter().any(|n| n.name == "Conference") {
        if nouns.len() != 1 {
            return Err("<Conference> must be the only noun of its <Dial>".to_owned());
        }
        DialTarget::Conference(conference(nouns[0])?)
    } else {
        let numbers = nouns
            .iter()
            .map(|n| {
                let to = match n.name.as_str() {
                    "Number" | "Sip" => n.text(),
                    "Client" => {
                        let identity = n
                            .elements()
                            .find(|c| c.name == "Identity")
                            .map(Element::text)
                            .unwrap_or_else(|| n.text());
                        format!("client:{identity}")
                    }
                    other => return Err(format!("<{other}> cannot be dialed")),
                };
                if to.is_empty() || to == "client:" {
                    return Err(format!("<{}> without an address", n.name));
                }
                let params = if n.name == "Client" {
                    client_parameters(n)?
                } else {
                    Vec::new()
                };
                Ok(NumberNoun {
                    params,
                    to,
                    status_callback: callback(
                        n,
                        "statusCallback",
                        "statusCallbackEvent",
                        "completed",
                    ),
                    amd: number_amd(n)?,
                })
            })
            .collect::<Result<_, _>>()?;
        DialTarget::Numbers(numbers)
    };
    Ok(Dial {
        action: non_empty(el.attr("action")),
        method: method(el, "method"),
        timeout_s: num(el, "timeout").unwrap_or(30),
        caller_id: non_empty(el.attr("callerId")),
        time_limit_s: num(el, "timeLimit"),
        record: el
            .attr("record")
            .is_some_and(|r| r.starts_with("record-from")),
        recording_status_callback: callback(
            el,
            "recordingStatusCallback",
            "recordingStatusCallbackEvent",
            "completed",
        ),
        target,
    })
}

fn client_parameters(client: &Element) -> Result<Vec<(String, String)>, String> {
    client
        .elements()
        .filter(|c| c.name != "Identity")
        .map(|c| match (c.name.as_str(), c.attr("name")) {
            ("Parameter", Some(name)) if !name.is_empty() => Ok((
                name.to_owned(),
                c.attr("value").unwrap_or_default().to_owned(),
            )),
            ("Parameter", _) => Err("<Parameter> without a name".to_owned()),
            (other, _) => Err(format!("<{other}> cannot be nested in <Client>")),
        })
        .collect()
}

fn conference(el: &Element) -> Result<ConferenceNoun, String> {
    let name = el.text();
    if name.is_empty() {
        return Err("<Conference> without a name".to_owned());
    }
    Ok(ConferenceNoun {
        name,
        muted: flag(el, "muted", false),
        start_on_enter: flag(el, "startConferenceOnEnter", true),
        end_on_exit: flag(el, "endConferenceOnExit", false),
        record_from_start: el.attr("record") == Some("record-from-start"),
        coach: non_empty(el.attr("coach")),
        label: non_empty(el.attr("participantLabel")),
        wait: Music::from_param(el.attr("waitUrl"), method(el, "waitMethod")),
        beep_on_exit: matches!(el.attr("beep"), None | Some("true" | "onExit")),
        // Twilio's <Conference> has no default statusCallbackEvent: a statusCallback alone reports
        // nothing. (The Participants API's ConferenceStatusCallbackEvent defaults to `start end`.)
        status_callback: callback(el, "statusCallback", "statusCallbackEvent", ""),
        recording_status_callback: callback(
            el,
            "recordingStatusCallback",
            "recordingStatusCallbackEvent",
            "completed",
        ),
    })
}

fn number_amd(el: &Element) -> Result<Option<amd::Request>, String> {
    let Some(value) = non_empty(el.attr("machineDetection")) else {
        return Ok(None);
    };
    let mode = amd::Mode::parse(&value)
        .ok_or_else(|| format!("machineDetection={value:?} is not Enable or DetectMessageEnd"))?;
    Ok(Some(amd::Request {
        mode,
        timeout_s: num(el, "machineDetectionTimeout").unwrap_or(amd::DEFAULT_TIMEOUT_S),
        callback: callback(el, "amdStatusCallback", "amdStatusCallbackEvent", ""),
        asynchronous: true,
    }))
}

/// Space- or comma-separated event names, as Twilio accepts them in attributes.
pub(crate) fn split_events(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect()
}

fn callback(
    el: &Element,
    url_attr: &str,
    events_attr: &str,
    default_events: &str,
) -> Option<Callback> {
    let url = non_empty(el.attr(url_attr))?;
    let events = split_events(el.attr(events_attr).unwrap_or(default_events));
    Some(Callback {
        url,
        method: method(el, &format!("{url_attr}Method")),
        events,
    })
}

fn non_empty(v: Option<&str>) -> Option<String> {
    v.map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

fn method(el: &Element, attr: &str) -> String {
    match el.attr(attr) {
        Some(m) if m.eq_ignore_ascii_case("GET") => "GET".to_owned(),
        _ => "POST".to_owned(),
    }
}

fn num(el: &Element, attr: &str) -> Option<u64> {
    el.attr(attr).and_then(|v| v.trim().parse().ok())
}

fn loops(el: &Element) -> u32 {
    // loop="0" means "forever" at Twilio; a bounded stand-in keeps a simulated call finite.
    match num(el, "loop") {
        Some(0) => 1000,
        Some(n) => n as u32,
        None => 1,
    }
}

fn flag(el: &Element, attr: &str, default: bool) -> bool {
    match el.attr(attr) {
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        _ => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_agent_leg_document() {
        let verbs = parse(
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello.</Say><Gather action="https://x/dial?a=1&amp;b=2" actionOnEmptyResult="true" method="POST" finishOnKey="" timeout="10" numDigits="1" input="dtmf"><Say>Press a key</Say></Gather></Response>"#,
        )
        .unwrap();
        assert_eq!(verbs.len(), 2);
        let Verb::Gather(g) = &verbs[1] else {
            panic!("not a gather: {verbs:?}")
        };
        assert_eq!(g.action.as_deref(), Some("https://x/dial?a=1&b=2"));
        assert_eq!(g.num_digits, Some(1));
        assert_eq!(g.finish_on_key, "");
        assert_eq!(g.timeout_s, 10);
        assert!(g.action_on_empty_result);
        assert_eq!(
            g.prompts,
            vec![Verb::Say {
                text: "Press a key".into(),
                loops: 1
            }]
        );
    }

    #[test]
    fn parses_conference_with_callbacks() {
        let verbs = parse(
            r#"<Response><Dial action="/after"><Conference startConferenceOnEnter="false" endConferenceOnExit="true" beep="false" record="record-from-start" recordingStatusCallback="https://r/rec" statusCallback="https://s/st" statusCallbackEvent="start end join leave">room</Conference></Dial></Response>"#,
        )
        .unwrap();
        let Verb::Dial(d) = &verbs[0] else { panic!() };
        assert_eq!(d.action.as_deref(), Some("/after"));
        let DialTarget::Conference(c) = &d.target else {
            panic!()
        };
        assert_eq!(c.name, "room");
        assert!(!c.start_on_enter && c.end_on_exit && c.record_from_start);
        let cb = c.status_callback.as_ref().unwrap();
        assert_eq!(cb.events, ["start", "end", "join", "leave"]);
        assert_eq!(cb.method, "POST");
        assert_eq!(
            c.recording_status_callback.as_ref().unwrap().events,
            ["completed"]
        );
    }

    #[test]
    fn dial_nouns() {
        let verbs = parse("<Response><Dial timeout=\"7\">+15551230000</Dial><Dial><Number statusCallback=\"https://s\" statusCallbackEvent=\"initiated,answered\">+15551230001</Number><Client>alice</Client></Dial></Response>").unwrap();
        let Verb::Dial(a) = &verbs[0] else { panic!() };
        assert_eq!(a.timeout_s, 7);
        assert_eq!(
            a.target,
            DialTarget::Numbers(vec![NumberNoun {
                to: "+15551230000".into(),
                status_callback: None,
                amd: None,
                params: Vec::new(),
            }])
        );
        let Verb::Dial(b) = &verbs[1] else { panic!() };
        let DialTarget::Numbers(n) = &b.target else {
            panic!()
        };
        assert_eq!(
            n[0].status_callback.as_ref().unwrap().events,
            ["initiated", "answered"]
        );
        assert_eq!(n[1].to, "client:alice");
    }

    #[test]
    fn client_identity_and_parameters() {
        let verbs = parse(r#"<Response><Dial><Client><Identity>agent_7</Identity><Parameter name="callId" value="c-1"/><Parameter name="empty"/></Client></Dial></Response>"#).unwrap();
        let Verb::Dial(d) = &verbs[0] else { panic!() };
        let DialTarget::Numbers(n) = &d.target else {
            panic!()
        };
        assert_eq!(n[0].to, "client:agent_7");
        assert_eq!(
            n[0].params,
            [
                ("callId".to_owned(), "c-1".to_owned()),
                ("empty".to_owned(), String::new())
            ]
        );
        assert!(
            parse("<Response><Dial><Client>a<Parameter value=\"x\"/></Client></Dial></Response>")
                .is_err()
        );
        assert!(parse("<Response><Dial><Client>a<Say>x</Say></Client></Dial></Response>").is_err());
    }

    #[test]
    fn invalid_documents_are_errors() {
        for bad in [
            "<Response><Dance/></Response>",
            "<Respons><Say>x</Say></Respons>",
            "<Response><Gather><Dial>+1</Dial></Gather></Response>",
            "<Response><Dial><Conference>a</Conference><Number>+1</Number></Dial></Response>",
            "<Response><Dial></Dial></Response>",
            "<Response><Redirect/></Response>",
            "<Response><Say>unclosed</Response>",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}

//! `callbridge demo`: the whole product in one process with nothing configured. The simulator
//! plays Twilio and both phones, the service runs on a throw-away SQLite database, and the demo
//! drives it over the service's real HTTP API, printing the call's timeline from the service's own
//! live stream.

pub(crate) mod api;
pub(crate) mod display;
pub(crate) mod scenario;
pub mod sse;

use std::collections::HashSet;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::distr::Alphanumeric;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use self::api::Api;
use self::display::{Style, use_color};
use self::scenario::{AGENT_PHONE, CALLER_ID, CUSTOMER_PHONE, Scenario};
use self::sse::SseParser;
use crate::calls::live::{EVENT_KIND, STATE_KIND, StateView};
use crate::calls::view::{CallView, EventView};
use crate::config::{RawSettings, Settings};
use crate::domain::{CallState, EventId};

/// Fast enough that an unanswered phone (a minute of ringing) takes a quarter of that.
pub const DEFAULT_TIME_SCALE: f64 = 0.25;
/// How long the two parties talk, in real seconds.
pub const DEFAULT_TALK: Duration = Duration::from_secs(6);
/// A demo that has not ended by then never will.
const CALL_DEADLINE: Duration = Duration::from_secs(120);
/// After the final state, how long to wait for the last legs to hang up and a recording to arrive.
const SETTLE: Duration = Duration::from_secs(15);
/// The agent listens to the prompt for this long before pressing a key, in real time.
const PROMPT_LISTEN: Duration = Duration::from_millis(1500);

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the simulator did not start: {0}")]
    Sim(#[from] twilio_sim::Error),
    #[error("the demo's settings are invalid: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("could not {step}: {detail}")]
    Step { step: &'static str, detail: String },
    #[error("the service stopped: {0}")]
    Service(#[from] crate::startup::StartupError),
}

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub scenario: Scenario,
    pub time_scale: f64,
    pub talk: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            scenario: Scenario::Happy,
            time_scale: DEFAULT_TIME_SCALE,
            talk: DEFAULT_TALK,
        }
    }
}

/// Runs the scenario and prints it; `Ok(true)` when the call ended as the scenario expects.
pub async fn run(options: &DemoOptions) -> Result<bool, DemoError> {
    let no_color = std::env::var("NO_COLOR").ok();
    let style = Style::new(use_color(
        std::io::stdout().is_terminal(),
        no_color.as_deref(),
    ));
    let clock = Instant::now();
    let scenario = options.scenario;
    println!(
        "{}",
        style.heading(&format!(
            "callbridge demo: {scenario}, {}",
            scenario.describe()
        ))
    );

    let sim_config = twilio_sim::SimConfig {
        time_scale: options.time_scale,
        incoming_numbers: vec![CALLER_ID.to_owned()],
        ..twilio_sim::SimConfig::default()
    };
    let sim = twilio_sim::Sim::start(sim_config).await?;
    let dir = tempfile::tempdir()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let service_url = format!("http://{}", listener.local_addr()?);
    let app_sid = api::create_twiml_app(&sim, &service_url).await?;
    let settings = demo_settings(
        &sim,
        &service_url,
        &app_sid,
        &dir.path().join("callbridge.db"),
    )?;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(crate::startup::launch_with_tcp_listener(
        settings,
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    println!(
        "{}",
        style.action(
            clock.elapsed(),
            &format!(
                "simulated Twilio at {} · callbridge at {service_url} · SQLite in a temp dir",
                sim.base_url().as_str().trim_end_matches('/')
            ),
        )
    );

    let api = Api::new(&service_url, sim.base_url().as_str());
    let result = drive(&api, options, style, clock).await;

    let _ = stop.send(());
    if let Ok(Err(err)) = server.await {
        eprintln!("note: the service stopped with an error: {err}");
    }
    sim.shutdown().await;
    let (call, ok) = result?;
    println!();
    for line in style.summary(&call, clock.elapsed()) {
        println!("{line}");
    }
    println!();
    let expected = scenario.expected();
    let got = match &call.reason {
        Some(reason) => format!("{} ({reason})", call.state),
        None => call.state.to_string(),
    };
    let verdict = if ok {
        format!("{scenario}: ended {got}, as expected")
    } else {
        format!("{scenario}: expected {expected}, but the call ended {got}")
    };
    println!("{}", style.outcome(ok, &verdict));
    Ok(ok)
}

/// `demo --web`: the simulator and the service, for a person with a browser, until Ctrl-C.
pub async fn web(bind: std::net::SocketAddr) -> Result<(), DemoError> {
    let sim_config = twilio_sim::SimConfig {
        time_scale: 1.0,
        incoming_numbers: vec![CALLER_ID.to_owned()],
        // Every phone rings on the simulator's page, where the person at the browser plays it.
        default_behaviour: twilio_sim::NumberBehaviour {
            answer: twilio_sim::Answer::Person,
            ..twilio_sim::NumberBehaviour::default()
        },
        ..twilio_sim::SimConfig::default()
    };
    let sim = twilio_sim::Sim::start(sim_config).await?;
    let dir = tempfile::tempdir()?;
    let listener = TcpListener::bind(bind).await?;
    let service_url = format!("http://{}", listener.local_addr()?);
    let app_sid = api::create_twiml_app(&sim, &service_url).await?;
    let mut settings = demo_settings(
        &sim,
        &service_url,
        &app_sid,
        &dir.path().join("callbridge.db"),
    )?;
    settings.demo_inbox = Some(sim.base_url());
    let people = format!("{}sim/", sim.base_url());
    println!("callbridge demo: the web app on a simulated Twilio (SQLite in a temp dir)");
    println!();
    println!("  Open {service_url}/");
    println!("  and, beside it, {people} where the phones ring");
    println!();
    println!("Sign in with any email and phone: the sign-in page shows the codes the simulated");
    println!("Twilio sent. Then call any US number: answer your phone on the simulator's page and");
    println!(
        "press a key, then answer as the customer (or say busy, or let it ring). Ctrl-C stops."
    );
    crate::startup::launch_with_tcp_listener(settings, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    sim.shutdown().await;
    Ok(())
}

fn demo_settings(
    sim: &twilio_sim::Sim,
    service_url: &str,
    twiml_app_sid: &str,
    db: &std::path::Path,
) -> Result<Settings, DemoError> {
    let jwt_secret: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    let raw = RawSettings {
        twilio_account_sid: Some(sim.account_sid().to_owned()),
        twilio_auth_token: Some(sim.auth_token().to_owned()),
        twilio_base_url: Some(sim.base_url().to_string()),
        // The simulator knows every VA… service.
        verify_service_sid: Some(format!("VA{}", "0".repeat(32))),
        caller_id: Some(CALLER_ID.to_owned()),
        jwt_secret: Some(jwt_secret),
        public_base_url: Some(service_url.to_owned()),
        bind: Some("127.0.0.1:0".to_owned()),
        database_url: Some(format!("sqlite://{}", db.display())),
        // Browser agents: the simulator's API key signs their tokens, its TwiML App sends their
        // calls here, and their pages load its Voice SDK.
        twilio_api_key: Some(twilio_sim::DEFAULT_API_KEY_SID.to_owned()),
        twilio_api_secret: Some(twilio_sim::DEFAULT_API_KEY_SECRET.to_owned()),
        twiml_app_sid: Some(twiml_app_sid.to_owned()),
        voice_sdk_url: Some(format!(
            "{}/sim/voice-sdk.js",
            sim.base_url().as_str().trim_end_matches('/')
        )),
        ..RawSettings::default()
    };
    Ok(Settings::from_raw(raw)?)
}

/// Onboards, places the call, plays both phones, and returns the call as it ended.
async fn drive(
    api: &Api,
    options: &DemoOptions,
    style: Style,
    clock: Instant,
) -> Result<(CallView, bool), DemoError> {
    let scenario = options.scenario;
    let say = |text: &str| println!("{}", style.action(clock.elapsed(), text));

    say(&format!(
        "onboarding {} with phone {AGENT_PHONE} (email code, then SMS code)",
        scenario::AGENT_EMAIL
    ));
    let token = api.onboard().await?;
    say("agent verified: call token issued");
    for (number, behaviour) in scenario.behaviours() {
        api.set_number(number, &behaviour).await?;
    }
    let (call, browser) = if scenario.talks_from_browser() {
        let (jwt, identity) = api.browser_token(&token).await?;
        say(&format!(
            "the agent opens the web app: a Voice SDK token for client:{identity}"
        ));
        let device = api.open_device(&jwt).await?;
        say(&format!(
            "the agent calls the customer {CUSTOMER_PHONE} from the browser"
        ));
        let call_sid = api.connect(&device, CUSTOMER_PHONE).await?;
        let call = call_of_browser(api, &token, &call_sid).await?;
        (call, Some(Browser { device, call_sid }))
    } else {
        say(&format!(
            "placing a call to the customer {CUSTOMER_PHONE}{}",
            if scenario.record() { ", recorded" } else { "" }
        ));
        let call = api
            .start_call(&token, CUSTOMER_PHONE, scenario.record())
            .await?;
        (call, None)
    };
    let id = call.id.to_string();

    let (state_tx, state_rx) = watch::channel(call.state);
    let placed = Placed {
        token: &token,
        id: &id,
        browser,
    };
    let phones = play_phones(api, options, placed, state_rx, style, clock);
    let timeline = follow(api, &token, &id, state_tx, style, clock);
    let (phones, timeline) =
        tokio::time::timeout(CALL_DEADLINE, async { tokio::join!(phones, timeline) })
            .await
            .map_err(|_| DemoError::Step {
                step: "finish the call",
                detail: format!("it had not ended after {} s", CALL_DEADLINE.as_secs()),
            })?;
    let mut shown = timeline?;
    phones?;

    // The call's outcome is known, but the agent may still be hearing why and a recording may
    // still be processed: show those last events too, so the summary is complete.
    let deadline = Instant::now() + SETTLE;
    let call = loop {
        let call = api.get_call(&token, &id).await?;
        for event in call.events.iter().filter(|e| shown.insert(e.id)) {
            println!("{}", style.event(clock.elapsed(), event));
        }
        // A leg's final status and the call's duration are written one after the other.
        let settled = call.legs.iter().all(|leg| is_over(&leg.status))
            && (call.state != CallState::Completed || call.duration_secs.is_some())
            && (call.recording.is_some() || !scenario.expected().recording);
        if settled || Instant::now() > deadline {
            break call;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let ok =
        scenario
            .expected()
            .is_met(call.state, call.reason.as_deref(), call.recording.is_some());
    Ok((call, ok))
}

/// A call placed, and where the agent talks from.
#[derive(Debug)]
struct Placed<'a> {
    token: &'a str,
    id: &'a str,
    browser: Option<Browser>,
}

/// The agent's browser: the simulated device and its call.
#[derive(Debug)]
struct Browser {
    device: String,
    call_sid: String,
}

/// The call `/browser/voice` stored for the browser's call: the call log shows it once Twilio
/// has asked the service what to do with that call.
async fn call_of_browser(api: &Api, token: &str, call_sid: &str) -> Result<CallView, DemoError> {
    let deadline = Instant::now() + CALL_DEADLINE;
    loop {
        let found = api
            .calls(token)
            .await?
            .into_iter()
            .find(|c| c.legs.iter().any(|leg| leg.call_sid == call_sid));
        if let Some(call) = found {
            return Ok(call);
        }
        if Instant::now() > deadline {
            return Err(DemoError::Step {
                step: "find the browser's call",
                detail: format!("no call has the leg {call_sid}"),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The people on the phones: the agent presses 1 when asked, and once connected the two talk
/// for a while before the agent hangs up through the service (or, from a browser, in it).
async fn play_phones(
    api: &Api,
    options: &DemoOptions,
    placed: Placed<'_>,
    mut state: watch::Receiver<CallState>,
    style: Style,
    clock: Instant,
) -> Result<(), DemoError> {
    let say = |text: &str| println!("{}", style.action(clock.elapsed(), text));
    if options.scenario.agent_answers() {
        let sid = loop {
            if let Some(sid) = api.call_in_gather(AGENT_PHONE).await? {
                break sid;
            }
            if state.borrow().is_final() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        say("the agent hears the prompt…");
        tokio::time::sleep(PROMPT_LISTEN).await;
        say("…and presses 1");
        api.press(&sid, "1").await?;
    }
    if !options.scenario.talks() {
        return Ok(());
    }
    let reached = state
        .wait_for(|s| *s == CallState::Connected || s.is_final())
        .await
        .map(|s| *s)
        .ok();
    if reached != Some(CallState::Connected) {
        return Ok(());
    }
    say(&format!(
        "agent and customer talk for {} s",
        options.talk.as_secs()
    ));
    tokio::time::sleep(options.talk).await;
    match placed.browser {
        Some(browser) => {
            say("the agent hangs up in the browser");
            api.disconnect(&browser.device, &browser.call_sid).await
        }
        None => {
            say("the agent hangs up");
            api.hangup(placed.token, placed.id).await
        }
    }
}

/// Twilio's final call statuses.
fn is_over(status: &str) -> bool {
    matches!(
        status,
        "completed" | "busy" | "no-answer" | "failed" | "canceled"
    )
}

/// Prints the service's live stream of the call until it reports the final state.
async fn follow(
    api: &Api,
    token: &str,
    id: &str,
    state: watch::Sender<CallState>,
    style: Style,
    clock: Instant,
) -> Result<HashSet<EventId>, DemoError> {
    let step = "follow the call";
    let mut shown = HashSet::new();
    let response = api
        .http()
        .get(api.service_url(&format!("/calls/{id}/events")))
        .bearer_auth(token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| DemoError::Step {
            step,
            detail: e.to_string(),
        })?;
    let mut parser = SseParser::new();
    let mut response = response;
    while let Some(chunk) = response.chunk().await.map_err(|e| DemoError::Step {
        step,
        detail: e.to_string(),
    })? {
        for frame in parser.feed(&chunk) {
            match frame.event.as_str() {
                EVENT_KIND => {
                    if let Ok(event) = serde_json::from_str::<EventView>(&frame.data)
                        && shown.insert(event.id)
                    {
                        println!("{}", style.event(clock.elapsed(), &event));
                    }
                }
                STATE_KIND => {
                    if let Ok(now) = serde_json::from_str::<StateView>(&frame.data) {
                        println!("{}", style.state(clock.elapsed(), &now));
                        state.send_replace(now.state);
                        if now.is_final {
                            return Ok(shown);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Err(DemoError::Step {
        step,
        detail: "the live stream ended before the call did".into(),
    })
}

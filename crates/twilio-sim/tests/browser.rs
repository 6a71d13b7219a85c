//! The simulated Voice SDK in a real browser: headless Chromium, driven through chromedriver, runs
//! a page served from another origin than the simulator's, which loads `/sim/voice-sdk.js` and
//! uses `Twilio.Device` and `Twilio.Call` as an app would.
//!
//! Without Chromium the tests say so and pass, unless `CALLBRIDGE_REQUIRE_BROWSER=1` (the test
//! command sets it, having installed Chromium), where they fail.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::response::Html;
use common::Harness;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use twilio::SecretString;
use twilio::access_token::{AccessToken, VoiceGrant};
use twilio_sim::{DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID, SimConfig, SimEvent};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether the browser tests can run here; panics when they must and cannot.
fn browser_installed() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    let why = format!(
        "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    if std::env::var("CALLBRIDGE_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("CALLBRIDGE_REQUIRE_BROWSER=1 but {why}");
    }
    eprintln!("skipping the browser test: {why}");
    false
}

/// A chromedriver of the test's own, ended with it.
struct Driver {
    process: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver on a port it picks, returning once it says which.
    fn start() -> Driver {
        let mut driver = Driver {
            process: Command::new(CHROMEDRIVER)
                .arg("--port=0")
                .process_group(0)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
            url: String::new(),
        };
        let out = BufReader::new(driver.process.stdout.take().unwrap());
        let mut said = Vec::new();
        for line in out.lines() {
            let line = line.unwrap();
            // "ChromeDriver was started successfully on port 42081."
            if let Some((_, port)) = line.split_once("started successfully on port ") {
                driver.url = format!("http://127.0.0.1:{}", port.trim_end_matches('.'));
                return driver;
            }
            said.push(line);
        }
        panic!("chromedriver stopped before listening: {said:?}");
    }

    async fn browser(&self) -> Client {
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    /// Ends Chromium too, which a test that failed before closing its session leaves running and
    /// which outlives its chromedriver: both are in the process group chromedriver leads.
    fn drop(&mut self) {
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.process.wait();
    }
}

/// The page under test: it loads the SDK from the simulator and records what its objects emit,
/// for the test to wait on with `waitFor(name)`.
fn page(sim: &str) -> String {
    format!(
        r#"<!doctype html>
<meta charset="utf-8">
<title>Voice SDK page</title>
<script src="{sim}/sim/voice-sdk.js"></script>
<script>
'use strict';
const seen = [];
const waiting = [];
window.record = (name, detail) => {{
  const i = waiting.findIndex((w) => w.name === name);
  if (i >= 0) waiting.splice(i, 1)[0].resolve(detail === undefined ? null : detail);
  else seen.push({{ name, detail }});
}};
window.waitFor = (name) => new Promise((resolve) => {{
  const i = seen.findIndex((s) => s.name === name);
  if (i < 0) return waiting.push({{ name, resolve }});
  const [hit] = seen.splice(i, 1);
  resolve(hit.detail === undefined ? null : hit.detail);
}});
window.failure = (e) => ({{ code: e.code, name: e.name, message: e.message,
  original: e.originalError ? e.originalError.code : null }});
window.watchCall = (call) => {{
  for (const name of ['accept', 'ringing', 'disconnect', 'cancel', 'reject']) {{
    call.on(name, () => record(`call:${{name}}`, call.status()));
  }}
  call.on('mute', (muted, c) => record('call:mute', {{ muted, same: c === call }}));
  call.on('error', (e) => record('call:error', failure(e)));
}};
window.makeDevice = (token, options, prefix = '') => {{
  const device = new Twilio.Device(token, options);
  for (const name of ['registered', 'unregistered', 'tokenWillExpire', 'destroyed']) {{
    device.on(name, () => record(prefix + name, device.state));
  }}
  device.on('error', (e) => record(prefix + 'error', failure(e)));
  device.on('incoming', (call) => {{
    window.call = call;
    watchCall(call);
    record(prefix + 'incoming', {{ parameters: call.parameters, status: call.status(),
      direction: call.direction, custom: Object.fromEntries(call.customParameters) }});
  }});
  return device;
}};
</script>
"#
    )
}

fn token(h: &Harness, identity: &str, app: Option<&str>, ttl: u64) -> String {
    AccessToken::new(
        h.sim.account_sid(),
        DEFAULT_API_KEY_SID,
        SecretString::from(DEFAULT_API_KEY_SECRET),
        identity,
    )
    .with_voice(VoiceGrant {
        incoming_allow: true,
        outgoing_application_sid: app.map(str::to_owned),
        outgoing_application_params: BTreeMap::from([("team".to_owned(), "red".to_owned())]),
    })
    .with_ttl_secs(ttl)
    .to_jwt()
    .unwrap()
}

/// A simulator, and Chromium showing the page from a server of the test's own: another origin.
struct Scene {
    h: Harness,
    browser: Client,
    _driver: Driver,
}

async fn scene() -> Option<Scene> {
    if !browser_installed() {
        return None;
    }
    // Real time: the page has the whole of a call's 60 s to answer.
    let h = Harness::with(SimConfig::default()).await;
    let html = page(h.url("").trim_end_matches('/'));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page_url = format!("http://{}/", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/", axum::routing::get(move || async move { Html(html) }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let driver = Driver::start();
    let browser = driver.browser().await;
    browser.goto(&page_url).await.unwrap();
    Some(Scene {
        h,
        browser,
        _driver: driver,
    })
}

impl Scene {
    /// Runs `body` as an async function on the page, with `args` as its `arguments`.
    async fn run(&self, body: &str, args: Vec<Value>) -> Value {
        let script = format!("return (async () => {{ {body} }})();");
        tokio::time::timeout(Duration::from_secs(25), self.browser.execute(&script, args))
            .await
            .unwrap_or_else(|_| panic!("the page took too long: {body}"))
            .unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    /// What the page recorded as `name` next, waiting for it.
    async fn next(&self, name: &str) -> Value {
        self.run("return await waitFor(arguments[0]);", vec![json!(name)])
            .await
    }

    async fn end(self) {
        let _ = self.browser.close().await;
        self.h.sim.shutdown().await;
    }
}

/// Waits for the call event whose text starts with `prefix` (`in-progress`, `pressed 1`, …).
async fn call_event(rx: &mut broadcast::Receiver<SimEvent>, sid: &str, prefix: &str) {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(SimEvent::Call { sid: s, event, .. })
                    if s == sid && event.starts_with(prefix) =>
                {
                    return;
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event feed closed: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {sid} {prefix}"));
}

const RINGS_LONG: &str = "<Response><Pause length=\"600\"/></Response>";

#[tokio::test]
async fn a_page_answers_a_call_presses_keys_mutes_and_hangs_up() {
    let Some(s) = scene().await else { return };
    let alice = token(&s.h, "alice", None, 3600);
    let state = s
        .run(
            "window.device = makeDevice(arguments[0]); await device.register(); return device.state;",
            vec![json!(alice)],
        )
        .await;
    assert_eq!(state, "registered");
    assert_eq!(s.next("registered").await, "registered");

    let mut events = s.h.sim.subscribe();
    let sid =
        s.h.call("client:alice?ticket=7", &[("Twiml", RINGS_LONG)])
            .await;
    let incoming = s.next("incoming").await;
    assert_eq!(
        incoming,
        json!({
            "parameters": {
                "AccountSid": s.h.sim.account_sid(),
                "CallSid": sid,
                "From": "+15005550006",
                "To": "client:alice",
            },
            "status": "pending",
            "direction": "INCOMING",
            "custom": {"ticket": "7"},
        })
    );
    s.run("call.accept();", vec![]).await;
    assert_eq!(s.next("call:accept").await, "open");
    call_event(&mut events, &sid, "in-progress").await;

    s.run("call.sendDigits('12#');", vec![]).await;
    call_event(&mut events, &sid, "pressed 12#").await;
    let refused = s
        .run(
            "try { call.sendDigits('1x'); } catch (e) { return e.name; }",
            vec![],
        )
        .await;
    assert_eq!(refused, "InvalidArgumentError");

    let muted = s
        .run(
            "call.mute(); call.mute(true); return call.isMuted();",
            vec![],
        )
        .await;
    assert_eq!(muted, true);
    assert_eq!(
        s.next("call:mute").await,
        json!({"muted": true, "same": true})
    );
    s.run("call.mute(false);", vec![]).await;
    // Muting twice emitted once: the next mute event is the unmute.
    assert_eq!(
        s.next("call:mute").await,
        json!({"muted": false, "same": true})
    );

    s.run("call.disconnect();", vec![]).await;
    assert_eq!(s.next("call:disconnect").await, "closed");
    call_event(&mut events, &sid, "completed").await;

    // The caller gives up while it rings: `cancel`.
    let sid = s.h.call("client:alice", &[("Twiml", RINGS_LONG)]).await;
    s.next("incoming").await;
    let r =
        s.h.http
            .post(s.h.url(&format!("/sim/calls/{sid}/hangup")))
            .send()
            .await
            .unwrap();
    assert!(r.status().is_success());
    assert_eq!(s.next("call:cancel").await, "closed");

    // The page declines: `reject`, and the caller hears busy.
    let sid = s.h.call("client:alice", &[("Twiml", RINGS_LONG)]).await;
    s.next("incoming").await;
    s.run("call.reject();", vec![]).await;
    assert_eq!(s.next("call:reject").await, "closed");
    assert_eq!(s.h.wait_final(&sid).await["status"], "busy");

    // Every device of the identity rings; when one answers, the others hear `cancel`.
    s.run(
        "window.other = makeDevice(arguments[0], {}, 'other:'); await other.register();",
        vec![json!(alice)],
    )
    .await;
    let sid = s.h.call("client:alice", &[("Twiml", RINGS_LONG)]).await;
    s.next("incoming").await;
    s.next("other:incoming").await;
    s.run("device.calls[0].accept();", vec![]).await;
    assert_eq!(s.next("call:accept").await, "open");
    assert_eq!(s.next("call:cancel").await, "closed");
    let left = s
        .run(
            "return [device.calls.length, other.calls.length, device.isBusy];",
            vec![],
        )
        .await;
    assert_eq!(left, json!([1, 0, true]));
    s.run("device.disconnectAll(); other.destroy();", vec![])
        .await;
    assert_eq!(s.next("call:disconnect").await, "closed");
    assert_eq!(s.next("other:destroyed").await, "destroyed");
    assert_eq!(s.h.wait_final(&sid).await["status"], "completed");

    // `ignore` stops the ringing on the page only: Twilio goes on ringing the device.
    let sid = s.h.call("client:alice", &[("Twiml", RINGS_LONG)]).await;
    s.next("incoming").await;
    let ignored = s
        .run(
            "call.ignore(); return { status: call.status(), calls: device.calls.length };",
            vec![],
        )
        .await;
    assert_eq!(ignored, json!({"status": "closed", "calls": 0}));
    assert_eq!(s.h.sim_call(&sid).await["status"], "ringing");

    // Unregistered, the page is not rung: a new call is unanswered at once.
    s.run("await device.unregister();", vec![]).await;
    assert_eq!(s.next("unregistered").await, "unregistered");
    let unrung = s.h.call("client:alice", &[("Twiml", "<Response/>")]).await;
    assert_eq!(s.h.wait_final(&unrung).await["status"], "no-answer");

    let mut devices = s.h.sim.subscribe_devices();
    let state = s
        .run("device.destroy(); return device.state;", vec![])
        .await;
    assert_eq!(state, "destroyed");
    assert_eq!(s.next("destroyed").await, "destroyed");
    let gone = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if devices.recv().await.unwrap().event == "unregistered" && s.h.sim.devices().is_empty()
            {
                return;
            }
        }
    });
    gone.await
        .expect("the destroyed devices to leave the simulator");
    s.end().await;
}

#[tokio::test]
async fn a_page_calls_its_tokens_application_with_its_parameters() {
    let Some(s) = scene().await else { return };
    s.h.rx
        .answer("/voice", "<Response><Pause length=\"1\"/></Response>");
    let (_, app) =
        s.h.post(
            &s.h.api("/Applications.json"),
            &[("VoiceUrl", &s.h.rx.url("/voice"))],
        )
        .await;
    let app_sid = app["sid"].as_str().unwrap();
    let alice = token(&s.h, "alice", Some(app_sid), 3600);
    let placed = s
        .run(
            "window.device = makeDevice(arguments[0]);
             window.call = await device.connect({ params: { To: 'support', ticket: 42 } });
             watchCall(call);
             return { status: call.status(), direction: call.direction, state: device.state,
                      custom: Object.fromEntries(call.customParameters) };",
            vec![json!(alice)],
        )
        .await;
    assert_eq!(
        placed,
        json!({
            "status": "connecting",
            "direction": "OUTGOING",
            "state": "unregistered",
            "custom": {"To": "support", "ticket": "42"},
        })
    );
    assert_eq!(s.next("call:ringing").await, "ringing");
    assert_eq!(s.next("call:accept").await, "open");
    let sid = s.run("return call.parameters.CallSid;", vec![]).await;
    let hooks =
        s.h.rx
            .wait_for("the application's voice request", |hs| {
                hs.iter().any(|h| h.path == "/voice")
            })
            .await;
    let voice = hooks.iter().find(|h| h.path == "/voice").unwrap();
    assert!(voice.signature_ok);
    for (k, v) in [
        ("Direction", "inbound"),
        ("From", "client:alice"),
        ("Caller", "client:alice"),
        ("To", "support"),
        ("ApplicationSid", app_sid),
        ("AccountSid", s.h.sim.account_sid()),
        ("CallSid", sid.as_str().unwrap()),
        ("CallStatus", "ringing"),
        ("ApiVersion", "2010-04-01"),
        ("ticket", "42"),
        ("team", "red"),
    ] {
        assert_eq!(voice.get(k), Some(v), "{k} in {voice:?}");
    }
    // The TwiML runs out: Twilio hangs up, and the page hears of it.
    assert_eq!(s.next("call:disconnect").await, "closed");

    // A token naming an application that does not exist: 31001, which the SDK reports as an
    // UnknownError unless asked for precise signaling errors.
    let missing = token(
        &s.h,
        "bob",
        Some("AP0000000000000000000000000000dead"),
        3600,
    );
    for (precise, code, name) in [
        (false, 31000, "UnknownError"),
        (true, 31001, "ApplicationNotFoundError"),
    ] {
        let failed = s
            .run(
                "const [token, precise] = arguments;
                 const d = makeDevice(token, { enableImprovedSignalingErrorPrecision: precise }, 'bob:');
                 const c = await d.connect();
                 const e = await new Promise((resolve) => c.on('error', resolve));
                 return { error: failure(e), status: c.status(), busy: d.isBusy };",
                vec![json!(missing), json!(precise)],
            )
            .await;
        assert_eq!(failed["error"]["code"], code, "{failed}");
        assert_eq!(failed["error"]["name"], name);
        assert_eq!(failed["error"]["original"], 31001);
        assert_eq!(
            (&failed["status"], &failed["busy"]),
            (&json!("closed"), &json!(false))
        );
        assert_eq!(s.next("bob:error").await["code"], code);
    }
    s.end().await;
}

#[tokio::test]
async fn a_page_hears_of_bad_and_expiring_tokens_as_the_sdk_tells_them() {
    let Some(s) = scene().await else { return };
    let forged = AccessToken::new(
        s.h.sim.account_sid(),
        DEFAULT_API_KEY_SID,
        SecretString::from("not the key's secret"),
        "alice",
    )
    .with_voice(VoiceGrant {
        incoming_allow: true,
        ..VoiceGrant::default()
    })
    .to_jwt()
    .unwrap();
    let refused = s
        .run(
            "const d = makeDevice(arguments[0], {}, 'forged:');
             try { await d.register(); } catch (e) { return { thrown: failure(e), state: d.state }; }",
            vec![json!(forged)],
        )
        .await;
    assert_eq!(refused["state"], "unregistered");
    assert_eq!(refused["thrown"]["code"], 20101);
    assert_eq!(refused["thrown"]["name"], "AccessTokenInvalid");
    assert_eq!(s.next("forged:error").await["code"], 20101);

    // Two devices whose tokens expire in 4 to 5 s (`exp` is in whole seconds), warned 3 s before,
    // so once registered; one takes a fresh token when warned.
    let fading = token(&s.h, "alice", None, 5);
    let kept = token(&s.h, "alice", None, 5);
    let fresh = token(&s.h, "alice", None, 3600);
    s.run(
        "const [fading, kept, fresh] = arguments;
         window.fading = makeDevice(fading, { tokenRefreshMs: 3000 });
         window.kept = makeDevice(kept, { tokenRefreshMs: 3000 }, 'kept:');
         window.kept.on('tokenWillExpire', (d) => d.updateToken(fresh));
         await window.fading.register();
         await window.kept.register();",
        vec![json!(fading), json!(kept), json!(fresh)],
    )
    .await;
    assert_eq!(s.next("tokenWillExpire").await, "registered");
    assert_eq!(s.next("kept:tokenWillExpire").await, "registered");
    let expired = s.next("error").await;
    assert_eq!(
        expired,
        json!({
            "code": 20104,
            "name": "AccessTokenExpired",
            "message": "AccessTokenExpired (20104): Access token expired or expiration date invalid",
            "original": 31205,
        })
    );
    assert_eq!(s.next("unregistered").await, "unregistered");
    // Only the device that took the fresh token still receives calls.
    let sid = s.h.call("client:alice", &[("Twiml", RINGS_LONG)]).await;
    assert_eq!(s.next("kept:incoming").await["parameters"]["CallSid"], sid);

    s.h.sim.advance_clock(Duration::from_secs(2 * 3600));
    let refused = s
        .run(
            "try { await makeDevice(arguments[0]).register(); } catch (e) { return failure(e); }",
            vec![json!(fresh)],
        )
        .await;
    assert_eq!(refused["code"], 20104);
    assert_eq!(refused["name"], "AccessTokenExpired");
    s.end().await;
}

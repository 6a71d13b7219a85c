//! `callbridge setup`, the built binary, against the simulator: from nothing to a `.env`, again
//! on its own output (nothing created twice), and `serve` on what it wrote placing a call.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use twilio_sim::{Sim, SimConfig};

use crate::calls_flow::{customer_who_answers, keen_agent};
use crate::helpers::{CALLER_ID, TIME_SCALE, expect_error, expect_success};

const BIN: &str = env!("CARGO_BIN_EXE_callbridge");
const AGENT_PHONE: &str = "+14155550161";
const CUSTOMER: &str = "+12025550161";
const PATIENCE: Duration = Duration::from_secs(60);

async fn sim() -> Sim {
    Sim::start(SimConfig {
        time_scale: TIME_SCALE,
        incoming_numbers: vec![CALLER_ID.to_owned(), "+15005550007".to_owned()],
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// `setup` with nothing but its flags, in `dir`, with no terminal to ask.
fn setup(dir: &Path, sim: &Sim, public_url: &str) -> Command {
    setup_calling_from(dir, sim, public_url, CALLER_ID)
}

fn setup_calling_from(dir: &Path, sim: &Sim, public_url: &str, caller_id: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .args(["setup", "--account-sid", sim.account_sid()])
        .args(["--auth-token", sim.auth_token()])
        .args(["--twilio-base-url", sim.base_url().as_str()])
        .args(["--public-url", public_url])
        .args(["--caller-id", caller_id])
        .args(["--email-domains", "example.com"]);
    cmd
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `GET` on the simulator's REST API with the account's credentials.
async fn rest(sim: &Sim, path: &str) -> Value {
    reqwest::Client::new()
        .get(sim.base_url().join(path).unwrap())
        .basic_auth(sim.account_sid(), Some(sim.auth_token()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// How many of each thing setup makes the account has.
async fn made(sim: &Sim) -> (usize, usize, usize) {
    let api = format!("2010-04-01/Accounts/{}", sim.account_sid());
    let count = |v: Value, key: &str| v[key].as_array().map_or(0, Vec::len);
    (
        count(rest(sim, "v2/Services").await, "services"),
        count(rest(sim, &format!("{api}/Keys.json")).await, "keys"),
        count(
            rest(sim, &format!("{api}/Applications.json")).await,
            "applications",
        ),
    )
}

fn env_value(dir: &Path, key: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(".env"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_owned))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn setup_from_nothing_then_again_creates_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let before = made(&sim).await;
    let first = setup(dir.path(), &sim, "https://calls.example.com/")
        .output()
        .await
        .unwrap();
    let out = text(&first);
    assert!(first.status.success(), "{out}");
    for line in [
        "created  Verify service",
        "created  API key",
        "created  TwiML App",
    ] {
        assert!(out.contains(line), "{line:?} missing from {out}");
    }
    assert!(out.contains("wrote .env; checking it:"), "{out}");
    let env = dir.path().join(".env");
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for key in [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "CALLER_ID",
        "PUBLIC_BASE_URL",
        "JWT_SECRET",
        "VERIFY_SERVICE_SID",
        "TWILIO_API_KEY",
        "TWILIO_API_SECRET",
        "TWIML_APP_SID",
        "ALLOWED_EMAIL_DOMAINS",
        "TWILIO_BASE_URL",
    ] {
        assert!(env_value(dir.path(), key).is_some(), "{key} not written");
    }
    assert_eq!(
        env_value(dir.path(), "PUBLIC_BASE_URL").unwrap(),
        "https://calls.example.com"
    );
    let after_first = made(&sim).await;
    assert_eq!(after_first, (before.0 + 1, before.1 + 1, before.2 + 1));
    let app_sid = env_value(dir.path(), "TWIML_APP_SID").unwrap();
    let app = rest(
        &sim,
        &format!(
            "2010-04-01/Accounts/{}/Applications/{app_sid}.json",
            sim.account_sid()
        ),
    )
    .await;
    assert_eq!(app["voice_url"], "https://calls.example.com/browser/voice");
    assert_eq!(
        app["status_callback"],
        "https://calls.example.com/browser/status"
    );
    assert_eq!(app["friendly_name"], "callbridge");

    // Again, on its own output: everything is found, nothing created, the file unchanged.
    let written = std::fs::read_to_string(&env).unwrap();
    let second = setup(dir.path(), &sim, "https://calls.example.com")
        .output()
        .await
        .unwrap();
    let out = text(&second);
    assert!(second.status.success(), "{out}");
    assert!(!out.contains("created"), "{out}");
    assert_eq!(out.matches("reused").count(), 3, "{out}");
    assert_eq!(made(&sim).await, after_first);
    assert_eq!(std::fs::read_to_string(&env).unwrap(), written);

    // A new public URL moves the TwiML App rather than making another.
    let moved = setup(dir.path(), &sim, "https://new.example.com")
        .arg("--force")
        .output()
        .await
        .unwrap();
    let out = text(&moved);
    assert!(moved.status.success(), "{out}");
    assert!(out.contains("updated  TwiML App"), "{out}");
    assert_eq!(made(&sim).await, after_first);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_a_differing_value_needs_force() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let before = made(&sim).await;
    let dry = setup(dir.path(), &sim, "https://calls.example.com")
        .arg("--dry-run")
        .output()
        .await
        .unwrap();
    let out = text(&dry);
    assert!(dry.status.success(), "{out}");
    assert!(out.contains("would create"), "{out}");
    assert!(
        out.contains("dry run: nothing was created or written"),
        "{out}"
    );
    assert!(!dir.path().join(".env").exists());
    assert_eq!(made(&sim).await, before);

    let mine = "# my own notes\nCALLER_ID=+15005550007\nMY_SETTING=keep\n";
    std::fs::write(dir.path().join(".env"), mine).unwrap();
    let refused = setup(dir.path(), &sim, "https://calls.example.com")
        .output()
        .await
        .unwrap();
    let out = text(&refused);
    assert_eq!(refused.status.code(), Some(1), "{out}");
    assert!(
        out.contains("already sets CALLER_ID to another value"),
        "{out}"
    );
    assert!(out.contains("--force"), "{out}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".env")).unwrap(),
        mine
    );
    assert_eq!(
        made(&sim).await,
        before,
        "nothing is created before the file can be written"
    );

    let forced = setup(dir.path(), &sim, "https://calls.example.com")
        .arg("--force")
        .output()
        .await
        .unwrap();
    assert!(forced.status.success(), "{}", text(&forced));
    let written = std::fs::read_to_string(dir.path().join(".env")).unwrap();
    assert!(
        written.starts_with("# my own notes\nCALLER_ID=+15005550006\nMY_SETTING=keep\n"),
        "{written}"
    );

    let unknown = setup_calling_from(
        dir.path(),
        &sim,
        "https://calls.example.com",
        "+14155550199",
    )
    .arg("--force")
    .output()
    .await
    .unwrap();
    let out = text(&unknown);
    assert_eq!(unknown.status.code(), Some(1), "{out}");
    assert!(out.contains("is not one of the account's numbers"), "{out}");
    assert!(
        out.contains(CALLER_ID),
        "the account's numbers are offered: {out}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn serve_runs_on_what_setup_wrote_and_places_a_call() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let port = free_port();
    let address = format!("http://127.0.0.1:{port}");
    let done = setup(dir.path(), &sim, &address).output().await.unwrap();
    assert!(done.status.success(), "{}", text(&done));

    let mut serve = Command::new(BIN)
        .env_clear()
        .current_dir(dir.path())
        .env("BIND", format!("127.0.0.1:{port}"))
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{address}{path}");
    // Nothing announces that a child process is listening: poll, with a deadline.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while client.get(url("/healthz")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "serve never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let code = |to: &str| {
        let (sim, to) = (&sim, to.to_owned());
        async move {
            let mut url = sim.base_url().join("sim/verifications").unwrap();
            url.query_pairs_mut().append_pair("to", &to);
            let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            body["code"].as_str().unwrap().to_owned()
        }
    };
    let post = |path: &str, body: Value| client.post(url(path)).json(&body).send();
    expect_success(
        post("/setup/email/init", json!({"email": "ada@example.com"}))
            .await
            .unwrap(),
    )
    .await;
    let validated = expect_success(
        post(
            "/setup/email/validate",
            json!({"email": "ada@example.com", "code": code("ada@example.com").await}),
        )
        .await
        .unwrap(),
    )
    .await;
    let setup_token = validated["data"]["token"].as_str().unwrap().to_owned();
    expect_success(
        post(
            "/setup/phone/init",
            json!({"token": setup_token, "phone": AGENT_PHONE}),
        )
        .await
        .unwrap(),
    )
    .await;
    let verified = expect_success(
        post(
            "/setup/phone/validate",
            json!({"token": setup_token, "phone": AGENT_PHONE, "code": code(AGENT_PHONE).await}),
        )
        .await
        .unwrap(),
    )
    .await;
    let call_token = verified["data"]["token"].as_str().unwrap().to_owned();
    // The domain setup was told is the only one allowed.
    let (status, _) = expect_error(
        post("/setup/email/init", json!({"email": "eve@elsewhere.test"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);

    sim.set_number(AGENT_PHONE, keen_agent());
    sim.set_number(CUSTOMER, customer_who_answers());
    let started = client
        .post(url("/call/start"))
        .bearer_auth(&call_token)
        .json(&json!({"to": CUSTOMER}))
        .send()
        .await
        .unwrap();
    assert!(
        started.status().is_success(),
        "{}",
        started.text().await.unwrap()
    );
    let id = started.json::<Value>().await.unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let view = |id: String| {
        let (client, call_token) = (&client, &call_token);
        let address = address.clone();
        async move {
            let response = client
                .get(format!("{address}/calls/{id}"))
                .bearer_auth(call_token)
                .send()
                .await
                .unwrap();
            expect_success(response).await["data"].clone()
        }
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while view(id.clone()).await["state"] != "connected" {
        assert!(tokio::time::Instant::now() < deadline, "never connected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let hung_up = client
        .post(url(&format!("/calls/{id}/hangup")))
        .bearer_auth(&call_token)
        .send()
        .await
        .unwrap();
    assert!(hung_up.status().is_success());
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while view(id.clone()).await["state"] != "completed" {
        assert!(tokio::time::Instant::now() < deadline, "never completed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    serve.start_kill().unwrap();
    let _ = serve.wait().await;
    sim.shutdown().await;
}

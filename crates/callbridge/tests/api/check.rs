//! `callbridge check`, the built binary, against a running simulator.

use std::path::Path;
use std::process::Output;

use tokio::process::Command;
use twilio_sim::{Sim, SimConfig};

use crate::helpers::{CALLER_ID, JWT_SECRET, VERIFY_SERVICE_SID, create_twiml_app};

const BIN: &str = env!("CARGO_BIN_EXE_callbridge");

/// A simulator whose account owns exactly [`CALLER_ID`] and one more number.
async fn sim() -> Sim {
    Sim::start(SimConfig {
        incoming_numbers: vec![CALLER_ID.to_owned(), "+15005550007".to_owned()],
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

/// The binary with only the settings a `serve` against `sim` needs, in an empty directory so no
/// developer `.env` leaks in.
fn check(dir: &Path, sim: &Sim) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .current_dir(dir)
        .arg("check")
        .env("TWILIO_ACCOUNT_SID", sim.account_sid())
        .env("TWILIO_AUTH_TOKEN", sim.auth_token())
        .env("TWILIO_BASE_URL", sim.base_url().as_str())
        .env("CALLER_ID", CALLER_ID)
        .env("VERIFY_SERVICE_SID", VERIFY_SERVICE_SID)
        .env("JWT_SECRET", JWT_SECRET)
        .env("PUBLIC_BASE_URL", "http://127.0.0.1:8080")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("callbridge.db").display()),
        );
    cmd
}

async fn migrate(dir: &Path) {
    let url = format!("sqlite://{}", dir.join("callbridge.db").display());
    callbridge::store::open(&url).await.unwrap().close().await;
}

async fn run(cmd: &mut Command) -> (Output, Vec<String>) {
    let output = cmd.output().await.unwrap();
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    (output, lines)
}

/// The report's line about `subject`.
fn line<'a>(lines: &'a [String], subject: &str) -> &'a str {
    lines
        .iter()
        .find(|l| {
            l.get(6..)
                .is_some_and(|rest| rest.starts_with(&format!("{subject}:")))
        })
        .unwrap_or_else(|| panic!("no line about {subject} in {lines:#?}"))
}

#[tokio::test]
async fn a_good_configuration_passes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    migrate(dir.path()).await;
    let (out, lines) = run(&mut check(dir.path(), &sim)).await;
    assert!(out.status.success(), "{lines:#?}");
    for subject in [
        "Twilio credentials",
        "CALLER_ID",
        "DATABASE_URL",
        "PUBLIC_BASE_URL",
        "JWT_SECRET",
    ] {
        assert!(line(&lines, subject).starts_with("ok "), "{lines:#?}");
    }
    assert!(line(&lines, "VERIFY_SERVICE_SID").starts_with("skip"));
    assert!(line(&lines, "DATABASE_URL").contains("up to date"));
    let browser = line(&lines, "TWIML_APP_SID");
    assert!(browser.starts_with("skip"), "{browser}");
    assert!(
        browser.contains("set TWILIO_API_KEY, TWILIO_API_SECRET, TWIML_APP_SID"),
        "{browser}"
    );
    assert_eq!(
        lines.last().unwrap(),
        "5 ok, 0 warnings, 2 skipped, 0 failed"
    );
    // Nothing secret is printed.
    let all = lines.join("\n");
    assert!(!all.contains(sim.auth_token()) && !all.contains(JWT_SECRET));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_auth_token_fails_with_twilios_words() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    migrate(dir.path()).await;
    let (out, lines) = run(check(dir.path(), &sim).env("TWILIO_AUTH_TOKEN", "not-the-token")).await;
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let credentials = line(&lines, "Twilio credentials");
    assert!(credentials.starts_with("FAIL"), "{credentials}");
    assert!(
        credentials.contains("401 (error 20003): Authenticate"),
        "{credentials}"
    );
    assert!(credentials.contains("TWILIO_AUTH_TOKEN"), "{credentials}");
    assert!(line(&lines, "CALLER_ID").starts_with("skip"));
    // The rest is still checked.
    assert!(line(&lines, "DATABASE_URL").starts_with("ok "));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_caller_id_the_account_does_not_own_fails_and_names_those_it_does() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    migrate(dir.path()).await;
    let (out, lines) = run(check(dir.path(), &sim).env("CALLER_ID", "+14155550199")).await;
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let caller_id = line(&lines, "CALLER_ID");
    assert!(caller_id.starts_with("FAIL"), "{caller_id}");
    assert!(
        caller_id.contains("+14155550199 is not among the account's phone numbers"),
        "{caller_id}"
    );
    assert!(
        caller_id.ends_with("set CALLER_ID to one of: +15005550006, +15005550007"),
        "{caller_id}"
    );
    assert!(line(&lines, "Twilio credentials").starts_with("ok "));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_database_and_plain_http_are_warnings_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let (out, lines) = run(check(dir.path(), &sim)
        .env("PUBLIC_BASE_URL", "http://calls.example.com")
        .env_remove("VERIFY_SERVICE_SID"))
    .await;
    assert!(out.status.success(), "{lines:#?}");
    assert!(
        line(&lines, "DATABASE_URL").starts_with("warn"),
        "{lines:#?}"
    );
    assert!(line(&lines, "DATABASE_URL").contains("callbridge migrate"));
    assert!(line(&lines, "PUBLIC_BASE_URL").starts_with("warn"));
    assert!(line(&lines, "VERIFY_SERVICE_SID").starts_with("warn"));
    assert!(!dir.path().join("callbridge.db").exists());
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unmigrated_database_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let url = format!("sqlite://{}", dir.path().join("callbridge.db").display());
    // Created, connected to, but never migrated.
    callbridge::store::connect(&url)
        .await
        .unwrap()
        .close()
        .await;
    let (out, lines) = run(&mut check(dir.path(), &sim)).await;
    assert!(out.status.success(), "{lines:#?}");
    let database = line(&lines, "DATABASE_URL");
    assert!(database.starts_with("warn"), "{database}");
    assert!(
        database.contains("migrations not applied yet"),
        "{database}"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn an_invalid_configuration_is_one_failure() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    let (out, lines) = run(check(dir.path(), &sim).env("JWT_SECRET", "too-short")).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].starts_with("FAIL  configuration: JWT_SECRET must be at least 32 bytes"));
    sim.shutdown().await;
}

#[tokio::test]
async fn with_an_api_key_both_it_and_the_auth_token_are_checked() {
    const KEY: &str = "SK00000000000000000000000000000001";
    let dir = tempfile::tempdir().unwrap();
    let sim = Sim::start(SimConfig {
        incoming_numbers: vec![CALLER_ID.to_owned()],
        api_keys: vec![(KEY.to_owned(), "the-key-secret".to_owned())],
        ..SimConfig::default()
    })
    .await
    .unwrap();
    migrate(dir.path()).await;

    let (out, lines) = run(check(dir.path(), &sim)
        .env("TWILIO_API_KEY", KEY)
        .env("TWILIO_API_SECRET", "the-key-secret"))
    .await;
    assert!(out.status.success(), "{lines:#?}");
    assert!(line(&lines, "TWILIO_AUTH_TOKEN").starts_with("ok "));
    assert!(line(&lines, "TWILIO_API_KEY").starts_with("ok "));

    let (out, lines) = run(check(dir.path(), &sim)
        .env("TWILIO_API_KEY", KEY)
        .env("TWILIO_API_SECRET", "not-the-secret")
        .env("TWILIO_AUTH_TOKEN", "not-the-token"))
    .await;
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let token = line(&lines, "TWILIO_AUTH_TOKEN");
    assert!(
        token.starts_with("FAIL") && token.contains("403"),
        "{token}"
    );
    let key = line(&lines, "TWILIO_API_KEY");
    assert!(
        key.starts_with("FAIL") && key.contains("TWILIO_API_SECRET"),
        "{key}"
    );
    sim.shutdown().await;
}

/// `check` set up for browser agents with the TwiML App `app`.
fn check_browser(dir: &Path, sim: &Sim, app: &str) -> Command {
    let mut cmd = check(dir, sim);
    cmd.env("TWILIO_API_KEY", twilio_sim::DEFAULT_API_KEY_SID)
        .env("TWILIO_API_SECRET", twilio_sim::DEFAULT_API_KEY_SECRET)
        .env("TWIML_APP_SID", app);
    cmd
}

#[tokio::test]
async fn browser_calling_needs_a_twiml_app_that_points_here() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim().await;
    migrate(dir.path()).await;

    let ours = create_twiml_app(&sim, "http://127.0.0.1:8080").await;
    let (out, lines) = run(&mut check_browser(dir.path(), &sim, &ours)).await;
    assert!(out.status.success(), "{lines:#?}");
    let browser = line(&lines, "TWIML_APP_SID");
    assert!(browser.starts_with("ok "), "{browser}");
    assert!(
        browser.contains("http://127.0.0.1:8080/browser/voice"),
        "{browser}"
    );
    assert!(
        line(&lines, "TWILIO_API_KEY").starts_with("ok "),
        "{lines:#?}"
    );

    let elsewhere = create_twiml_app(&sim, "https://old.example.com").await;
    let (out, lines) = run(&mut check_browser(dir.path(), &sim, &elsewhere)).await;
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    let browser = line(&lines, "TWIML_APP_SID");
    assert!(browser.starts_with("FAIL"), "{browser}");
    assert!(
        browser.contains("set it to POST http://127.0.0.1:8080/browser/voice"),
        "{browser}"
    );

    let missing = "AP0000000000000000000000000000dead";
    let (out, lines) = run(&mut check_browser(dir.path(), &sim, missing)).await;
    assert_eq!(out.status.code(), Some(1), "{lines:#?}");
    assert!(
        line(&lines, "TWIML_APP_SID").starts_with("FAIL"),
        "{lines:#?}"
    );
    sim.shutdown().await;
}

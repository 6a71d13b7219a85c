//! The built binary, run as a user would.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::helpers::JWT_SECRET;

const BIN: &str = env!("CARGO_BIN_EXE_callbridge");

// The published vector of Twilio's helper libraries (twilio-python, twilio-node).
const TOKEN: &str = "12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const PARAMS: [&str; 5] = [
    "CallSid=CA1234567890ABCDE",
    "Digits=1234",
    "From=+14158675309",
    "To=+18005551212",
    "Caller=+14158675309",
];
const SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const BODY: &str = r#"{"property": "value", "boolean": true}"#;
const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

/// The binary in an empty directory with an empty environment, so no developer `.env` or
/// exported variable leaks in.
fn callbridge(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear().current_dir(dir);
    cmd
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

fn minimal_env(cmd: &mut Command) -> &mut Command {
    cmd.env("TWILIO_ACCOUNT_SID", "AC00000000000000000000000000000000")
        .env("TWILIO_AUTH_TOKEN", "test-auth-token")
        .env("CALLER_ID", "+14155550100")
        .env("JWT_SECRET", JWT_SECRET)
        .env("BIND", "127.0.0.1:0")
        .env("LOG_FORMAT", "json")
        .env("ALLOWED_EMAIL_DOMAINS", "example.com")
}

fn webhook(dir: &Path, args: &[&str]) -> (Output, String, String) {
    run(callbridge(dir).arg("webhook").args(args))
}

fn with_params<'a>(mut args: Vec<&'a str>, params: &[&'a str]) -> Vec<&'a str> {
    for p in params {
        args.extend(["--param", p]);
    }
    args
}

#[test]
fn webhook_sign_gives_the_published_signature() {
    let dir = tempfile::tempdir().unwrap();
    let args = with_params(vec!["sign", "--auth-token", TOKEN, "--url", URL], &PARAMS);
    let (out, stdout, stderr) = webhook(dir.path(), &args);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), SIGNATURE);
}

#[test]
fn webhook_verify_accepts_the_published_signature_and_rejects_a_tampered_param() {
    let dir = tempfile::tempdir().unwrap();
    let base = vec![
        "verify",
        "--auth-token",
        TOKEN,
        "--url",
        URL,
        "--signature",
        SIGNATURE,
    ];
    let (out, stdout, _) = webhook(dir.path(), &with_params(base.clone(), &PARAMS));
    assert!(out.status.success());
    assert_eq!(
        stdout,
        format!("valid\nsigned URL: {URL} (the URL as given)\n")
    );

    let mut tampered = PARAMS;
    tampered[1] = "Digits=9999";
    let (out, _, stderr) = webhook(dir.path(), &with_params(base, &tampered));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("invalid: signature mismatch"),
        "{stderr}"
    );
    assert!(stderr.contains(URL), "the URLs tried are named: {stderr}");
    assert!(
        stderr.contains(
            "sorted as signed: CallSid=CA1234567890ABCDE, Caller=+14158675309, Digits=9999"
        ),
        "{stderr}"
    );
}

#[test]
fn webhook_sign_then_verify_round_trips_for_any_url() {
    let dir = tempfile::tempdir().unwrap();
    let url = "https://calls.example.com/phone-to-phone/status?call=abc";
    let params = ["CallStatus=ringing", "CallSid=CA1"];
    let (_, signature, _) = webhook(
        dir.path(),
        &with_params(vec!["sign", "--auth-token", "tok", "--url", url], &params),
    );
    let args = vec![
        "verify",
        "--auth-token",
        "tok",
        "--url",
        url,
        "--signature",
        signature.trim(),
    ];
    let (out, _, stderr) = webhook(dir.path(), &with_params(args, &params));
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn webhook_json_bodies_are_signed_through_the_url() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.json");
    std::fs::write(&body, BODY).unwrap();
    let body = body.to_str().unwrap();
    let url = "https://mycompany.com/myapp.php";
    let (out, stdout, stderr) = webhook(
        dir.path(),
        &[
            "sign",
            "--auth-token",
            TOKEN,
            "--url",
            url,
            "--body-file",
            body,
        ],
    );
    assert!(out.status.success(), "{stderr}");
    let signed_url = format!("{url}?bodySHA256={BODY_HASH}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(format!("URL: {signed_url}").as_str()));
    let signature = lines
        .next()
        .unwrap()
        .strip_prefix("X-Twilio-Signature: ")
        .unwrap();

    let verify = [
        "verify",
        "--auth-token",
        TOKEN,
        "--url",
        &signed_url,
        "--signature",
        signature,
        "--body-file",
        body,
    ];
    let (out, stdout, _) = webhook(dir.path(), &verify);
    assert!(out.status.success());
    assert_eq!(stdout.lines().next(), Some("valid"));

    std::fs::write(dir.path().join("body.json"), r#"{"property": "other"}"#).unwrap();
    let (out, _, stderr) = webhook(dir.path(), &verify);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("body hash mismatch"), "{stderr}");
}

#[test]
fn webhook_form_bodies_are_read_as_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.txt");
    // As a request log shows the body, with the newline a copy into a file adds.
    std::fs::write(
        &body,
        "CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212\
         &Caller=%2B14158675309\n",
    )
    .unwrap();
    let body = body.to_str().unwrap();
    let (out, stdout, stderr) = webhook(
        dir.path(),
        &[
            "sign",
            "--auth-token",
            TOKEN,
            "--url",
            URL,
            "--body-file",
            body,
        ],
    );
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), SIGNATURE);

    let verify = |signature: &str| {
        webhook(
            dir.path(),
            &[
                "verify",
                "--auth-token",
                TOKEN,
                "--url",
                URL,
                "--signature",
                signature,
                "--body-file",
                body,
            ],
        )
    };
    let (out, stdout, stderr) = verify(SIGNATURE);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().next(), Some("valid"));
    let (out, _, stderr) = verify("RSOYDt4T1cUTdK1PDd93/VVr8B8X");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(
            "parameters, sorted as signed: CallSid=CA1234567890ABCDE, Caller=+14158675309"
        ),
        "{stderr}"
    );
}

#[test]
fn webhook_verify_names_the_url_variant_twilio_node_would_match() {
    let dir = tempfile::tempdir().unwrap();
    // Twilio signed the URL with the quote as it was configured; the request came escaped.
    let url = "https://example.com/path?test=param%27WithQuote";
    let args = [
        "verify",
        "--auth-token",
        "s3cr3t",
        "--url",
        url,
        "--signature",
        "GfI7onHX/KQ2k1oVS3cUTVk4IEw=",
    ];
    let (out, stdout, stderr) = webhook(dir.path(), &args);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<_> = stdout.lines().collect();
    assert_eq!(lines[0], "valid");
    assert_eq!(
        lines[1],
        "signed URL: https://example.com/path?test=param'WithQuote (the URL with twilio-node's \
         legacy query encoding (' kept, spaces as %20), without the port)"
    );
    assert!(lines[2].contains("answers this request 403"), "{stdout}");

    let mut wrong = args;
    wrong[6] = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let (out, _, stderr) = webhook(dir.path(), &wrong);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(
            "  https://example.com/path?test=param'WithQuote (the URL with twilio-node's legacy"
        ),
        "every variant is listed: {stderr}"
    );
}

#[test]
fn webhook_sign_refuses_a_param_without_equals() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) = webhook(
        dir.path(),
        &[
            "sign",
            "--auth-token",
            "t",
            "--url",
            URL,
            "--param",
            "Digits",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr.contains("is not NAME=VALUE"), "{stderr}");
}

#[test]
fn serve_without_auth_token_prints_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = callbridge(dir.path());
    minimal_env(&mut cmd)
        .env_remove("TWILIO_AUTH_TOKEN")
        .arg("serve");
    let (out, stdout, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: TWILIO_AUTH_TOKEN is not set: set it to your account's auth token (Console → Account info)\n"
    );
}

#[test]
fn serve_with_a_short_jwt_secret_prints_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = callbridge(dir.path());
    minimal_env(&mut cmd)
        .env("JWT_SECRET", "twelve bytes")
        .arg("serve");
    let (out, _, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr,
        "error: JWT_SECRET must be at least 32 bytes (got 12): generate one with `openssl rand -base64 32`\n"
    );
}

#[test]
fn serve_with_a_caller_id_outside_the_numbering_plan_stops_on_its_own_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = callbridge(dir.path());
    // E.164 in shape, so the service starts; no such number in the plan, so it stops.
    minimal_env(&mut cmd)
        .env("CALLER_ID", "+1 555 000 0000")
        .env("DATABASE_URL", "sqlite::memory:")
        .arg("serve");
    let (out, _, stderr) = run(&mut cmd);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("CALLER_ID is not usable"), "{stderr}");
    assert!(
        !stderr.contains("5550000000"),
        "the number is masked: {stderr}"
    );
}

#[test]
fn serve_without_allowed_email_domains_or_open_signup_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = callbridge(dir.path());
    minimal_env(&mut cmd)
        .env_remove("ALLOWED_EMAIL_DOMAINS")
        .arg("serve");
    let (out, stdout, stderr) = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "error: ALLOWED_EMAIL_DOMAINS is empty, which lets anyone sign up: set it to the domains \
         allowed to sign up (e.g. example.com), or set OPEN_SIGNUP=1 to let anyone\n"
    );

    let mut cmd = callbridge(dir.path());
    minimal_env(&mut cmd)
        .env_remove("ALLOWED_EMAIL_DOMAINS")
        .env("OPEN_SIGNUP", "1")
        .arg("serve");
    let server = Server::start(&mut cmd);
    let health = reqwest::blocking::get(format!("http://{}/healthz", server.addr)).unwrap();
    assert_eq!(health.status(), 200);
    assert!(server.terminate().success());
}

#[test]
fn log_lines_never_hold_a_whole_email_or_phone_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = callbridge(dir.path());
    // Twilio cannot be reached: every send fails after its rate limits were counted.
    minimal_env(&mut cmd)
        .env("TWILIO_BASE_URL", "http://127.0.0.1:9")
        .env("VERIFY_SERVICE_SID", "VA00000000000000000000000000000000")
        .arg("serve");
    let server = Server::start(&mut cmd);
    let client = reqwest::blocking::Client::new();
    let url = format!("http://{}/setup/init", server.addr);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = client
            .post(&url)
            .form(&[
                ("email", "ada.lovelace@example.com"),
                ("phone", "+14155550123"),
            ])
            .send()
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    // Then one phone with fresh emails, so that its own limit is the one that refuses.
    for n in 0..4 {
        let email = format!("n{n}@example.com");
        let response = client
            .post(&url)
            .form(&[("email", email.as_str()), ("phone", "+12025550123")])
            .send()
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [502, 502, 502, 429, 502, 502, 502, 429]);
    let lines = server.terminate_and_read_log();
    let log = lines.join("\n");
    assert!(log.contains("rate limited"), "{log}");
    assert!(log.contains("a***@example.com"), "{log}");
    assert!(log.contains("+1202***0123"), "{log}");
    for whole in [
        "ada.lovelace@example.com",
        "+14155550123",
        "4155550123",
        "+12025550123",
        "2025550123",
    ] {
        assert!(!log.contains(whole), "{whole} reached the log:\n{log}");
    }
}

#[test]
fn serve_reads_a_dotenv_file_with_the_seed_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "ACCOUNT_SID=AC00000000000000000000000000000000\nAUTH_TOKEN=seed-token\n\
             CALLER_ID=+14155550100\nJWT_SECRET={JWT_SECRET}\nBIND=127.0.0.1:0\nLOG_FORMAT=json\n\
             OPEN_SIGNUP=1\n"
        ),
    )
    .unwrap();
    let server = Server::start(callbridge(dir.path()).arg("serve"));
    let health = reqwest::blocking::get(format!("http://{}/healthz", server.addr)).unwrap();
    assert_eq!(health.status(), 200);
    server.terminate();
}

#[test]
fn serve_answers_health_and_readiness_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = callbridge(dir.path());
    minimal_env(&mut cmd).arg("serve");
    let server = Server::start(&mut cmd);
    for path in ["/healthz", "/readyz"] {
        let response = reqwest::blocking::get(format!("http://{}{path}", server.addr)).unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    assert!(
        dir.path().join("callbridge.db").exists(),
        "the default SQLite file is created"
    );
    let status = server.terminate();
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

#[test]
fn metrics_bind_serves_metrics_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = callbridge(dir.path());
    minimal_env(&mut cmd)
        .env("METRICS_BIND", "127.0.0.1:0")
        .arg("serve");
    let server = Server::start(&mut cmd);
    let metrics_addr = server
        .metrics_addr
        .clone()
        .expect("metrics listener announced");
    reqwest::blocking::get(format!("http://{}/healthz", server.addr)).unwrap();
    let metrics = reqwest::blocking::get(format!("http://{metrics_addr}/metrics")).unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().unwrap().contains("route=\"/healthz\""));
    let health = reqwest::blocking::get(format!("http://{metrics_addr}/healthz")).unwrap();
    assert_eq!(health.status(), 404);
    assert!(server.terminate().success());
}

#[test]
fn migrate_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("migrated.db");
    let (out, stdout, stderr) = run(callbridge(dir.path())
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .arg("migrate"));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "database is up to date (sqlite)");
    assert!(db.exists());
}

#[test]
fn migrate_refuses_an_unsupported_database_url() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _, stderr) = run(callbridge(dir.path())
        .env("DATABASE_URL", "mysql://root:pw@db/x")
        .arg("migrate"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.starts_with("error: DATABASE_URL is not supported"),
        "{stderr}"
    );
    assert!(!stderr.contains("pw@"), "{stderr}");
}

/// A `callbridge serve` child whose address is read from its JSON log.
struct Server {
    child: Child,
    addr: String,
    metrics_addr: Option<String>,
    /// The log lines written after "listening".
    lines: Option<mpsc::Receiver<String>>,
}

impl Server {
    fn start(cmd: &mut Command) -> Self {
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Owned by the guard at once, so every path below kills and reaps it.
        let mut server = Self {
            child,
            addr: String::new(),
            metrics_addr: None,
            lines: None,
        };
        let stderr = server.child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        // A bound so a broken server fails the test instead of hanging it; not a speed check.
        while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                let fields = &json["fields"];
                let addr = fields["addr"].as_str().map(str::to_owned);
                if fields["message"] == "metrics listening" {
                    server.metrics_addr = addr;
                } else if fields["message"] == "listening" {
                    server.addr = addr.unwrap();
                    server.lines = Some(rx);
                    return server;
                }
            }
            seen.push(line);
        }
        panic!(
            "serve never said it was listening; it wrote:\n{}",
            seen.join("\n")
        );
    }

    /// Stops the server and returns every line it logged after it said it was listening.
    fn terminate_and_read_log(mut self) -> Vec<String> {
        let lines = self.lines.take().unwrap();
        assert!(self.terminate_child().success());
        // The reader ends at the closed pipe, which disconnects the channel.
        lines.iter().collect()
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        self.terminate_child()
    }

    fn terminate_child(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

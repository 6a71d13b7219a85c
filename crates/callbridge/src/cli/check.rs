//! `callbridge check`: tries the configuration `serve` would use against Twilio (or the simulator)
//! and the database, without placing a call or changing anything, and says what to fix.

use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use secrecy::ExposeSecret;
use sqlx::sqlite::SqliteConnectOptions;
use url::{Host, Url};

use crate::config::{MIN_JWT_SECRET_BYTES, RawSettings, Settings};
use crate::store::{Backend, MigrationStatus};

/// A database that does not answer within this is as good as down for a check.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(10);
/// Numbers of the account named in a failure, so the fix can be copied from the output.
const NUMBERS_SUGGESTED: u32 = 5;
/// Fewer distinct characters than this in `JWT_SECRET` suggests a placeholder, not a random key.
const MIN_DISTINCT_SECRET_BYTES: usize = 10;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    settings: RawSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    Warn,
    /// Not checked, for a reason given; never a failure.
    Skip,
    Fail,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Padded here because `{:<4}` is ignored by a hand-written Display.
        f.write_str(match self {
            Self::Ok => "ok  ",
            Self::Warn => "warn",
            Self::Skip => "skip",
            Self::Fail => "FAIL",
        })
    }
}

/// One line of the report: what was checked, how it went, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finding {
    level: Level,
    subject: &'static str,
    detail: String,
}

impl Finding {
    fn new(level: Level, subject: &'static str, detail: impl Into<String>) -> Self {
        Self {
            level,
            subject,
            detail: detail.into(),
        }
    }
}

pub(super) async fn run(args: CheckArgs) -> ExitCode {
    let findings = match Settings::from_raw(args.settings) {
        Ok(settings) => check_all(&settings).await,
        // Without a valid configuration nothing else can be tried; the error names the variable.
        Err(err) => vec![Finding::new(Level::Fail, "configuration", err.to_string())],
    };
    for line in report(&findings) {
        println!("{line}");
    }
    if findings.iter().any(|f| f.level == Level::Fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn check_all(settings: &Settings) -> Vec<Finding> {
    let (twilio, database) = tokio::join!(check_twilio(settings), check_database(settings));
    let mut findings = twilio;
    findings.push(verify_service(
        settings.twilio.verify_service_sid.as_deref(),
    ));
    findings.push(database);
    findings.push(public_base_url(
        &settings.public_base_url,
        settings.twilio.base_url.is_some(),
    ));
    findings.push(jwt_secret(settings.jwt_secret.expose_secret()));
    findings
}

fn report(findings: &[Finding]) -> Vec<String> {
    let count = |level| findings.iter().filter(|f| f.level == level).count();
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| format!("{}  {}: {}", f.level, f.subject, f.detail))
        .collect();
    lines.push(format!(
        "{} ok, {} warnings, {} skipped, {} failed",
        count(Level::Ok),
        count(Level::Warn),
        count(Level::Skip),
        count(Level::Fail)
    ));
    lines
}

/// Lists the account's numbers matching `CALLER_ID`: one request proves the credentials and
/// finds the number. With an API key, the auth token is tried on its own too, because it still
/// signs every webhook.
async fn check_twilio(settings: &Settings) -> Vec<Finding> {
    let where_ = twilio_location(settings.twilio.base_url.as_ref());
    let token_client = client(
        settings,
        twilio::Credentials::AuthToken(settings.twilio.auth_token.clone()),
    );
    let mut findings = Vec::new();
    let main_client = match &settings.twilio.api_key {
        Some(key) => {
            findings.push(auth_token_finding(&token_client, settings, &where_).await);
            client(
                settings,
                twilio::Credentials::ApiKey {
                    sid: key.sid.clone(),
                    secret: key.secret.clone(),
                },
            )
        }
        None => token_client,
    };
    let credentials_subject = if settings.twilio.api_key.is_some() {
        "TWILIO_API_KEY"
    } else {
        "Twilio credentials"
    };
    let client = match main_client {
        Ok(client) => client,
        Err(why) => {
            findings.push(Finding::new(Level::Fail, credentials_subject, why));
            return findings;
        }
    };
    let caller_id = settings.caller_id.as_str();
    match list_matching(&client, caller_id, 50).await {
        Err(err) => {
            findings.push(Finding::new(
                Level::Fail,
                credentials_subject,
                twilio_failure(&err, credentials_advice(settings)),
            ));
            findings.push(Finding::new(
                Level::Skip,
                "CALLER_ID",
                "not checked: the account's numbers could not be listed",
            ));
        }
        Ok(numbers) => {
            findings.push(Finding::new(
                Level::Ok,
                credentials_subject,
                format!(
                    "{where_} accepts them for account {}",
                    settings.twilio.account_sid
                ),
            ));
            findings.push(if owns(&numbers, caller_id) {
                Finding::new(
                    Level::Ok,
                    "CALLER_ID",
                    format!("{caller_id} is one of the account's numbers"),
                )
            } else {
                let others = list_matching(&client, "", NUMBERS_SUGGESTED).await.ok();
                caller_id_missing(caller_id, others.as_deref())
            });
            findings.push(browser_app(settings, &client).await);
        }
    }
    findings
}

/// Browser calling needs the API key (to sign the SDK's tokens) and a TwiML App whose Voice URL
/// and Status Callback are ours.
async fn browser_app(settings: &Settings, client: &twilio::Client) -> Finding {
    const SUBJECT: &str = "TWIML_APP_SID";
    let missing = crate::browser::missing_settings(settings);
    let Some(sid) = settings
        .twilio
        .twiml_app_sid
        .as_deref()
        .filter(|_| missing.is_empty())
    else {
        return Finding::new(
            Level::Skip,
            SUBJECT,
            format!(
                "browser calling is not set up: set {} to let agents call from a browser",
                missing.join(", ")
            ),
        );
    };
    let app = match client.fetch_application(sid).await {
        Ok(app) => app,
        Err(err) => {
            return Finding::new(
                Level::Fail,
                SUBJECT,
                twilio_failure(
                    &err,
                    "the app must belong to TWILIO_ACCOUNT_SID (Console → Voice → TwiML Apps)",
                ),
            );
        }
    };
    let voice_url = settings.public_url(crate::browser::VOICE_PATH);
    let status_url = settings.public_url(crate::browser::STATUS_PATH);
    let is_post = |method: Option<&str>| method.is_none_or(|m| m.eq_ignore_ascii_case("POST"));
    if app.voice_url.as_deref() != Some(voice_url.as_str()) || !is_post(app.voice_method.as_deref())
    {
        return Finding::new(
            Level::Fail,
            SUBJECT,
            format!(
                "{sid}'s Voice URL is {} {}: set it to POST {voice_url}, or browser calls reach \
                 somebody else",
                app.voice_method.as_deref().unwrap_or("POST"),
                app.voice_url.as_deref().unwrap_or("(none)"),
            ),
        );
    }
    if app.status_callback.as_deref() != Some(status_url.as_str())
        || !is_post(app.status_callback_method.as_deref())
    {
        return Finding::new(
            Level::Warn,
            SUBJECT,
            format!(
                "{sid}'s Status Callback is {}: set it to POST {status_url}, so that the call log \
                 shows how each browser call ended",
                app.status_callback.as_deref().unwrap_or("not set"),
            ),
        );
    }
    Finding::new(
        Level::Ok,
        SUBJECT,
        format!("{sid} sends browser calls to {voice_url}"),
    )
}

/// The auth token on its own, for when REST goes through an API key.
async fn auth_token_finding(
    token_client: &Result<twilio::Client, String>,
    settings: &Settings,
    where_: &str,
) -> Finding {
    const SUBJECT: &str = "TWILIO_AUTH_TOKEN";
    let checked = match token_client {
        Ok(client) => list_matching(client, settings.caller_id.as_str(), 1)
            .await
            .map(|_| ())
            .map_err(|err| twilio_failure(&err, "copy it from the Console (Account info)")),
        Err(err) => Err(err.clone()),
    };
    match checked {
        Ok(()) => Finding::new(
            Level::Ok,
            SUBJECT,
            format!("{where_} accepts it (it signs every webhook)"),
        ),
        Err(why) => Finding::new(
            Level::Fail,
            SUBJECT,
            format!("{why} (webhooks would be refused with 403 until it is right)"),
        ),
    }
}

fn client(settings: &Settings, credentials: twilio::Credentials) -> Result<twilio::Client, String> {
    let mut config = twilio::ClientConfig::new(settings.twilio.account_sid.clone(), credentials);
    config.base_url.clone_from(&settings.twilio.base_url);
    twilio::Client::new(config).map_err(|e| e.to_string())
}

/// Phone numbers of the account containing `filter` (all of them when empty), first page only.
async fn list_matching(
    client: &twilio::Client,
    filter: &str,
    page_size: u32,
) -> Result<Vec<String>, twilio::Error> {
    let params = twilio::ListIncomingPhoneNumbers {
        phone_number: (!filter.is_empty()).then(|| filter.to_owned()),
        page_size: Some(page_size),
    };
    let page = client.list_incoming_phone_numbers(&params).await?;
    Ok(page
        .items
        .into_iter()
        .filter_map(|n| n.phone_number)
        .collect())
}

/// Twilio's own words, then what to change: the credentials for a refusal, the address when
/// nothing answered.
fn twilio_failure(err: &twilio::Error, credentials_advice: &str) -> String {
    let refused = err.known_code() == Some(twilio::ErrorCode::AuthenticationFailed)
        || matches!(err.status(), Some(401 | 403));
    if refused {
        format!("{err}: {credentials_advice}")
    } else if matches!(err, twilio::Error::Transport(_)) {
        format!("{err}: check TWILIO_BASE_URL (unset for Twilio itself) and the network")
    } else {
        err.to_string()
    }
}

/// Twilio's `PhoneNumber` filter matches parts of numbers too, so the match is made exact here.
fn owns(numbers: &[String], caller_id: &str) -> bool {
    numbers.iter().any(|n| n == caller_id)
}

/// `others`: some of the account's numbers, `None` when they could not be listed.
fn caller_id_missing(caller_id: &str, others: Option<&[String]>) -> Finding {
    let suggestion = match others {
        None => "set CALLER_ID to one of its numbers (Console → Phone Numbers)".to_owned(),
        Some([]) => "the account has no phone number: buy one (Console → Phone Numbers) and set \
                     CALLER_ID to it"
            .to_owned(),
        Some(others) => format!("set CALLER_ID to one of: {}", others.join(", ")),
    };
    Finding::new(
        Level::Fail,
        "CALLER_ID",
        format!(
            "{caller_id} is not among the account's phone numbers, so Twilio would refuse every \
             call from it (error 21210): {suggestion}"
        ),
    )
}

fn credentials_advice(settings: &Settings) -> &'static str {
    if settings.twilio.api_key.is_some() {
        "check TWILIO_API_KEY and TWILIO_API_SECRET (the key must belong to TWILIO_ACCOUNT_SID)"
    } else {
        "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (Console → Account info)"
    }
}

fn twilio_location(base_url: Option<&Url>) -> String {
    match base_url {
        Some(url) => format!("Twilio at {}", url.as_str().trim_end_matches('/')),
        None => "Twilio".to_owned(),
    }
}

/// Twilio's Verify API has a fetch for a service, but the client does not use it and the
/// simulator does not serve it; the first verification sent shows whether the service exists.
fn verify_service(sid: Option<&str>) -> Finding {
    match sid {
        None => Finding::new(
            Level::Warn,
            "VERIFY_SERVICE_SID",
            "not set: agents cannot sign up, the /setup endpoints need a Verify service \
             (Console → Verify → Services)",
        ),
        Some(sid) => Finding::new(
            Level::Skip,
            "VERIFY_SERVICE_SID",
            format!(
                "{sid} is well-formed but not fetched; the first /setup/email/init shows \
                 whether Twilio knows it"
            ),
        ),
    }
}

async fn check_database(settings: &Settings) -> Finding {
    const SUBJECT: &str = "DATABASE_URL";
    let url = settings.database_url.expose_secret();
    let backend = match Backend::from_url(url) {
        Ok(backend) => backend,
        Err(err) => return Finding::new(Level::Fail, SUBJECT, err.to_string()),
    };
    // Connecting would create the file; a check changes nothing.
    if let Some(path) = sqlite_file(backend, url)
        && !path.exists()
    {
        return Finding::new(
            Level::Warn,
            SUBJECT,
            format!(
                "{} does not exist yet: `callbridge migrate` (or the first `serve`) creates it",
                path.display()
            ),
        );
    }
    let status = tokio::time::timeout(DATABASE_TIMEOUT, async {
        let store = crate::store::connect(url).await?;
        let status = async {
            store.ping().await?;
            store.migration_status().await
        }
        .await;
        store.close().await;
        status
    })
    .await;
    match status {
        Err(_) => Finding::new(
            Level::Fail,
            SUBJECT,
            format!(
                "the {} database did not answer within {} s: check that it is up and reachable",
                backend.as_str(),
                DATABASE_TIMEOUT.as_secs()
            ),
        ),
        Ok(Err(err)) => Finding::new(
            Level::Fail,
            SUBJECT,
            format!(
                "cannot use the {} database: {err}: check DATABASE_URL and that the server is up",
                backend.as_str()
            ),
        ),
        Ok(Ok(status)) => schema_finding(backend, &status),
    }
}

fn sqlite_file(backend: Backend, url: &str) -> Option<PathBuf> {
    if backend != Backend::Sqlite || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    SqliteConnectOptions::from_str(url)
        .ok()
        .map(|options| options.get_filename().to_path_buf())
}

fn schema_finding(backend: Backend, status: &MigrationStatus) -> Finding {
    const SUBJECT: &str = "DATABASE_URL";
    let versions = |v: &[i64]| v.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
    let backend = backend.as_str();
    if !status.failed.is_empty() {
        Finding::new(
            Level::Fail,
            SUBJECT,
            format!(
                "{backend} reachable, but migration {} failed part-way: repair the schema by \
                 hand, delete its row from _sqlx_migrations, then run `callbridge migrate`",
                versions(&status.failed)
            ),
        )
    } else if !status.unknown.is_empty() {
        Finding::new(
            Level::Fail,
            SUBJECT,
            format!(
                "{backend} reachable, but migrated by a newer callbridge (versions {} are \
                 unknown to this one): run the newer build",
                versions(&status.unknown)
            ),
        )
    } else if !status.pending.is_empty() {
        Finding::new(
            Level::Warn,
            SUBJECT,
            format!(
                "{backend} reachable; {} of {} migrations not applied yet: run `callbridge \
                 migrate` (serve also applies them at start)",
                status.pending.len(),
                status.known
            ),
        )
    } else {
        Finding::new(
            Level::Ok,
            SUBJECT,
            format!(
                "{backend} reachable, schema up to date ({} migrations)",
                status.known
            ),
        )
    }
}

fn public_base_url(url: &Url, twilio_base_url_set: bool) -> Finding {
    const SUBJECT: &str = "PUBLIC_BASE_URL";
    let shown = url.as_str().trim_end_matches('/');
    let loopback = match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost" || domain.ends_with(".localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match (loopback, url.scheme() == "https") {
        (true, _) if twilio_base_url_set => Finding::new(
            Level::Ok,
            SUBJECT,
            format!("{shown} is on this machine: fine for a local simulator, never for Twilio"),
        ),
        (true, _) => Finding::new(
            Level::Warn,
            SUBJECT,
            format!(
                "{shown} is on this machine, where Twilio cannot reach it: set it to the public \
                 https URL (a domain, a load balancer or a tunnel) that forwards to BIND"
            ),
        ),
        (false, false) => Finding::new(
            Level::Warn,
            SUBJECT,
            format!(
                "{shown} is plain http: Twilio would send the call's numbers unencrypted; serve \
                 https (e.g. behind a TLS proxy) and set an https URL"
            ),
        ),
        (false, true) => Finding::new(Level::Ok, SUBJECT, format!("{shown} is https")),
    }
}

/// `Settings` already refuses a secret shorter than the minimum; what is left to catch is a
/// long placeholder such as 32 times the same letter.
fn jwt_secret(secret: &str) -> Finding {
    const SUBJECT: &str = "JWT_SECRET";
    let len = secret.len();
    let mut bytes: Vec<u8> = secret.bytes().collect();
    bytes.sort_unstable();
    bytes.dedup();
    if len < MIN_JWT_SECRET_BYTES {
        Finding::new(
            Level::Fail,
            SUBJECT,
            format!(
                "{len} bytes, at least {MIN_JWT_SECRET_BYTES} needed: generate one with \
                 `openssl rand -base64 32`"
            ),
        )
    } else if bytes.len() < MIN_DISTINCT_SECRET_BYTES {
        Finding::new(
            Level::Warn,
            SUBJECT,
            format!(
                "{len} bytes but only {} distinct characters, which looks like a placeholder: \
                 generate one with `openssl rand -base64 32`",
                bytes.len()
            ),
        )
    } else {
        Finding::new(
            Level::Ok,
            SUBJECT,
            format!("{len} bytes (at least {MIN_JWT_SECRET_BYTES})"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(raw: &str) -> Url {
        Url::parse(raw).unwrap()
    }

    #[test]
    fn https_is_fine_and_plain_http_outside_this_machine_is_a_warning() {
        let ok = public_base_url(&url("https://calls.example.com"), false);
        assert_eq!(ok.level, Level::Ok);
        let plain = public_base_url(&url("http://calls.example.com/"), false);
        assert_eq!(plain.level, Level::Warn);
        assert!(plain.detail.contains("https"), "{}", plain.detail);
        // With the simulator there is no one to send anything in clear to but this machine.
        for local in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert_eq!(
                public_base_url(&url(local), true).level,
                Level::Ok,
                "{local}"
            );
        }
    }

    #[test]
    fn a_loopback_url_with_the_real_twilio_is_a_warning() {
        let finding = public_base_url(&url("https://127.0.0.1:8443"), false);
        assert_eq!(finding.level, Level::Warn);
        assert!(
            finding.detail.contains("cannot reach"),
            "{}",
            finding.detail
        );
    }

    #[test]
    fn jwt_secret_length_and_placeholders() {
        assert_eq!(jwt_secret("short").level, Level::Fail);
        assert_eq!(jwt_secret(&"a".repeat(64)).level, Level::Warn);
        let random_looking = "q7Z1Lw0Hc2yN8vJ5pXr3tBfK6sD9mGaE4uYiOe1Rk0w=";
        let finding = jwt_secret(random_looking);
        assert_eq!(finding.level, Level::Ok);
        assert!(finding.detail.starts_with("44 bytes"), "{}", finding.detail);
        // Never the secret itself.
        assert!(!finding.detail.contains(random_looking));
    }

    #[test]
    fn caller_id_must_match_exactly() {
        let numbers = vec!["+15005550006".to_owned(), "+14155550100".to_owned()];
        assert!(owns(&numbers, "+14155550100"));
        // What a partial-match filter would also return.
        assert!(!owns(&numbers, "+1415555010"));
        let missing = caller_id_missing("+14155550999", Some(&numbers));
        assert_eq!(missing.level, Level::Fail);
        assert!(
            missing
                .detail
                .ends_with("set CALLER_ID to one of: +15005550006, +14155550100"),
            "{}",
            missing.detail
        );
        let none = caller_id_missing("+14155550999", Some(&[]));
        assert!(
            none.detail.contains("has no phone number"),
            "{}",
            none.detail
        );
        let unknown = caller_id_missing("+14155550999", None);
        assert!(
            unknown.detail.ends_with("(Console → Phone Numbers)"),
            "{}",
            unknown.detail
        );
    }

    #[test]
    fn schema_status_decides_the_database_line() {
        let status = |pending: Vec<i64>, unknown: Vec<i64>, failed: Vec<i64>| MigrationStatus {
            known: 4,
            pending,
            unknown,
            failed,
        };
        let level = |s: MigrationStatus| schema_finding(Backend::Sqlite, &s).level;
        assert_eq!(level(status(vec![], vec![], vec![])), Level::Ok);
        assert_eq!(level(status(vec![3, 4], vec![], vec![])), Level::Warn);
        assert_eq!(level(status(vec![], vec![5], vec![])), Level::Fail);
        assert_eq!(level(status(vec![4], vec![], vec![3])), Level::Fail);
    }

    #[test]
    fn sqlite_files_are_found_and_memory_and_servers_are_not() {
        assert_eq!(
            sqlite_file(Backend::Sqlite, "sqlite:///tmp/x/callbridge.db"),
            Some(PathBuf::from("/tmp/x/callbridge.db"))
        );
        assert_eq!(
            sqlite_file(Backend::Sqlite, "sqlite://callbridge.db?mode=rwc"),
            Some(PathBuf::from("callbridge.db"))
        );
        assert_eq!(sqlite_file(Backend::Sqlite, "sqlite::memory:"), None);
        assert_eq!(sqlite_file(Backend::Postgres, "postgres://u@h/db"), None);
    }

    #[test]
    fn the_report_ends_with_counts() {
        let lines = report(&[
            Finding::new(Level::Ok, "A", "fine"),
            Finding::new(Level::Fail, "B", "broken: fix it"),
            Finding::new(Level::Skip, "C", "not checked"),
        ]);
        assert_eq!(
            lines,
            [
                "ok    A: fine",
                "FAIL  B: broken: fix it",
                "skip  C: not checked",
                "1 ok, 0 warnings, 1 skipped, 1 failed",
            ]
        );
    }

    #[test]
    fn a_refusal_points_at_the_credentials_and_anything_else_does_not() {
        let refused = twilio::Error::Api {
            status: 401,
            code: Some(20003),
            message: "Authenticate".into(),
            more_info: None,
        };
        assert_eq!(
            twilio_failure(&refused, "check the token"),
            "Twilio answered 401 (error 20003): Authenticate: check the token"
        );
        let busy = twilio::Error::Api {
            status: 503,
            code: None,
            message: "try later".into(),
            more_info: None,
        };
        assert!(!twilio_failure(&busy, "check the token").contains("check the token"));
    }

    #[test]
    fn no_twilio_base_url_means_twilio_itself() {
        assert_eq!(twilio_location(None), "Twilio");
        assert_eq!(
            twilio_location(Some(&url("http://127.0.0.1:8090/"))),
            "Twilio at http://127.0.0.1:8090"
        );
    }
}

//! `callbridge setup`: from a Twilio account SID and auth token to a `.env` that `serve` runs
//! with. It finds or creates (by friendly name, so that running it again creates nothing) the
//! Verify service, the API key and the TwiML App browser agents need, and a Sync service when
//! asked; checks `CALLER_ID`; generates `JWT_SECRET`; merges all of it into the `.env`; then
//! runs `callbridge check` on the result.

mod env_file;
mod prompt;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use twilio::{ApplicationParams, HttpMethod};

use self::env_file::{Change, EnvFile};
use crate::config::MIN_JWT_SECRET_BYTES;
use crate::domain::PhoneNumber;

/// Numbers of the account offered when `CALLER_ID` is missing or not the account's.
const NUMBERS_LISTED: u32 = 20;
/// Length of a generated `JWT_SECRET`.
const JWT_SECRET_CHARS: usize = 48;

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Twilio account SID (AC…); asked for when missing and a terminal is there.
    #[arg(long, env = "TWILIO_ACCOUNT_SID", hide_env_values = true)]
    account_sid: Option<String>,
    /// The account's auth token; asked for (without echo) when missing.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// The URL Twilio reaches the service at, e.g. https://calls.example.com.
    #[arg(long, env = "PUBLIC_BASE_URL")]
    public_url: Option<String>,
    /// The account's number calls come from (E.164); offered from the account's numbers.
    #[arg(long, env = "CALLER_ID")]
    caller_id: Option<String>,
    /// Comma-separated email domains allowed to sign up.
    #[arg(long, env = "ALLOWED_EMAIL_DOMAINS")]
    email_domains: Option<String>,
    /// One base URL for every Twilio product (the simulator); unset means Twilio's own hosts.
    #[arg(long, env = "TWILIO_BASE_URL")]
    twilio_base_url: Option<String>,
    /// The file to write.
    #[arg(long, default_value = ".env")]
    env_file: PathBuf,
    /// The friendly name of everything created, and what it is found by again.
    #[arg(long, default_value = "callbridge")]
    name: String,
    /// Also create (or reuse) a Sync service, to mirror verified agents as the seed did.
    #[arg(long)]
    sync: bool,
    /// Replace values the `.env` already holds when they differ.
    #[arg(long)]
    force: bool,
    /// Say what would be created and written, and do neither.
    #[arg(long)]
    dry_run: bool,
}

/// Why a set-up stopped; one line, with what to do.
#[derive(Debug, thiserror::Error)]
enum SetupError {
    #[error("{0}")]
    Missing(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{step}: {detail}")]
    Twilio { step: &'static str, detail: String },
    #[error(
        "{} already sets {} to another value: run again with --force to replace it",
        .file.display(), .keys.join(", ")
    )]
    Conflict { file: PathBuf, keys: Vec<String> },
    #[error("could not write {}: {source}", .file.display())]
    Write {
        file: PathBuf,
        source: std::io::Error,
    },
}

pub(super) async fn run(args: SetupArgs) -> ExitCode {
    let env_file = args.env_file.clone();
    let dry_run = args.dry_run;
    match setup(args).await {
        Ok(_) if dry_run => {
            println!("dry run: nothing was created or written");
            ExitCode::SUCCESS
        }
        Ok(file) => {
            println!("wrote {}; checking it:", env_file.display());
            check(&file.vars()).await
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What was found at Twilio for one resource, and what will be done about it.
enum Found<T> {
    Reuse(T),
    Create,
}

/// Value `key` already has: given to this command (environment, `.env` of the working
/// directory), else in the file being written.
fn existing(file: &EnvFile, key: &str) -> Option<String> {
    std::env::var(key)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| file.get(key))
}

async fn setup(args: SetupArgs) -> Result<EnvFile, SetupError> {
    let mut file = EnvFile::read(&args.env_file).map_err(|source| SetupError::Write {
        file: args.env_file.clone(),
        source,
    })?;
    let account_sid = args
        .account_sid
        .clone()
        .or_else(|| file.get("TWILIO_ACCOUNT_SID"))
        .or_else(|| prompt::ask("Twilio account SID (AC…)"))
        .ok_or_else(|| {
            SetupError::Missing(
                "the account SID is needed: --account-sid or TWILIO_ACCOUNT_SID (Console → \
                 Account info)"
                    .into(),
            )
        })?;
    if !account_sid.starts_with("AC") || account_sid.len() != 34 {
        return Err(SetupError::Invalid(format!(
            "{account_sid:?} is not an account SID: it is AC and 32 hex digits (Console → Account info)"
        )));
    }
    let auth_token: SecretString = args
        .auth_token
        .clone()
        .or_else(|| file.get("TWILIO_AUTH_TOKEN"))
        .or_else(|| prompt::ask_secret("Auth token"))
        .ok_or_else(|| {
            SetupError::Missing(
                "the auth token is needed: --auth-token or TWILIO_AUTH_TOKEN (Console → Account \
                 info)"
                    .into(),
            )
        })?
        .into();
    let public_url = args
        .public_url
        .clone()
        .or_else(|| file.get("PUBLIC_BASE_URL"))
        .or_else(|| prompt::ask("The URL Twilio reaches this service at (https://…)"))
        .ok_or_else(|| {
            SetupError::Missing(
                "the public URL is needed: --public-url or PUBLIC_BASE_URL, the https address \
                 Twilio sends webhooks to"
                    .into(),
            )
        })?;
    let public = url::Url::parse(&public_url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| SetupError::Invalid(format!("{public_url:?} is not an http(s) URL")))?;
    let public_url = public.as_str().trim_end_matches('/').to_owned();
    let base_url = args
        .twilio_base_url
        .clone()
        .or_else(|| file.get("TWILIO_BASE_URL"));

    let twilio = client(&account_sid, &auth_token, base_url.as_deref())?;
    let verb = if args.dry_run {
        "would create"
    } else {
        "created"
    };
    println!("setting up account {account_sid} for {public_url}");

    let caller_id = caller_id(&twilio, &args, &file).await?;
    println!("  ok       CALLER_ID {caller_id} is one of the account's numbers");

    let verify = find_service(
        &twilio,
        false,
        existing(&file, "VERIFY_SERVICE_SID"),
        &args.name,
    )
    .await?;
    let sync = if args.sync || existing(&file, "SYNC_SERVICE_SID").is_some() {
        Some(
            find_service(
                &twilio,
                true,
                existing(&file, "SYNC_SERVICE_SID"),
                &args.name,
            )
            .await?,
        )
    } else {
        None
    };
    let key = find_key(&twilio, &file).await?;
    let voice_url = format!("{public_url}{}", crate::browser::VOICE_PATH);
    let status_url = format!("{public_url}{}", crate::browser::STATUS_PATH);
    let app = find_app(&twilio, existing(&file, "TWIML_APP_SID"), &args.name).await?;
    let jwt_secret = existing(&file, "JWT_SECRET")
        .filter(|s| s.len() >= MIN_JWT_SECRET_BYTES)
        .unwrap_or_else(|| {
            rand::rng()
                .sample_iter(Alphanumeric)
                .take(JWT_SECRET_CHARS)
                .map(char::from)
                .collect()
        });
    let email_domains = args
        .email_domains
        .clone()
        .or_else(|| file.get("ALLOWED_EMAIL_DOMAINS"))
        .or_else(|| prompt::ask("Email domains allowed to sign up (comma-separated)"));

    // What the file will hold; a resource still to create holds no value yet, and a file that
    // names another one is a conflict (a valid one would have been reused).
    let mut values: Vec<(&'static str, String)> = vec![
        ("TWILIO_ACCOUNT_SID", account_sid.clone()),
        ("TWILIO_AUTH_TOKEN", auth_token.expose_secret().to_owned()),
        ("CALLER_ID", caller_id.as_str().to_owned()),
        ("PUBLIC_BASE_URL", public_url.clone()),
        ("JWT_SECRET", jwt_secret),
    ];
    if let Some(base) = &base_url {
        values.push(("TWILIO_BASE_URL", base.clone()));
    }
    if let Some(domains) = &email_domains {
        values.push(("ALLOWED_EMAIL_DOMAINS", domains.clone()));
    }
    let mut to_create = Vec::new();
    for (key, found) in [
        ("VERIFY_SERVICE_SID", Some(&verify)),
        ("SYNC_SERVICE_SID", sync.as_ref()),
        ("TWIML_APP_SID", Some(&app)),
    ] {
        match found {
            Some(Found::Reuse(sid)) => values.push((key, sid.clone())),
            Some(Found::Create) => to_create.push(key),
            None => {}
        }
    }
    match &key {
        Found::Reuse((sid, secret)) => {
            values.push(("TWILIO_API_KEY", sid.clone()));
            values.push(("TWILIO_API_SECRET", secret.expose_secret().to_owned()));
        }
        Found::Create => to_create.extend(["TWILIO_API_KEY", "TWILIO_API_SECRET"]),
    }
    let mut conflicts: Vec<String> = to_create
        .iter()
        .filter(|k| file.get(k).is_some())
        .map(|k| (*k).to_owned())
        .collect();
    conflicts.extend(
        values
            .iter()
            .filter(|(k, v)| file.get(k).is_some_and(|current| current != *v))
            .map(|(k, _)| (*k).to_owned()),
    );
    if !conflicts.is_empty() && !args.force {
        return Err(SetupError::Conflict {
            file: args.env_file.clone(),
            keys: conflicts,
        });
    }

    // Reused resources are brought in line; the rest are created, unless this is a dry run.
    let step = |what: &str, name: &str, sid: &str| println!("  {what:<8} {name} ({sid})");
    match verify {
        Found::Reuse(sid) => step("reused", "Verify service", &sid),
        Found::Create if args.dry_run => step(verb, "Verify service", &args.name),
        Found::Create => {
            let made = twilio
                .create_verify_service(&args.name)
                .await
                .map_err(|e| twilio_error("create the Verify service", &e))?;
            step(verb, "Verify service", &made.sid);
            values.push(("VERIFY_SERVICE_SID", made.sid));
            println!(
                "           note: Verify emails codes only once the service has an email \
                 integration (Console → Verify → Services → {} → Email: a SendGrid API key and \
                 template); SMS works at once",
                args.name
            );
        }
    }
    match sync {
        None => {}
        Some(Found::Reuse(sid)) => step("reused", "Sync service", &sid),
        Some(Found::Create) if args.dry_run => step(verb, "Sync service", &args.name),
        Some(Found::Create) => {
            let made = twilio
                .create_sync_service(&args.name)
                .await
                .map_err(|e| twilio_error("create the Sync service", &e))?;
            step(verb, "Sync service", &made.sid);
            values.push(("SYNC_SERVICE_SID", made.sid));
        }
    }
    match key {
        Found::Reuse((sid, _)) => step("reused", "API key", &sid),
        Found::Create if args.dry_run => step(verb, "API key", &args.name),
        Found::Create => {
            let made = twilio
                .create_key(&args.name)
                .await
                .map_err(|e| twilio_error("create the API key", &e))?;
            step(verb, "API key", &made.sid);
            values.push(("TWILIO_API_KEY", made.sid));
            values.push(("TWILIO_API_SECRET", made.secret.expose_secret().to_owned()));
        }
    }
    let wanted = ApplicationParams {
        friendly_name: Some(args.name.clone()),
        voice_url: Some(voice_url.clone()),
        voice_method: Some(HttpMethod::Post),
        status_callback: Some(status_url.clone()),
        status_callback_method: Some(HttpMethod::Post),
    };
    match app {
        Found::Reuse(sid) => {
            let current = twilio
                .fetch_application(&sid)
                .await
                .map_err(|e| twilio_error("read the TwiML App", &e))?;
            let right = current.voice_url.as_deref() == Some(voice_url.as_str())
                && current.status_callback.as_deref() == Some(status_url.as_str())
                && is_post(current.voice_method.as_deref())
                && is_post(current.status_callback_method.as_deref());
            if right {
                step("reused", "TwiML App", &sid);
            } else if args.dry_run {
                step("would update", "TwiML App", &sid);
            } else {
                twilio
                    .update_application(&sid, &wanted)
                    .await
                    .map_err(|e| twilio_error("update the TwiML App", &e))?;
                step(
                    "updated",
                    "TwiML App",
                    &format!("{sid}, Voice URL {voice_url}"),
                );
            }
        }
        Found::Create if args.dry_run => step(verb, "TwiML App", &voice_url),
        Found::Create => {
            let made = twilio
                .create_application(&wanted)
                .await
                .map_err(|e| twilio_error("create the TwiML App", &e))?;
            step(
                verb,
                "TwiML App",
                &format!("{}, Voice URL {voice_url}", made.sid),
            );
            values.push(("TWIML_APP_SID", made.sid));
        }
    }
    if email_domains.is_none() {
        println!(
            "           note: ALLOWED_EMAIL_DOMAINS is not set: serve starts once it is (or \
             OPEN_SIGNUP=1 lets anyone sign up)"
        );
    }

    let changes = file.apply(&values);
    for change in &changes {
        match change {
            Change::Added { key } => println!(
                "  {:<8} {key}",
                if args.dry_run { "would set" } else { "set" }
            ),
            Change::Replaced { key } => println!(
                "  {:<8} {key}",
                if args.dry_run {
                    "would replace"
                } else {
                    "replaced"
                }
            ),
        }
    }
    if !args.dry_run {
        write(&file, &args.env_file)?;
    }
    Ok(file)
}

fn write(file: &EnvFile, path: &Path) -> Result<(), SetupError> {
    file.write(path).map_err(|source| SetupError::Write {
        file: path.to_owned(),
        source,
    })
}

fn is_post(method: Option<&str>) -> bool {
    method.is_none_or(|m| m.eq_ignore_ascii_case("POST"))
}

fn client(
    account_sid: &str,
    auth_token: &SecretString,
    base_url: Option<&str>,
) -> Result<twilio::Client, SetupError> {
    let mut config = twilio::ClientConfig::new(
        account_sid.to_owned(),
        twilio::Credentials::AuthToken(auth_token.clone()),
    );
    config.base_url = base_url
        .map(|u| {
            url::Url::parse(u).map_err(|e| {
                SetupError::Invalid(format!("TWILIO_BASE_URL {u:?} is not a URL: {e}"))
            })
        })
        .transpose()?;
    twilio::Client::new(config).map_err(|e| SetupError::Invalid(e.to_string()))
}

/// Twilio's own words, then what to do.
fn twilio_error(step: &'static str, err: &twilio::Error) -> SetupError {
    let refused = err.known_code() == Some(twilio::ErrorCode::AuthenticationFailed)
        || matches!(err.status(), Some(401));
    let detail = if refused {
        format!("{err}: check the account SID and auth token (Console → Account info)")
    } else if matches!(err.status(), Some(403)) {
        format!("{err}: the credentials may not do this; use the account's auth token, not a key")
    } else if matches!(err, twilio::Error::Transport(_)) {
        format!("{err}: check the network, or TWILIO_BASE_URL (unset for Twilio itself)")
    } else {
        err.to_string()
    };
    SetupError::Twilio { step, detail }
}

/// `CALLER_ID` as given, if the account owns it; else the account's only number, or the one
/// the person picks.
async fn caller_id(
    twilio: &twilio::Client,
    args: &SetupArgs,
    file: &EnvFile,
) -> Result<PhoneNumber, SetupError> {
    let page = twilio
        .list_incoming_phone_numbers(&twilio::ListIncomingPhoneNumbers {
            phone_number: None,
            page_size: Some(NUMBERS_LISTED),
        })
        .await
        .map_err(|e| twilio_error("list the account's numbers", &e))?;
    let numbers: Vec<String> = page
        .items
        .into_iter()
        .filter_map(|n| n.phone_number)
        .collect();
    let given = args.caller_id.clone().or_else(|| file.get("CALLER_ID"));
    let chosen = match given {
        Some(given) => given,
        None if numbers.len() == 1 => numbers[0].clone(),
        None if numbers.is_empty() => {
            return Err(SetupError::Missing(
                "the account has no phone number: buy one (Console → Phone Numbers), then run \
                 setup again"
                    .into(),
            ));
        }
        None => prompt::ask(&format!("Number calls come from ({})", numbers.join(", ")))
            .ok_or_else(|| {
                SetupError::Missing(format!(
                    "CALLER_ID is needed: --caller-id one of {}",
                    numbers.join(", ")
                ))
            })?,
    };
    let phone = PhoneNumber::parse(&chosen)
        .map_err(|e| SetupError::Invalid(format!("CALLER_ID {chosen:?}: {e}")))?;
    // Twilio's PhoneNumber filter matches parts of numbers; a full page is looked at instead.
    let owned = numbers.iter().any(|n| n == phone.as_str())
        || twilio
            .list_incoming_phone_numbers(&twilio::ListIncomingPhoneNumbers {
                phone_number: Some(phone.as_str().to_owned()),
                page_size: Some(NUMBERS_LISTED),
            })
            .await
            .map_err(|e| twilio_error("look for CALLER_ID", &e))?
            .items
            .iter()
            .any(|n| n.phone_number.as_deref() == Some(phone.as_str()));
    if !owned {
        return Err(SetupError::Invalid(format!(
            "{phone} is not one of the account's numbers, so Twilio would refuse every call from \
             it: use one of {}",
            if numbers.is_empty() {
                "(none: buy one in the Console)".to_owned()
            } else {
                numbers.join(", ")
            }
        )));
    }
    Ok(phone)
}

/// The service `existing` names if the account has it, else the one called `name`.
async fn find_service(
    twilio: &twilio::Client,
    sync: bool,
    existing: Option<String>,
    name: &str,
) -> Result<Found<String>, SetupError> {
    let listed = if sync {
        twilio.list_sync_services().await
    } else {
        twilio.list_verify_services().await
    }
    .map_err(|e| {
        twilio_error(
            if sync {
                "list the Sync services"
            } else {
                "list the Verify services"
            },
            &e,
        )
    })?;
    let by_sid = existing.and_then(|sid| listed.items.iter().find(|s| s.sid == sid));
    let by_name = || {
        listed
            .items
            .iter()
            .find(|s| s.friendly_name.as_deref() == Some(name))
    };
    Ok(match by_sid.or_else(by_name) {
        Some(service) => Found::Reuse(service.sid.clone()),
        None => Found::Create,
    })
}

/// The API key the environment or the file names, if the account still has it; its secret
/// cannot be read back, so a key is never found by name.
async fn find_key(
    twilio: &twilio::Client,
    file: &EnvFile,
) -> Result<Found<(String, SecretString)>, SetupError> {
    let (Some(sid), Some(secret)) = (
        existing(file, "TWILIO_API_KEY"),
        existing(file, "TWILIO_API_SECRET"),
    ) else {
        return Ok(Found::Create);
    };
    match twilio.fetch_key(&sid).await {
        Ok(_) => Ok(Found::Reuse((sid, secret.into()))),
        Err(err) if err.status() == Some(404) => Ok(Found::Create),
        Err(err) => Err(twilio_error("read the API key", &err)),
    }
}

/// The TwiML App `existing` names if the account has it, else the one called `name`.
async fn find_app(
    twilio: &twilio::Client,
    existing: Option<String>,
    name: &str,
) -> Result<Found<String>, SetupError> {
    if let Some(sid) = existing {
        match twilio.fetch_application(&sid).await {
            Ok(app) => return Ok(Found::Reuse(app.sid)),
            Err(err) if err.status() == Some(404) => {}
            Err(err) => return Err(twilio_error("read the TwiML App", &err)),
        }
    }
    let named = twilio
        .list_applications(Some(name), 20)
        .await
        .map_err(|e| twilio_error("list the TwiML Apps", &e))?;
    Ok(match named.items.into_iter().next() {
        Some(app) => Found::Reuse(app.sid),
        None => Found::Create,
    })
}

/// `callbridge check` on what was written, in a process of its own so that it reads exactly
/// the file's values.
async fn check(vars: &std::collections::BTreeMap<String, String>) -> ExitCode {
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("error: could not find this program to run `callbridge check`");
        return ExitCode::FAILURE;
    };
    let status = tokio::process::Command::new(exe)
        .arg("check")
        .envs(vars)
        .status()
        .await;
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: could not run `callbridge check`: {err}");
            ExitCode::FAILURE
        }
    }
}

//! Settings: read from the environment (and `.env`), checked once, then trusted.

mod args;
mod browser;
mod duration;
mod timeouts;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use args::RawSettings;
pub use browser::{BrowserSettings, VENDORED_VOICE_SDK_PATH};
pub use timeouts::Timeouts;

use crate::destinations::Policy;
use crate::domain::{EmailAddress, PhoneNumber};

pub const MIN_JWT_SECRET_BYTES: usize = 32;
const DEFAULT_BIND: &str = "127.0.0.1:8080";
const DEFAULT_PUBLIC_BASE_URL: &str = "http://127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://callbridge.db";
const DEFAULT_DESTINATIONS: &str = "US,CA";
const DEFAULT_SMS_PER_HOUR: u32 = 100;
const DEFAULT_AIRTABLE_BASE_URL: &str = "https://api.airtable.com";
const DEFAULT_CALL_TOKEN_TTL: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// A revoked agent's live streams end within this; the setting may only shorten it.
pub const MAX_LIVE_TOKEN_RECHECK: Duration = Duration::from_secs(30);

/// One line naming the variable and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set: {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var} {problem}")]
    Invalid { var: &'static str, problem: String },
}

fn invalid(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentSilence {
    /// Dial the customer anyway, as the seed does.
    Connect,
    Hangup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

impl LogFormat {
    pub fn parse(raw: Option<&str>) -> Result<Self, ConfigError> {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("pretty") => Ok(Self::Pretty),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(invalid(
                "LOG_FORMAT",
                format!("must be json or pretty (got {other:?})"),
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TwilioSettings {
    pub account_sid: String,
    pub auth_token: SecretString,
    pub api_key: Option<ApiKey>,
    pub base_url: Option<Url>,
    pub verify_service_sid: Option<String>,
    pub sync_service_sid: Option<String>,
    pub twiml_app_sid: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub sid: String,
    pub secret: SecretString,
}

#[derive(Debug, Clone)]
pub struct AirtableSettings {
    pub token: SecretString,
    pub base_id: String,
    pub table: String,
    pub base_url: Url,
    pub fields: crate::airtable::FieldNames,
    pub tuning: crate::airtable::Tuning,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub twilio: TwilioSettings,
    pub caller_id: PhoneNumber,
    pub jwt_secret: SecretString,
    /// Lower-case; empty allows any domain (which `serve` only accepts with `open_signup`).
    pub allowed_email_domains: Vec<String>,
    /// `OPEN_SIGNUP=1`: an empty domain list is meant.
    pub open_signup: bool,
    /// Every number the service rings.
    pub destinations: Policy,
    /// Every number a setup code is texted to.
    pub sms_regions: Policy,
    /// SMS codes per hour across every instance.
    pub sms_per_hour: u32,
    pub public_base_url: Url,
    pub bind: SocketAddr,
    pub metrics_bind: Option<SocketAddr>,
    /// May hold a password, hence secret.
    pub database_url: SecretString,
    pub airtable: Option<AirtableSettings>,
    pub calls_per_second: f64,
    pub call_token_ttl: Duration,
    pub agent_silence: AgentSilence,
    /// `HOLD_MUSIC_URL`; `None` is the service's own hold music (see [`Settings::hold_music_url`]).
    pub hold_music: Option<Url>,
    pub log_format: LogFormat,
    /// How many proxies of ours sit in front: 0 takes the peer address as the client's (rate
    /// limits, audit); N takes the N-th entry from the right of `X-Forwarded-For`.
    pub trust_proxy: usize,
    /// How often a live call stream checks that its token still holds.
    pub live_token_recheck: Duration,
    /// How long a client may take to send a request's headers, from the connection opening or
    /// the request's first byte.
    pub header_read_timeout: Duration,
    /// How long a connection may stay open without sending anything after its last answer.
    pub keep_alive_timeout: Duration,
    /// Open connections at most; more wait to be accepted.
    pub max_connections: usize,
    /// How long a call may go without moving before the reconciler asks Twilio about it.
    pub reconcile_after: Duration,
    pub timeouts: Timeouts,
    pub browser: BrowserSettings,
    /// Only `demo --web` sets it: the simulator whose sent codes the sign-in page shows.
    pub demo_inbox: Option<Url>,
}

impl Settings {
    /// Applies defaults and seed aliases, and checks every value; the first problem is returned.
    pub fn from_raw(raw: RawSettings) -> Result<Self, ConfigError> {
        let airtable_extras = crate::airtable::settings::from_raw(&raw)?;
        let timeouts = Timeouts::from_raw(&raw)?;
        let browser = BrowserSettings::from_raw(&raw)?;
        let account_sid = required(
            first_set([raw.twilio_account_sid, raw.account_sid]),
            "TWILIO_ACCOUNT_SID",
            "set it to your account SID, AC… (Console → Account info)",
        )?;
        sid_prefix("TWILIO_ACCOUNT_SID", &account_sid, "AC")?;
        let auth_token = required(
            first_set([raw.twilio_auth_token, raw.auth_token]),
            "TWILIO_AUTH_TOKEN",
            "set it to your account's auth token (Console → Account info)",
        )?;
        let caller_id = required(
            raw.caller_id,
            "CALLER_ID",
            "set it to a Twilio number of your account in E.164, e.g. +14155550100",
        )?;
        // By shape only: the numbering plans' check runs beside the service's first requests
        // (`startup`), since loading the plans would otherwise delay every start.
        let caller_id = PhoneNumber::by_shape(&caller_id)
            .map_err(|e| invalid("CALLER_ID", format!("is not usable: {e}")))?;
        let jwt_secret = required(
            raw.jwt_secret,
            "JWT_SECRET",
            "generate one with `openssl rand -base64 32`",
        )?;
        if jwt_secret.len() < MIN_JWT_SECRET_BYTES {
            return Err(invalid(
                "JWT_SECRET",
                format!(
                    "must be at least {MIN_JWT_SECRET_BYTES} bytes (got {}): generate one with \
                     `openssl rand -base64 32`",
                    jwt_secret.len()
                ),
            ));
        }

        let twilio = TwilioSettings {
            account_sid,
            auth_token: auth_token.into(),
            api_key: api_key(
                non_empty(raw.twilio_api_key),
                non_empty(raw.twilio_api_secret),
            )?,
            base_url: non_empty(raw.twilio_base_url)
                .map(|u| http_url("TWILIO_BASE_URL", &u))
                .transpose()?,
            verify_service_sid: optional_sid("VERIFY_SERVICE_SID", raw.verify_service_sid, "VA")?,
            sync_service_sid: optional_sid("SYNC_SERVICE_SID", raw.sync_service_sid, "IS")?,
            twiml_app_sid: optional_sid("TWIML_APP_SID", raw.twiml_app_sid, "AP")?,
        };

        let public_base_url = match (non_empty(raw.public_base_url), non_empty(raw.domain_name)) {
            (Some(url), _) => http_url("PUBLIC_BASE_URL", &url)?,
            (None, Some(domain)) => http_url("DOMAIN_NAME", &format!("https://{domain}"))?,
            (None, None) => http_url("PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL)?,
        };

        let destinations = policy(
            "ALLOWED_DESTINATIONS",
            non_empty(raw.allowed_destinations)
                .as_deref()
                .unwrap_or(DEFAULT_DESTINATIONS),
        )?;

        Ok(Self {
            twilio,
            caller_id,
            jwt_secret: jwt_secret.into(),
            allowed_email_domains: email_domains(raw.allowed_email_domains.as_deref())?,
            open_signup: flag("OPEN_SIGNUP", non_empty(raw.open_signup).as_deref())?,
            sms_regions: match non_empty(raw.allowed_sms_regions) {
                Some(regions) => policy("ALLOWED_SMS_REGIONS", &regions)?,
                None => destinations.renamed("ALLOWED_SMS_REGIONS"),
            },
            destinations,
            sms_per_hour: sms_per_hour(non_empty(raw.sms_per_hour))?,
            public_base_url,
            bind: socket_addr(
                "BIND",
                non_empty(raw.bind).as_deref().unwrap_or(DEFAULT_BIND),
            )?,
            metrics_bind: non_empty(raw.metrics_bind)
                .map(|a| socket_addr("METRICS_BIND", &a))
                .transpose()?,
            database_url: database_url(raw.database_url)?.into(),
            airtable: airtable(
                airtable_extras,
                non_empty(raw.airtable_token),
                non_empty(raw.airtable_base_id),
                non_empty(raw.airtable_table),
                non_empty(raw.airtable_base_url).as_deref(),
            )?,
            calls_per_second: calls_per_second(non_empty(raw.calls_per_second))?,
            call_token_ttl: non_empty(raw.call_token_ttl)
                .map(|t| {
                    duration::parse(&t)
                        .map_err(|e| invalid("CALL_TOKEN_TTL", format!("is wrong: {e}")))
                })
                .transpose()?
                .unwrap_or(DEFAULT_CALL_TOKEN_TTL),
            agent_silence: agent_silence(non_empty(raw.agent_silence).as_deref())?,
            hold_music: non_empty(raw.hold_music_url)
                .map(|u| http_url("HOLD_MUSIC_URL", &u))
                .transpose()?,
            log_format: LogFormat::parse(raw.log_format.as_deref())?,
            trust_proxy: trust_proxy(non_empty(raw.trust_proxy).as_deref())?,
            live_token_recheck: live_token_recheck(raw.live_token_recheck)?,
            header_read_timeout: duration_or(
                "HEADER_READ_TIMEOUT",
                raw.header_read_timeout,
                DEFAULT_HEADER_READ_TIMEOUT,
            )?,
            keep_alive_timeout: duration_or(
                "KEEP_ALIVE_TIMEOUT",
                raw.keep_alive_timeout,
                DEFAULT_KEEP_ALIVE_TIMEOUT,
            )?,
            max_connections: max_connections(non_empty(raw.max_connections).as_deref())?,
            reconcile_after: duration_or(
                "RECONCILE_AFTER",
                raw.reconcile_after,
                DEFAULT_RECONCILE_AFTER,
            )?,
            timeouts,
            browser,
            demo_inbox: None,
        })
    }

    pub fn email_domain_allowed(&self, email: &EmailAddress) -> bool {
        self.allowed_email_domains.is_empty()
            || self
                .allowed_email_domains
                .iter()
                .any(|d| d == email.domain())
    }

    /// `serve` starts only when who may sign up was chosen: a domain list, or open sign-up.
    pub fn signup_chosen(&self) -> Result<(), ConfigError> {
        if self.allowed_email_domains.is_empty() && !self.open_signup {
            return Err(invalid(
                "ALLOWED_EMAIL_DOMAINS",
                "is empty, which lets anyone sign up: set it to the domains allowed to sign up \
                 (e.g. example.com), or set OPEN_SIGNUP=1 to let anyone",
            ));
        }
        Ok(())
    }

    /// An absolute URL under `PUBLIC_BASE_URL`, for callbacks and signature checks.
    pub fn public_url(&self, path_and_query: &str) -> String {
        let base = self.public_base_url.as_str().trim_end_matches('/');
        format!("{base}/{}", path_and_query.trim_start_matches('/'))
    }

    /// Where Twilio fetches what a held party hears.
    pub fn hold_music_url(&self) -> String {
        self.hold_music.as_ref().map_or_else(
            || self.public_url(crate::calls::twiml::HOLD_MUSIC_PATH),
            ToString::to_string,
        )
    }

    pub fn jwt_secret_bytes(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }
}

/// `DATABASE_URL` on its own, for commands (like `migrate`) that need nothing else.
pub fn database_url(raw: Option<String>) -> Result<String, ConfigError> {
    let url = non_empty(raw).unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    crate::store::Backend::from_url(&url)
        .map_err(|e| invalid("DATABASE_URL", format!("is not supported: {e}")))?;
    Ok(url)
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn first_set<const N: usize>(values: [Option<String>; N]) -> Option<String> {
    values.into_iter().find_map(non_empty)
}

fn required(
    value: Option<String>,
    var: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    non_empty(value).ok_or(ConfigError::Missing { var, hint })
}

fn sid_prefix(var: &'static str, sid: &str, prefix: &str) -> Result<(), ConfigError> {
    if sid.starts_with(prefix) && sid.len() > prefix.len() {
        Ok(())
    } else {
        Err(invalid(
            var,
            format!("must start with {prefix} (got {sid:?}): copy it from the Twilio Console"),
        ))
    }
}

fn optional_sid(
    var: &'static str,
    value: Option<String>,
    prefix: &str,
) -> Result<Option<String>, ConfigError> {
    let Some(sid) = non_empty(value) else {
        return Ok(None);
    };
    sid_prefix(var, &sid, prefix)?;
    Ok(Some(sid))
}

fn api_key(sid: Option<String>, secret: Option<String>) -> Result<Option<ApiKey>, ConfigError> {
    match (sid, secret) {
        (None, None) => Ok(None),
        (Some(sid), Some(secret)) => {
            sid_prefix("TWILIO_API_KEY", &sid, "SK")?;
            Ok(Some(ApiKey {
                sid,
                secret: secret.into(),
            }))
        }
        (Some(_), None) => Err(ConfigError::Missing {
            var: "TWILIO_API_SECRET",
            hint: "it is needed with TWILIO_API_KEY: set it to the key's secret, shown once when the key was created",
        }),
        (None, Some(_)) => Err(ConfigError::Missing {
            var: "TWILIO_API_KEY",
            hint: "it is needed with TWILIO_API_SECRET: set it to the key's SID, SK…",
        }),
    }
}

fn http_url(var: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw).map_err(|e| invalid(var, format!("is not a URL ({raw:?}: {e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid(
            var,
            format!("must be an http(s) URL with a host (got {raw:?})"),
        ));
    }
    Ok(url)
}

fn socket_addr(var: &'static str, raw: &str) -> Result<SocketAddr, ConfigError> {
    raw.parse().map_err(|_| {
        invalid(
            var,
            format!("must be an address and port like 127.0.0.1:8080 (got {raw:?})"),
        )
    })
}

fn email_domains(raw: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for part in raw.unwrap_or_default().split(',') {
        let domain = part.trim().trim_start_matches('@').to_lowercase();
        if domain.is_empty() {
            continue;
        }
        // The same rule as for the part after an address's @.
        EmailAddress::parse(&format!("x@{domain}")).map_err(|_| {
            invalid(
                "ALLOWED_EMAIL_DOMAINS",
                format!("has an invalid domain {part:?}: use e.g. example.com,example.org"),
            )
        })?;
        out.push(domain);
    }
    Ok(out)
}

fn policy(var: &'static str, raw: &str) -> Result<Policy, ConfigError> {
    Policy::parse(var, raw).map_err(|problem| invalid(var, problem))
}

fn sms_per_hour(raw: Option<String>) -> Result<u32, ConfigError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_SMS_PER_HOUR);
    };
    raw.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
        invalid(
            "SMS_PER_HOUR",
            format!("must be a whole number above zero, e.g. 100 (got {raw:?})"),
        )
    })
}

fn flag(var: &'static str, raw: Option<&str>) -> Result<bool, ConfigError> {
    match raw {
        None | Some("0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(other) => Err(invalid(var, format!("must be 1 or 0 (got {other:?})"))),
    }
}

fn airtable(
    (fields, tuning): (crate::airtable::FieldNames, crate::airtable::Tuning),
    token: Option<String>,
    base_id: Option<String>,
    table: Option<String>,
    base_url: Option<&str>,
) -> Result<Option<AirtableSettings>, ConfigError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let base_id = base_id.ok_or(ConfigError::Missing {
        var: "AIRTABLE_BASE_ID",
        hint: "it is needed with AIRTABLE_TOKEN: set it to the base's id, app… (from its URL)",
    })?;
    let table = table.ok_or(ConfigError::Missing {
        var: "AIRTABLE_TABLE",
        hint: "it is needed with AIRTABLE_TOKEN: set it to the table's name or id",
    })?;
    let base_url = http_url(
        "AIRTABLE_BASE_URL",
        base_url.unwrap_or(DEFAULT_AIRTABLE_BASE_URL),
    )?;
    Ok(Some(AirtableSettings {
        token: token.into(),
        base_id,
        table,
        base_url,
        fields,
        tuning,
    }))
}

fn calls_per_second(raw: Option<String>) -> Result<f64, ConfigError> {
    let Some(raw) = raw else { return Ok(1.0) };
    match raw.parse::<f64>() {
        Ok(cps) if cps.is_finite() && cps > 0.0 => Ok(cps),
        _ => Err(invalid(
            "CALLS_PER_SECOND",
            format!("must be a number above zero, e.g. 1 (got {raw:?})"),
        )),
    }
}

/// More proxies than any deployment chains; the cap keeps a typo from trusting client entries.
const MAX_TRUSTED_PROXIES: usize = 16;

fn trust_proxy(raw: Option<&str>) -> Result<usize, ConfigError> {
    match raw {
        None | Some("false") => Ok(0),
        Some("true") => Ok(1),
        Some(n) => match n.parse::<usize>() {
            Ok(n) if n <= MAX_TRUSTED_PROXIES => Ok(n),
            _ => Err(invalid(
                "TRUST_PROXY",
                format!(
                    "must be the number of proxies in front, 0 to {MAX_TRUSTED_PROXIES} \
                     (got {n:?})"
                ),
            )),
        },
    }
}

fn duration_or(
    var: &'static str,
    raw: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    non_empty(raw).map_or(Ok(default), |raw| {
        duration::parse(&raw).map_err(|e| invalid(var, format!("is wrong: {e}")))
    })
}

const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longer than the idle timeout of common load balancers (60 s), which reuse connections: a
/// server that closes first races their next request.
const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(75);
/// The open files a service gets by default; accepting waits (rather than fails) beyond.
const DEFAULT_MAX_CONNECTIONS: usize = 1024;

fn max_connections(raw: Option<&str>) -> Result<usize, ConfigError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_MAX_CONNECTIONS);
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=1_000_000).contains(&n) => Ok(n),
        _ => Err(invalid(
            "MAX_CONNECTIONS",
            format!("must be a number of connections from 1 to 1000000 (got {raw:?})"),
        )),
    }
}

/// Long enough that a call's own callbacks come first, short enough that a lost one is
/// made up for within a minute or two.
const DEFAULT_RECONCILE_AFTER: Duration = Duration::from_secs(60);

fn live_token_recheck(raw: Option<String>) -> Result<Duration, ConfigError> {
    let every = duration_or("LIVE_TOKEN_RECHECK", raw, MAX_LIVE_TOKEN_RECHECK)?;
    if every > MAX_LIVE_TOKEN_RECHECK {
        return Err(invalid(
            "LIVE_TOKEN_RECHECK",
            format!(
                "must be at most {} s, so that a revoked token's streams end soon (got {} s)",
                MAX_LIVE_TOKEN_RECHECK.as_secs(),
                every.as_secs()
            ),
        ));
    }
    Ok(every)
}

fn agent_silence(raw: Option<&str>) -> Result<AgentSilence, ConfigError> {
    match raw {
        None | Some("connect") => Ok(AgentSilence::Connect),
        Some("hangup") => Ok(AgentSilence::Hangup),
        Some(other) => Err(invalid(
            "AGENT_SILENCE",
            format!("must be connect or hangup (got {other:?})"),
        )),
    }
}

#[cfg(test)]
mod tests;

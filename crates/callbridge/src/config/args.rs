//! The raw settings as given (environment, `.env`, or flags), before any check.

use clap::Args;

/// Every field is optional here: defaults and checks live in `Settings::from_raw`, so that a
/// missing value is reported with the variable's name and what to set it to.
#[derive(Debug, Clone, Default, Args)]
pub struct RawSettings {
    /// Twilio account SID (AC…). Seed alias: ACCOUNT_SID.
    #[arg(long, env = "TWILIO_ACCOUNT_SID", hide_env_values = true)]
    pub twilio_account_sid: Option<String>,
    #[arg(long = "seed-account-sid", env = "ACCOUNT_SID", hide = true)]
    pub account_sid: Option<String>,

    /// Twilio auth token: REST auth and webhook signatures. Seed alias: AUTH_TOKEN.
    #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
    pub twilio_auth_token: Option<String>,
    #[arg(
        long = "seed-auth-token",
        env = "AUTH_TOKEN",
        hide = true,
        hide_env_values = true
    )]
    pub auth_token: Option<String>,

    /// API key SID (SK…), for REST auth and browser Access Tokens.
    #[arg(long, env = "TWILIO_API_KEY", hide_env_values = true)]
    pub twilio_api_key: Option<String>,

    /// API key secret.
    #[arg(long, env = "TWILIO_API_SECRET", hide_env_values = true)]
    pub twilio_api_secret: Option<String>,

    /// Twilio number the calls come from, in E.164.
    #[arg(long, env = "CALLER_ID")]
    pub caller_id: Option<String>,

    /// Verify service (VA…) for email and SMS codes; needed by the setup endpoints.
    #[arg(long, env = "VERIFY_SERVICE_SID")]
    pub verify_service_sid: Option<String>,

    /// Sync service (IS…); if set, verified agents are mirrored into Sync documents.
    #[arg(long, env = "SYNC_SERVICE_SID")]
    pub sync_service_sid: Option<String>,

    /// HS256 key for setup and call tokens, at least 32 bytes.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Comma-separated email domains allowed to sign up; empty allows any.
    #[arg(long, env = "ALLOWED_EMAIL_DOMAINS")]
    pub allowed_email_domains: Option<String>,

    /// Let anyone sign up when ALLOWED_EMAIL_DOMAINS is empty (1); without it `serve` refuses
    /// to start with an empty domain list [default: 0].
    #[arg(long, env = "OPEN_SIGNUP")]
    pub open_signup: Option<String>,

    /// Comma-separated ISO regions and E.164 prefixes the service may dial, e.g. US,CA,+44207
    /// [default: US,CA].
    #[arg(long, env = "ALLOWED_DESTINATIONS")]
    pub allowed_destinations: Option<String>,

    /// Regions and prefixes setup codes may be texted to [default: ALLOWED_DESTINATIONS].
    #[arg(long, env = "ALLOWED_SMS_REGIONS")]
    pub allowed_sms_regions: Option<String>,

    /// SMS codes sent per hour by every instance together [default: 100].
    #[arg(long, env = "SMS_PER_HOUR")]
    pub sms_per_hour: Option<String>,

    /// The URL Twilio reaches this service at [default: http://127.0.0.1:8080].
    /// Seed alias: DOMAIN_NAME (taken as https://DOMAIN_NAME).
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<String>,
    #[arg(long = "seed-domain-name", env = "DOMAIN_NAME", hide = true)]
    pub domain_name: Option<String>,

    /// Listen address [default: 127.0.0.1:8080].
    #[arg(long, env = "BIND")]
    pub bind: Option<String>,

    /// Separate listen address for /metrics (it is always on the main listener too).
    #[arg(long, env = "METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// sqlite://path or postgres://… [default: sqlite://callbridge.db].
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// One base URL for every Twilio product (the simulator); unset means Twilio's own hosts.
    #[arg(long, env = "TWILIO_BASE_URL")]
    pub twilio_base_url: Option<String>,

    /// TwiML App (AP…) whose Voice URL is /browser/voice.
    #[arg(long, env = "TWIML_APP_SID")]
    pub twiml_app_sid: Option<String>,

    /// How long a browser agent's Voice SDK token lasts (1m to 24h) [default: 1h].
    #[arg(long, env = "BROWSER_TOKEN_TTL")]
    pub browser_token_ttl: Option<String>,

    /// Twilio edge the browser's Voice SDK connects through (ashburn, dublin, roaming, …)
    /// [default: the SDK's choice].
    #[arg(long, env = "TWILIO_EDGE")]
    pub twilio_edge: Option<String>,

    /// Where the web app loads the Twilio Voice SDK from [default: the copy callbridge serves].
    #[arg(long, env = "VOICE_SDK_URL")]
    pub voice_sdk_url: Option<String>,

    /// Airtable personal access token; enables the Airtable integration.
    #[arg(long, env = "AIRTABLE_TOKEN", hide_env_values = true)]
    pub airtable_token: Option<String>,

    /// Airtable base (app…).
    #[arg(long, env = "AIRTABLE_BASE_ID")]
    pub airtable_base_id: Option<String>,

    /// Airtable table name or id.
    #[arg(long, env = "AIRTABLE_TABLE")]
    pub airtable_table: Option<String>,

    /// Airtable API base URL [default: https://api.airtable.com].
    #[arg(long, env = "AIRTABLE_BASE_URL")]
    pub airtable_base_url: Option<String>,

    /// Airtable field holding the phone to call [default: Phone].
    #[arg(long, env = "AIRTABLE_FIELD_PHONE")]
    pub airtable_field_phone: Option<String>,

    /// Airtable field for the call's status [default: Call Status].
    #[arg(long, env = "AIRTABLE_FIELD_STATUS")]
    pub airtable_field_status: Option<String>,

    /// Airtable field for the call's duration in seconds [default: Call Duration].
    #[arg(long, env = "AIRTABLE_FIELD_DURATION")]
    pub airtable_field_duration: Option<String>,

    /// Airtable field for the recording's URL [default: Recording URL].
    #[arg(long, env = "AIRTABLE_FIELD_RECORDING_URL")]
    pub airtable_field_recording_url: Option<String>,

    /// Airtable field for when the call was placed, ISO 8601 [default: Last Called At].
    #[arg(long, env = "AIRTABLE_FIELD_LAST_CALLED_AT")]
    pub airtable_field_last_called_at: Option<String>,

    /// Airtable field for callbridge's call id [default: Call ID].
    #[arg(long, env = "AIRTABLE_FIELD_CALL_ID")]
    pub airtable_field_call_id: Option<String>,

    /// Airtable field for the agent's email [default: Agent].
    #[arg(long, env = "AIRTABLE_FIELD_AGENT")]
    pub airtable_field_agent: Option<String>,

    /// Airtable field for the outcome an agent picked at wrap-up [default: Disposition].
    #[arg(long, env = "AIRTABLE_FIELD_DISPOSITION")]
    pub airtable_field_disposition: Option<String>,

    /// Airtable field for the agent's wrap-up notes [default: Notes].
    #[arg(long, env = "AIRTABLE_FIELD_NOTES")]
    pub airtable_field_notes: Option<String>,

    /// Airtable field for what answering-machine detection said [default: Answered By].
    #[arg(long, env = "AIRTABLE_FIELD_ANSWERED_BY")]
    pub airtable_field_answered_by: Option<String>,

    /// Airtable field that, when set, keeps a record from being dialled [default: Do Not Call].
    #[arg(long, env = "AIRTABLE_FIELD_DO_NOT_CALL")]
    pub airtable_field_do_not_call: Option<String>,

    /// Multiplies Airtable's 30 s wait after a 429 and the retry backoff [default: 1].
    #[arg(long, env = "AIRTABLE_PENALTY_SCALE")]
    pub airtable_penalty_scale: Option<String>,

    /// How often the Airtable workers look for work, e.g. 250ms, 2s [default: 1s].
    #[arg(long, env = "AIRTABLE_POLL_INTERVAL")]
    pub airtable_poll_interval: Option<String>,

    /// How long a claimed Airtable write or campaign stays with one instance [default: 90s].
    #[arg(long, env = "AIRTABLE_LEASE")]
    pub airtable_lease: Option<String>,

    /// Outbound call creations per second (the account's CPS) [default: 1].
    #[arg(long, env = "CALLS_PER_SECOND")]
    pub calls_per_second: Option<String>,

    /// Lifetime of an agent's call token, e.g. 90d, 12h [default: 90d].
    #[arg(long, env = "CALL_TOKEN_TTL")]
    pub call_token_ttl: Option<String>,

    /// What a silent agent gets after the key prompt: connect (the seed's way) or hangup
    /// [default: connect].
    #[arg(long, env = "AGENT_SILENCE")]
    pub agent_silence: Option<String>,

    /// What a held party hears: a TwiML document or an audio file Twilio fetches with GET
    /// [default: the service's own /phone-to-phone/hold-music, Twilio's classical music].
    #[arg(long, env = "HOLD_MUSIC_URL")]
    pub hold_music_url: Option<String>,

    /// How many proxies of ours are in front: the client address is the N-th entry from the
    /// right of X-Forwarded-For [default: 0, the peer address].
    #[arg(long, env = "TRUST_PROXY")]
    pub trust_proxy: Option<String>,

    /// How long a client may take to send a request's headers, from the connection opening or
    /// the request's first byte, e.g. 10s [default: 10s].
    #[arg(long, env = "HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<String>,

    /// How long a connection may stay open sending nothing after its last answer [default: 75s].
    #[arg(long, env = "KEEP_ALIVE_TIMEOUT")]
    pub keep_alive_timeout: Option<String>,

    /// Open connections at most; more clients wait to be accepted [default: 1024].
    #[arg(long, env = "MAX_CONNECTIONS")]
    pub max_connections: Option<String>,

    /// How often a live call stream re-checks its token, at most 30s [default: 30s].
    #[arg(long, env = "LIVE_TOKEN_RECHECK")]
    pub live_token_recheck: Option<String>,

    /// Longest a request may take, e.g. 10s [default: 10s].
    #[arg(long, env = "REQUEST_TIMEOUT")]
    pub request_timeout: Option<String>,

    /// Longest one Twilio request may take; shorter than REQUEST_TIMEOUT [default: 5s].
    #[arg(long, env = "TWILIO_TIMEOUT")]
    pub twilio_timeout: Option<String>,

    /// How long a call start waits for Twilio before answering 202; shorter than
    /// REQUEST_TIMEOUT [default: 3s].
    #[arg(long, env = "CALL_START_WAIT")]
    pub call_start_wait: Option<String>,

    /// A call that has not moved for this long is checked with Twilio (a connected one after
    /// five times as long) [default: 60s].
    #[arg(long, env = "RECONCILE_AFTER")]
    pub reconcile_after: Option<String>,

    /// Log lines as json or pretty [default: pretty]. Levels come from RUST_LOG.
    #[arg(long, env = "LOG_FORMAT")]
    pub log_format: Option<String>,
}

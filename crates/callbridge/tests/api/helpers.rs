//! The app under test: the real service on a random port, talking to a real `twilio_sim::Sim`,
//! on a throw-away database of either backend.

use std::sync::Arc;

use callbridge::config::{RawSettings, Settings};
use callbridge::store::SharedStore;
use callbridge::store::testing::{TestDatabase, TestStore};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use twilio_sim::{Sim, SimConfig};

pub const JWT_SECRET: &str = "an-example-secret-of-at-least-32-bytes";
pub const VERIFY_SERVICE_SID: &str = "VA00000000000000000000000000000000";
pub const SYNC_SERVICE_SID: &str = "IS00000000000000000000000000000000";
/// The sim's own number: calls come from it.
pub const CALLER_ID: &str = "+15005550006";
/// Simulated waits (ringing, Say, Pause) run this much faster than real time.
pub const TIME_SCALE: f64 = 0.01;

/// A running app on a random port, stopped when dropped.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, also the app's `PUBLIC_BASE_URL`.
    pub address: String,
    pub client: reqwest::Client,
    pub sim: Sim,
    /// The same database the app uses.
    pub store: Arc<dyn TestStore>,
    pub settings: Arc<Settings>,
    /// `None` when the test supplied its own store.
    pub database_url: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), callbridge::startup::StartupError>>>,
    _db: Option<TestDatabase>,
}

/// Settings for an app at `address` against `sim`.
pub fn sim_settings(database_url: &str, sim: &Sim, address: &str) -> RawSettings {
    logs_when_asked();
    RawSettings {
        twilio_account_sid: Some(sim.account_sid().into()),
        twilio_auth_token: Some(sim.auth_token().into()),
        twilio_base_url: Some(sim.base_url().to_string()),
        verify_service_sid: Some(VERIFY_SERVICE_SID.into()),
        caller_id: Some(CALLER_ID.into()),
        jwt_secret: Some(JWT_SECRET.into()),
        public_base_url: Some(address.into()),
        bind: Some("127.0.0.1:0".into()),
        database_url: Some(database_url.into()),
        ..RawSettings::default()
    }
}

/// The apps' logs on standard error, at the levels `CALLBRIDGE_TEST_LOG` names (as `RUST_LOG`
/// would): silent unless asked, since a hundred tests' logs interleave.
fn logs_when_asked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("CALLBRIDGE_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_writer(std::io::stderr)
                .try_init();
        }
    });
}

/// Sets `SYNC_SERVICE_SID`, for [`spawn_app_with`].
pub fn with_sync(raw: &mut RawSettings) {
    raw.sync_service_sid = Some(SYNC_SERVICE_SID.into());
}

/// SQLite, plus PostgreSQL when it is reachable (see `TestDatabase`).
pub async fn backends() -> Vec<TestDatabase> {
    TestDatabase::all().await
}

/// The app on a fresh database of the default test backend (SQLite unless CALLBRIDGE_TEST_BACKEND says otherwise).
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDatabase::default_backend().await).await
}

pub async fn spawn_app_on(db: TestDatabase) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

/// The app on `db`, with settings adjusted by `configure` (after the defaults are filled in).
pub async fn spawn_app_with(db: TestDatabase, configure: impl FnOnce(&mut RawSettings)) -> TestApp {
    spawn_app_full(db, sim_config(), configure).await
}

/// The simulator configuration the helpers start with.
pub fn sim_config() -> SimConfig {
    SimConfig {
        time_scale: TIME_SCALE,
        ..SimConfig::default()
    }
}

/// Full control: the simulator's configuration too.
pub async fn spawn_app_full(
    db: TestDatabase,
    sim: SimConfig,
    configure: impl FnOnce(&mut RawSettings),
) -> TestApp {
    let sim = Sim::start(sim).await.expect("start the simulator");
    let url = db.url().to_owned();
    let store = open_store(&db).await;
    let (listener, address) = listen().await;
    let mut raw = sim_settings(&url, &sim, &address);
    configure(&mut raw);
    launch(raw, store, listener, address, sim, Some(db)).await
}

/// The app set up for browser agents, as a person would set it up by hand: the simulator's API
/// key signs the Voice SDK's tokens, and a TwiML App at the simulator sends the browsers' calls
/// to the app's `/browser/voice` and their ends to `/browser/status`. The web app loads the
/// simulator's Voice SDK.
pub async fn spawn_browser_app_with(
    db: TestDatabase,
    configure: impl FnOnce(&mut RawSettings),
) -> TestApp {
    let sim = Sim::start(sim_config()).await.expect("start the simulator");
    let url = db.url().to_owned();
    let store = open_store(&db).await;
    let (listener, address) = listen().await;
    let app_sid = create_twiml_app(&sim, &address).await;
    let mut raw = sim_settings(&url, &sim, &address);
    raw.twilio_api_key = Some(twilio_sim::DEFAULT_API_KEY_SID.into());
    raw.twilio_api_secret = Some(twilio_sim::DEFAULT_API_KEY_SECRET.into());
    raw.twiml_app_sid = Some(app_sid);
    raw.voice_sdk_url = Some(sim.base_url().join("sim/voice-sdk.js").unwrap().to_string());
    configure(&mut raw);
    launch(raw, store, listener, address, sim, Some(db)).await
}

/// A TwiML App at the simulator whose URLs are the app's at `address`.
pub async fn create_twiml_app(sim: &Sim, address: &str) -> String {
    let url = sim
        .base_url()
        .join(&format!(
            "2010-04-01/Accounts/{}/Applications.json",
            sim.account_sid()
        ))
        .unwrap();
    let response = reqwest::Client::new()
        .post(url)
        .basic_auth(sim.account_sid(), Some(sim.auth_token()))
        .form(&[
            ("FriendlyName", "callbridge browser agents"),
            ("VoiceUrl", &format!("{address}/browser/voice")),
            ("VoiceMethod", "POST"),
            ("StatusCallback", &format!("{address}/browser/status")),
            ("StatusCallbackMethod", "POST"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "create the TwiML App");
    let app: Value = response.json().await.unwrap();
    app["sid"].as_str().unwrap().to_owned()
}

/// The app on a store the test controls (e.g. one it will break).
pub async fn spawn_app_with_store(store: Arc<dyn TestStore>) -> TestApp {
    let sim = Sim::start(sim_config()).await.expect("start the simulator");
    let (listener, address) = listen().await;
    let raw = sim_settings("sqlite::memory:", &sim, &address);
    launch(raw, store, listener, address, sim, None).await
}

async fn launch(
    raw: RawSettings,
    store: Arc<dyn TestStore>,
    listener: TcpListener,
    address: String,
    sim: Sim,
    db: Option<TestDatabase>,
) -> TestApp {
    let settings = Settings::from_raw(raw).expect("test settings are valid");
    let shared_settings = Arc::new(settings.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let shared: SharedStore = store.clone();
    let server = tokio::spawn(callbridge::startup::launch_with_store(
        settings,
        shared,
        listener,
        async {
            let _ = rx.await;
        },
    ));
    TestApp {
        address,
        client: reqwest::Client::new(),
        database_url: db.as_ref().map(|d| d.url().to_owned()),
        sim,
        store,
        settings: shared_settings,
        shutdown: Some(tx),
        server: Some(server),
        _db: db,
    }
}

/// The store an app on `db` uses, migrated.
async fn open_store(db: &TestDatabase) -> Arc<dyn TestStore> {
    callbridge::store::testing::open(db.url())
        .await
        .unwrap_or_else(|e| panic!("open the {} test store: {e}", db.backend().as_str()))
}

/// Bound first, so the app can be told its own address (`PUBLIC_BASE_URL`) before it starts.
async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    (listener, address)
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs `body` exactly as given with the form content type, as `curl --data` does (no
    /// encoding: `email=user@twilio.com` goes out as is).
    pub async fn post_form(&self, path: &str, body: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// POSTs the pairs form-encoded (a `+` in a phone number survives).
    pub async fn post_form_pairs(&self, path: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(pairs)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The code the simulator would have emailed or texted to `to` most recently.
    pub async fn sim_otp(&self, to: &str) -> String {
        let mut url = self.sim.base_url().join("sim/verifications").unwrap();
        url.query_pairs_mut().append_pair("to", to);
        let response = self.client.get(url).send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "no verification for {to} in the sim"
        );
        let body: Value = response.json().await.unwrap();
        body["code"].as_str().expect("a code").to_owned()
    }

    /// Onboards an agent through the real setup endpoints (email, then phone) and returns its
    /// call token.
    pub async fn onboard_agent(&self, email: &str, phone: &str) -> String {
        let sent = self
            .post_json("/setup/email/init", &serde_json::json!({"email": email}))
            .await;
        assert_eq!(sent.status(), 200, "{}", sent.text().await.unwrap());
        let code = self.sim_otp(email).await;
        let body = expect_success(
            self.post_json(
                "/setup/email/validate",
                &serde_json::json!({"email": email, "code": code}),
            )
            .await,
        )
        .await;
        let setup_token = body["data"]["token"].as_str().unwrap().to_owned();
        expect_success(
            self.post_json(
                "/setup/phone/init",
                &serde_json::json!({"token": setup_token, "phone": phone}),
            )
            .await,
        )
        .await;
        let code = self.sim_otp(phone).await;
        let body = expect_success(
            self.post_json(
                "/setup/phone/validate",
                &serde_json::json!({"token": setup_token, "phone": phone, "code": code}),
            )
            .await,
        )
        .await;
        body["data"]["token"].as_str().unwrap().to_owned()
    }

    /// Asks the server to stop and waits until it has.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Held by each test that loads the machine on purpose (hundreds of calls at once, a flood of
/// connections): they take turns, so each one's limits are met by the service and not by
/// another load test running beside it on the same two cores.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub async fn one_heavy_test_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    HEAVY.lock().await
}

/// The body of a 200 success envelope; panics with the body otherwise.
pub async fn expect_success(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "success", "{body}");
    body
}

/// The body of a start's success: 200 when Twilio took the agent's leg within
/// `CALL_START_WAIT`, 202 when it had not yet (a busy machine); the call goes on either way.
pub async fn expect_started(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status == 200 || status == 202, "{status}: {body}");
    assert_eq!(body["status"], "success", "{body}");
    body
}

/// The status and body of an error envelope.
pub async fn expect_error(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "error", "{body}");
    assert!(body["message"].is_string(), "{body}");
    (status, body)
}

/// `GET` on the simulator's control API, as JSON.
pub async fn sim_get(sim: &Sim, path: &str) -> Value {
    let url = sim.base_url().join(path).unwrap();
    let response = reqwest::Client::new().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {path} on the simulator");
    response.json().await.unwrap()
}

/// Every call the simulator has placed.
pub async fn sim_calls(sim: &Sim) -> Vec<Value> {
    sim_get(sim, "sim/calls").await["calls"]
        .as_array()
        .unwrap()
        .clone()
}

/// The simulator's calls to `number`.
pub async fn sim_calls_to(sim: &Sim, number: &str) -> Vec<Value> {
    sim_calls(sim)
        .await
        .into_iter()
        .filter(|c| c["to"] == number)
        .collect()
}

/// The callee of `call_sid` puts the phone down, through the simulator, so Twilio's callbacks
/// follow.
pub async fn sim_hang_up(sim: &Sim, call_sid: &str) {
    let url = sim
        .base_url()
        .join(&format!("sim/calls/{call_sid}/hangup"))
        .unwrap();
    let response = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
}

/// A verified agent stored directly (onboarding has its own tests and rate limits), and its
/// call token.
pub async fn verified_agent(
    store: &dyn TestStore,
    settings: &Settings,
    email: &str,
    phone: &str,
) -> (callbridge::store::Agent, String) {
    let now = chrono::Utc::now();
    let agent = store
        .insert_agent(callbridge::store::NewAgent {
            email: callbridge::domain::EmailAddress::parse(email).unwrap(),
            email_verified_at: Some(now),
            phone: Some(callbridge::domain::PhoneNumber::parse(phone).unwrap()),
            phone_verified_at: Some(now),
            record_by_default: false,
        })
        .await
        .unwrap();
    let token = callbridge::auth::issue_call_token(settings, &agent).unwrap();
    (agent, token)
}

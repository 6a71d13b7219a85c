//! The Airtable integration end to end: the real service over HTTP, the simulator placing the
//! calls, and a fake Airtable (token and request shapes checked, 5 requests per second
//! enforced) holding the records.

use std::sync::Arc;
use std::time::Duration;

use airtable::fake::{FakeAirtable, FakeConfig};
use callbridge::config::{RawSettings, Settings};
use callbridge::domain::{AgentId, CallId, EmailAddress, PhoneNumber};
use callbridge::store::testing::TestDatabase;
use callbridge::store::testing::TestStore;
use callbridge::store::{NewAgent, OutboxStatus, SharedStore};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use twilio_sim::{NumberBehaviour, Sim};

use crate::helpers::{expect_error, expect_success, sim_calls_to, sim_config, sim_settings};

/// How long a test waits for calls and writes to settle; generous, never a speed assertion.
const PATIENCE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(50);

/// One callbridge instance, killable like a crashed process (its task is aborted).
pub struct Instance {
    pub address: String,
    pub settings: Arc<Settings>,
    pub store: Arc<dyn TestStore>,
    server: JoinHandle<Result<(), callbridge::startup::StartupError>>,
}

impl Instance {
    pub async fn start(
        db: &TestDatabase,
        sim: &Sim,
        fake: &FakeAirtable,
        tweak: impl FnOnce(&mut RawSettings),
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        Self::start_on(listener, address, db, sim, fake, tweak).await
    }

    /// As [`Instance::start`], with browser calling set up: a TwiML App at the simulator whose
    /// URLs are this instance's, and the API key browsers' tokens are signed with.
    pub async fn start_with_browser(db: &TestDatabase, sim: &Sim, fake: &FakeAirtable) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let app_sid = crate::helpers::create_twiml_app(sim, &address).await;
        Self::start_on(listener, address, db, sim, fake, |raw| {
            raw.twilio_api_key = Some(twilio_sim::DEFAULT_API_KEY_SID.into());
            raw.twilio_api_secret = Some(twilio_sim::DEFAULT_API_KEY_SECRET.into());
            raw.twiml_app_sid = Some(app_sid);
        })
        .await
    }

    async fn start_on(
        listener: TcpListener,
        address: String,
        db: &TestDatabase,
        sim: &Sim,
        fake: &FakeAirtable,
        tweak: impl FnOnce(&mut RawSettings),
    ) -> Self {
        let mut raw = sim_settings(db.url(), sim, &address);
        with_airtable(&mut raw, fake);
        tweak(&mut raw);
        let settings = Settings::from_raw(raw).expect("test settings are valid");
        let store = callbridge::store::testing::open(db.url()).await.unwrap();
        let shared: SharedStore = store.clone();
        let server = tokio::spawn(callbridge::startup::launch_with_store(
            settings.clone(),
            shared,
            listener,
            std::future::pending(),
        ));
        Self {
            address,
            settings: Arc::new(settings),
            store,
            server,
        }
    }

    /// Stops it mid-whatever, as a crash would: nothing gets to finish.
    pub async fn kill(self) {
        self.server.abort();
        let _ = self.server.await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        reqwest::Client::new()
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        reqwest::Client::new()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A verified agent stored directly (onboarding has its own tests), and its call token.
    pub async fn agent(&self, email: &str, phone: &str) -> (AgentId, String) {
        let now = Utc::now();
        let agent = self
            .store
            .insert_agent(NewAgent {
                email: EmailAddress::parse(email).unwrap(),
                email_verified_at: Some(now),
                phone: Some(PhoneNumber::parse(phone).unwrap()),
                phone_verified_at: Some(now),
                record_by_default: false,
            })
            .await
            .unwrap();
        let token = callbridge::auth::issue_call_token(&self.settings, &agent).unwrap();
        (agent.id, token)
    }
}

pub fn with_airtable(raw: &mut RawSettings, fake: &FakeAirtable) {
    let config = fake.config();
    raw.airtable_token = Some(config.token.clone());
    raw.airtable_base_id = Some(config.base_id.clone());
    raw.airtable_table = Some(config.table.clone());
    raw.airtable_base_url = Some(fake.base_url().to_string());
    raw.airtable_penalty_scale = Some("0.01".into());
    raw.airtable_poll_interval = Some("50ms".into());
    raw.airtable_lease = Some("3s".into());
}

pub fn talker(talk_ms: u64) -> NumberBehaviour {
    NumberBehaviour {
        talk_ms: Some(talk_ms),
        ..NumberBehaviour::default()
    }
}

/// Waits until `check` passes, or fails the test with `what` after [`PATIENCE`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// The order a record's status may move in; a write never goes back.
fn status_rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "ringing" => 1,
        "connected" => 2,
        _ => 3,
    }
}

/// Every write of a record's status, oldest first, as text.
pub fn statuses(fake: &FakeAirtable, record: &str) -> Vec<String> {
    fake.field_history(record, "Call Status")
        .into_iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The record's status history moved only forward, wrote each status once, and ends on the
/// call's final outcome.
pub fn assert_written_once_in_order(fake: &FakeAirtable, record: &str, outcome: &str) {
    let history = statuses(fake, record);
    assert_eq!(
        history.last().map(String::as_str),
        Some(outcome),
        "{record}: {history:?}"
    );
    assert_eq!(
        history.iter().filter(|s| s.as_str() == outcome).count(),
        1,
        "{record}: the outcome was written more than once: {history:?}"
    );
    for pair in history.windows(2) {
        assert!(
            status_rank(&pair[0]) < status_rank(&pair[1]),
            "{record}: out of order or repeated: {history:?}"
        );
    }
}

pub async fn call_record(app: &Instance, token: &str, record: &str) -> CallId {
    let body = expect_success(
        app.post("/airtable/call", token, &json!({"recordId": record}))
            .await,
    )
    .await;
    body["data"]["id"].as_str().unwrap().parse().unwrap()
}

/// The status text a finished call leaves on its record.
pub async fn outcome_of(store: &Arc<dyn TestStore>, call: CallId) -> Option<String> {
    let call = store.call_by_id(call).await.unwrap()?;
    call.state
        .is_final()
        .then(|| callbridge::airtable::snapshot::status_text(call.state, call.reason.as_deref()))
}

/// Every write queued for the record has been delivered (or given up).
pub async fn writes_settled(store: &Arc<dyn TestStore>, record: &str) -> bool {
    let rows = store
        .outbox_for_key(&callbridge::airtable::record_key(record))
        .await
        .unwrap();
    !rows.is_empty()
        && rows
            .iter()
            .all(|r| matches!(r.status, OutboxStatus::Done | OutboxStatus::Dead))
}

#[tokio::test]
async fn a_call_from_a_record_writes_its_progress_and_outcome_back() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |_| {}).await;
    let (_, token) = app.agent("agent@example.com", "+14155550101").await;
    sim.set_number("+12025550123", talker(3_000));
    let record = fake.insert_record(json!({"Name": "Ada", "Phone": "+12025550123"}));

    let call = call_record(&app, &token, &record).await;
    eventually("the call to end", || async {
        outcome_of(&app.store, call).await.is_some()
    })
    .await;
    eventually("the record to be written", || async {
        writes_settled(&app.store, &record).await
            && fake.record(&record).is_some_and(|r| {
                // The duration comes with the customer's last callback, which may follow
                // the call's end: it is written back on its own when it does.
                r.get("Call Status") == Some(&json!("completed"))
                    && r.get("Call Duration").is_some()
            })
    })
    .await;

    let fields = fake.record(&record).unwrap();
    assert_eq!(fields["Call ID"], json!(call.to_string()));
    assert_eq!(fields["Agent"], json!("agent@example.com"));
    assert_eq!(
        fields["Name"],
        json!("Ada"),
        "fields not ours are left alone"
    );
    assert!(fields["Call Duration"].as_i64().is_some(), "{fields:?}");
    let called_at = fields["Last Called At"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(called_at).is_ok(),
        "{called_at}"
    );
    assert_written_once_in_order(&fake, &record, "completed");
    assert!(
        statuses(&fake, &record)
            .iter()
            .any(|s| s == "ringing" || s == "queued")
    );
    // Every write asked Airtable to convert values, as the column types may differ.
    let patches: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert!(!patches.is_empty());
    assert!(
        patches
            .iter()
            .all(|r| r.body.as_ref().unwrap()["typecast"] == json!(true))
    );
    app.kill().await;
}

#[tokio::test]
async fn a_record_without_a_valid_phone_is_marked_once_and_not_called() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |_| {}).await;
    let (agent, token) = app.agent("agent@example.com", "+14155550101").await;
    let bad = fake.insert_record(json!({"Phone": "call me maybe"}));
    let missing = fake.insert_record(json!({"Name": "no phone"}));

    for record in [&bad, &missing] {
        let (status, body) = expect_error(
            app.post("/airtable/call", &token, &json!({"recordId": record}))
                .await,
        )
        .await;
        assert_eq!(status, 422, "{body}");
    }
    for record in [&bad, &missing] {
        eventually("the mark to be written", || async {
            writes_settled(&app.store, record).await
        })
        .await;
    }
    // Give a wrongly retried write time to show up before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for record in [&bad, &missing] {
        assert_eq!(statuses(&fake, record), ["failed: invalid phone number"]);
    }
    assert!(
        app.store
            .calls_for_agent(agent, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (status, _) = expect_error(
        app.post("/airtable/call", &token, &json!({"recordId": "../x"}))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = expect_error(
        app.post(
            "/airtable/call",
            &token,
            &json!({"recordId": "recDoesNotExist00"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = expect_error(
        app.post("/airtable/call", "not-a-token", &json!({"recordId": bad}))
            .await,
    )
    .await;
    assert_eq!(status, 401);
    app.kill().await;
}

#[tokio::test]
async fn a_record_with_a_call_in_progress_gets_409_from_any_instance_and_no_second_call() {
    const AGENT: &str = "+14155550101";
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let first = Instance::start(&db, &sim, &fake, |_| {}).await;
    let second = Instance::start(&db, &sim, &fake, |_| {}).await;
    let (_, token) = first.agent("agent@example.com", AGENT).await;
    let record = fake.insert_record(json!({"Name": "Ada", "Phone": "+12025550123"}));

    // Both instances asked at once: one call, and the other answer names it.
    let body = json!({"recordId": record});
    let (a, b) = tokio::join!(
        first.post("/airtable/call", &token, &body),
        second.post("/airtable/call", &token, &body)
    );
    let (mut started, mut refused) = (Vec::new(), Vec::new());
    for response in [a, b] {
        let status = response.status().as_u16();
        let reply: Value = response.json().await.unwrap();
        match status {
            200 => started.push(reply),
            409 => refused.push(reply),
            other => panic!("{other}: {reply}"),
        }
    }
    assert_eq!(
        (started.len(), refused.len()),
        (1, 1),
        "{started:?} {refused:?}"
    );
    let call = started[0]["data"]["id"].as_str().unwrap().to_owned();
    let conflict = &refused[0];
    assert_eq!(conflict["status"], "error");
    assert_eq!(conflict["code"], 409);
    assert_eq!(conflict["data"]["id"], json!(call));
    assert!(
        conflict["message"].as_str().unwrap().contains(&call),
        "{conflict}"
    );

    // Asked again while the call goes on: the same answer, and still one call to the agent.
    let (status, again) = expect_error(second.post("/airtable/call", &token, &body).await).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["data"]["id"], json!(call));
    assert_eq!(sim_calls_to(&sim, AGENT).await.len(), 1);

    // Once the call is over the record may be called again.
    let hangup = first
        .post(&format!("/calls/{call}/hangup"), &token, &json!({}))
        .await;
    assert_eq!(hangup.status(), 202, "{}", hangup.text().await.unwrap());
    let call: CallId = call.parse().unwrap();
    eventually("the call to end", || async {
        outcome_of(&first.store, call).await.is_some()
    })
    .await;
    let next = call_record(&second, &token, &record).await;
    assert_ne!(next, call);
    assert_eq!(sim_calls_to(&sim, AGENT).await.len(), 2);
    first.kill().await;
    second.kill().await;
}

#[tokio::test]
async fn a_write_airtable_took_but_answered_oddly_is_not_sent_again() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    fake.garble_write_answers(true);
    let app = Instance::start(&db, &sim, &fake, |_| {}).await;
    let (_, token) = app.agent("odd@example.com", "+14155550101").await;
    sim.set_number("+12025550123", talker(3_000));
    let record = fake.insert_record(json!({"Name": "Ada", "Phone": "+12025550123"}));

    let call = call_record(&app, &token, &record).await;
    eventually("the call to end", || async {
        outcome_of(&app.store, call).await.is_some()
    })
    .await;
    eventually("the record's writes to be delivered", || async {
        writes_settled(&app.store, &record).await
            && fake
                .record(&record)
                .is_some_and(|r| r.get("Call Duration").is_some())
    })
    .await;
    let rows = app
        .store
        .outbox_for_key(&callbridge::airtable::record_key(&record))
        .await
        .unwrap();
    assert!(
        rows.iter()
            .all(|r| r.status == OutboxStatus::Done && r.attempts == 0),
        "{rows:#?}"
    );
    assert_written_once_in_order(&fake, &record, "completed");
    app.kill().await;
}

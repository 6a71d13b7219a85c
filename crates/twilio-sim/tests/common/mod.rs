//! A simulator plus a small webhook receiver that checks every X-Twilio-Signature.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use twilio_sim::{NumberBehaviour, Sim, SimConfig};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Hook {
    pub path: String,
    pub query: HashMap<String, String>,
    pub params: Vec<(String, String)>,
    /// X-Twilio-Signature checked with `twilio::signature::validate` against the URL the sim was
    /// given (the receiver's public base plus path and query).
    pub signature_ok: bool,
    pub signature: String,
    pub idempotency_token: String,
}

impl Hook {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, key: &str) -> &str {
        self.get(key)
            .unwrap_or_else(|| panic!("{key} missing from {self:?}"))
    }
}

#[derive(Default)]
struct ReceiverState {
    hooks: Mutex<Vec<Hook>>,
    /// Woken whenever a request arrives.
    arrived: tokio::sync::Notify,
    /// path -> TwiML answered there; other paths answer an empty 200.
    twiml: Mutex<HashMap<String, String>>,
    /// path -> HTTP status answered there instead.
    failing: Mutex<HashMap<String, u16>>,
    /// path -> whether requests there may be answered yet: held ones wait until released.
    gates: Mutex<HashMap<String, tokio::sync::watch::Sender<bool>>>,
    auth_token: String,
    /// The base of the URLs the sim signs: this receiver's own, or a public one it stands behind.
    public_base: Mutex<String>,
}

pub struct Receiver {
    state: Arc<ReceiverState>,
    pub base: String,
}

impl Receiver {
    pub async fn start(auth_token: &str) -> Receiver {
        Self::start_behind(auth_token, None).await
    }

    /// A receiver standing behind a load balancer at `public_base`: signatures are checked
    /// against the public URL, the one the sim signed.
    pub async fn start_behind(auth_token: &str, public_base: Option<&str>) -> Receiver {
        let state = Arc::new(ReceiverState {
            auth_token: auth_token.to_owned(),
            ..Default::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        *state.public_base.lock().unwrap() = public_base.unwrap_or(&base).to_owned();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { state, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn answer(&self, path: &str, twiml: &str) {
        self.state
            .twiml
            .lock()
            .unwrap()
            .insert(path.to_owned(), twiml.to_owned());
    }

    /// Requests to `path` are answered with this HTTP status (and no body).
    pub fn fail(&self, path: &str, status: u16) {
        self.state
            .failing
            .lock()
            .unwrap()
            .insert(path.to_owned(), status);
    }

    /// Requests to `path` are recorded on arrival but answered only once `release`d.
    pub fn hold(&self, path: &str) {
        let (gate, _) = tokio::sync::watch::channel(false);
        self.state
            .gates
            .lock()
            .unwrap()
            .insert(path.to_owned(), gate);
    }

    pub fn release(&self, path: &str) {
        if let Some(gate) = self.state.gates.lock().unwrap().get(path) {
            gate.send_replace(true);
        }
    }

    pub fn hooks(&self) -> Vec<Hook> {
        self.state.hooks.lock().unwrap().clone()
    }

    pub fn at(&self, path: &str) -> Vec<Hook> {
        self.hooks()
            .into_iter()
            .filter(|h| h.path == path)
            .collect()
    }

    /// Waits, request by request, until `pred` holds for the hooks (bounded, so a broken sim
    /// fails instead of hanging).
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Hook]) -> bool) -> Vec<Hook> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let arrived = self.state.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            let hooks = self.hooks();
            if pred(&hooks) {
                return hooks;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("gave up waiting for {what}; got {:#?}", self.hooks());
            }
        }
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let full_url = format!("{}{}", state.public_base.lock().unwrap(), uri);
    let params: Vec<(String, String)> = if method == Method::POST {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        Vec::new()
    };
    let query = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let signature = header("X-Twilio-Signature");
    let signature_ok =
        twilio::signature::validate(&state.auth_token, &signature, &full_url, &params);
    let path = uri.path().to_owned();
    state.hooks.lock().unwrap().push(Hook {
        path: path.clone(),
        query,
        params,
        signature_ok,
        signature,
        idempotency_token: header("I-Twilio-Idempotency-Token"),
    });
    state.arrived.notify_waiters();
    let gate = state
        .gates
        .lock()
        .unwrap()
        .get(&path)
        .map(|g| g.subscribe());
    if let Some(mut gate) = gate {
        let _ = gate.wait_for(|open| *open).await;
    }
    if let Some(status) = state.failing.lock().unwrap().get(&path) {
        return axum::http::StatusCode::from_u16(*status)
            .unwrap()
            .into_response();
    }
    match state.twiml.lock().unwrap().get(&path) {
        Some(t) => ([("Content-Type", "text/xml")], t.clone()).into_response(),
        None => "".into_response(),
    }
}

pub struct Harness {
    pub sim: Sim,
    pub http: reqwest::Client,
    pub rx: Receiver,
}

pub fn fast_config() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        ..SimConfig::default()
    }
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with(fast_config()).await
    }

    pub async fn with(config: SimConfig) -> Harness {
        let sim = Sim::start(config).await.unwrap();
        let rx = Receiver::start(sim.auth_token()).await;
        Harness {
            sim,
            http: reqwest::Client::new(),
            rx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!(
            "{}{}",
            self.sim.base_url().as_str().trim_end_matches('/'),
            path
        )
    }

    pub fn api(&self, rest: &str) -> String {
        self.url(&format!(
            "/2010-04-01/Accounts/{}{rest}",
            self.sim.account_sid()
        ))
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let resp = self
            .http
            .post(url)
            .basic_auth(self.sim.account_sid(), Some(self.sim.auth_token()))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, url: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(url)
            .basic_auth(self.sim.account_sid(), Some(self.sim.auth_token()))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn set_number(&self, number: &str, b: &NumberBehaviour) {
        let r = self
            .http
            .put(self.url(&format!("/sim/numbers/{number}")))
            .json(b)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    pub async fn sim_call(&self, sid: &str) -> Value {
        self.http
            .get(self.url(&format!("/sim/calls/{sid}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Places a call through the REST API and returns its SID.
    pub async fn call(&self, to: &str, extra: &[(&str, &str)]) -> String {
        let mut form = vec![("To", to), ("From", "+15005550006")];
        form.extend_from_slice(extra);
        let (status, body) = self.post(&self.api("/Calls.json"), &form).await;
        assert_eq!(status, 201, "{body}");
        body["sid"].as_str().unwrap().to_owned()
    }

    /// Waits (bounded) until the simulator's view of a call satisfies `pred`.
    pub async fn wait_call(&self, sid: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..3000 {
            let c = self.sim_call(sid).await;
            if pred(&c) {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("gave up waiting for {what}: {:#}", self.sim_call(sid).await);
    }

    pub async fn wait_final(&self, sid: &str) -> Value {
        self.wait_call(sid, "a final status", |c| {
            matches!(
                c["status"].as_str(),
                Some("completed" | "busy" | "no-answer" | "failed" | "canceled")
            )
        })
        .await
    }

    pub async fn conferences(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(self.url("/sim/conferences"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["conferences"].as_array().unwrap().clone()
    }

    pub async fn wait_conference(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        for _ in 0..3000 {
            if let Some(c) = self
                .conferences()
                .await
                .into_iter()
                .rev()
                .find(|c| c["friendly_name"] == name)
                && pred(&c)
            {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "gave up waiting for conference {name} {what}: {:#?}",
            self.conferences().await
        );
    }
}

/// Status callbacks of one call, in the order received.
pub fn statuses_of(hooks: &[Hook], path: &str, call: &str) -> Vec<String> {
    hooks
        .iter()
        .filter(|h| h.path == path && h.get("CallSid") == Some(call))
        .map(|h| h.param("CallStatus").to_owned())
        .collect()
}

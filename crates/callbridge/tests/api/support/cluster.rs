//! Several callbridge instances on one database behind a notional load balancer, and one
//! simulator whose webhooks land on any of them at random, as they would in production.

use std::sync::Arc;

use callbridge::config::{RawSettings, Settings};
use callbridge::store::SharedStore;
use callbridge::store::testing::TestDatabase;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use twilio_sim::{Sim, SimConfig};
use url::Url;

use crate::helpers::{expect_success, sim_settings};

/// The URL Twilio is given (`PUBLIC_BASE_URL`): nothing listens there. The simulator signs every
/// webhook for it and sends it to one of the instances, so each instance must check signatures
/// against this URL rather than its own address.
pub const LOAD_BALANCER_URL: &str = "https://callbridge.example.test";

#[derive(Debug)]
struct Instance {
    address: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), callbridge::startup::StartupError>>>,
}

#[derive(Debug)]
pub struct Cluster {
    instances: Vec<Instance>,
    pub sim: Sim,
    pub client: reqwest::Client,
    /// The first instance's store, for looking at what the instances stored.
    pub store: SharedStore,
    _db: TestDatabase,
}

impl Cluster {
    /// `count` instances on `db`. `sim` is completed with the instances as webhook targets.
    pub async fn start(db: TestDatabase, count: usize, mut sim: SimConfig) -> Self {
        assert!(count > 0, "a cluster needs an instance");
        let mut listeners = Vec::with_capacity(count);
        for _ in 0..count {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let address = format!("http://{}", listener.local_addr().unwrap());
            listeners.push((listener, address));
        }
        sim.webhook_targets = listeners
            .iter()
            .map(|(_, address)| Url::parse(address).unwrap())
            .collect();
        let sim = Sim::start(sim).await.expect("start the simulator");
        // Opened (and migrated) at the same time, as instances started together would be.
        let stores =
            futures::future::join_all((0..count).map(|_| callbridge::store::open(db.url()))).await;
        let mut instances = Vec::with_capacity(count);
        let mut first = None;
        for ((listener, address), store) in listeners.into_iter().zip(stores) {
            let store: SharedStore =
                store.unwrap_or_else(|e| panic!("open the {} store: {e}", db.backend().as_str()));
            let mut raw: RawSettings = sim_settings(db.url(), &sim, LOAD_BALANCER_URL);
            // Behind the load balancer the client's address is in X-Forwarded-For.
            raw.trust_proxy = Some("1".into());
            let settings = Settings::from_raw(raw).expect("valid test settings");
            first.get_or_insert_with(|| Arc::clone(&store));
            let (tx, rx) = oneshot::channel::<()>();
            let server = tokio::spawn(callbridge::startup::launch_with_store(
                settings,
                store,
                listener,
                async {
                    let _ = rx.await;
                },
            ));
            instances.push(Instance {
                address,
                shutdown: Some(tx),
                server: Some(server),
            });
        }
        let store = first.expect("at least one instance");
        Self {
            instances,
            sim,
            client: reqwest::Client::new(),
            store,
            _db: db,
        }
    }

    pub fn len(&self) -> usize {
        self.instances.len()
    }

    pub fn addresses(&self) -> Vec<&str> {
        self.instances.iter().map(|i| i.address.as_str()).collect()
    }

    /// `path` on instance `n` (modulo the instance count, so any number spreads requests).
    pub fn url(&self, n: usize, path: &str) -> String {
        format!("{}{path}", self.instances[n % self.len()].address)
    }

    /// `GET` on the simulator's control API.
    pub async fn sim_get(&self, path: &str) -> Value {
        crate::helpers::sim_get(&self.sim, path).await
    }

    /// The OTP the simulator would have sent to `to` most recently.
    pub async fn sim_otp(&self, to: &str) -> String {
        let mut url = self.sim.base_url().join("sim/verifications").unwrap();
        url.query_pairs_mut().append_pair("to", to);
        let body: Value = self
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code for {to}: {body}"))
            .to_owned()
    }

    /// A JSON `POST` to instance `n` from client address `ip` (as the load balancer reports it).
    pub async fn post_from(
        &self,
        n: usize,
        ip: &str,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(n, path))
            .header("x-forwarded-for", ip)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Onboards an agent through the real setup endpoints, each step on the next instance, and
    /// returns its call token.
    pub async fn onboard(&self, email: &str, phone: &str, ip: &str) -> String {
        let sent = self
            .post_from(0, ip, "/setup/email/init", &json!({"email": email}))
            .await;
        expect_success(sent).await;
        let code = self.sim_otp(email).await;
        let body = expect_success(
            self.post_from(
                1,
                ip,
                "/setup/email/validate",
                &json!({"email": email, "code": code}),
            )
            .await,
        )
        .await;
        let setup = body["data"]["token"].as_str().unwrap().to_owned();
        expect_success(
            self.post_from(
                2,
                ip,
                "/setup/phone/init",
                &json!({"token": setup, "phone": phone}),
            )
            .await,
        )
        .await;
        let code = self.sim_otp(phone).await;
        let body = expect_success(
            self.post_from(
                3,
                ip,
                "/setup/phone/validate",
                &json!({"token": setup, "phone": phone, "code": code}),
            )
            .await,
        )
        .await;
        body["data"]["token"].as_str().unwrap().to_owned()
    }

    /// Stops every instance, letting requests in flight finish; the simulator ends with the
    /// test's runtime.
    pub async fn stop(mut self) {
        for instance in &mut self.instances {
            if let Some(tx) = instance.shutdown.take() {
                let _ = tx.send(());
            }
        }
        for instance in &mut self.instances {
            if let Some(server) = instance.server.take() {
                server.await.unwrap().unwrap();
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for instance in &mut self.instances {
            if let Some(tx) = instance.shutdown.take() {
                let _ = tx.send(());
            }
        }
    }
}

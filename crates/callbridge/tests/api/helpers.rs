use std::sync::Arc;

use callbridge::config::{RawSettings, Settings};
use callbridge::store::SharedStore;
use callbridge::store::testing::TestDatabase;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const JWT_SECRET: &str = "an-example-secret-of-at-least-32-bytes";

/// A running app on a random port, stopped when dropped.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<Result<(), callbridge::startup::StartupError>>>,
    _db: Option<TestDatabase>,
}

pub fn minimal_settings(database_url: &str) -> RawSettings {
    RawSettings {
        twilio_account_sid: Some("AC00000000000000000000000000000000".into()),
        twilio_auth_token: Some("test-auth-token".into()),
        caller_id: Some("+14155550100".into()),
        jwt_secret: Some(JWT_SECRET.into()),
        bind: Some("127.0.0.1:0".into()),
        database_url: Some(database_url.into()),
        ..RawSettings::default()
    }
}

/// The app on a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDatabase::sqlite()).await
}

pub async fn spawn_app_on(db: TestDatabase) -> TestApp {
    let settings = Settings::from_raw(minimal_settings(db.url())).unwrap();
    let (listener, address) = listen().await;
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(callbridge::startup::launch_with_tcp_listener(
        settings,
        listener,
        async {
            let _ = rx.await;
        },
    ));
    TestApp::new(address, tx, server, Some(db))
}

/// The app on a store the test controls (e.g. one it will break).
pub async fn spawn_app_with_store(store: SharedStore) -> TestApp {
    let settings = Settings::from_raw(minimal_settings("sqlite::memory:")).unwrap();
    let (listener, address) = listen().await;
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(callbridge::startup::launch_with_store(
        settings,
        store,
        listener,
        async {
            let _ = rx.await;
        },
    ));
    TestApp::new(address, tx, server, None)
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    (listener, address)
}

impl TestApp {
    fn new(
        address: String,
        shutdown: oneshot::Sender<()>,
        server: JoinHandle<Result<(), callbridge::startup::StartupError>>,
        db: Option<TestDatabase>,
    ) -> Self {
        Self {
            address,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
            server: Some(server),
            _db: db,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
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

pub fn arc_store<S: callbridge::store::Store + 'static>(store: S) -> SharedStore {
    Arc::new(store)
}

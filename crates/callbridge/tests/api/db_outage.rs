//! Losing PostgreSQL under load, without touching the server other tests share: the app reaches
//! its database through a TCP proxy the test cuts and restores, or has its server connections
//! terminated as a restarting server terminates them. Requests that need the store answer 503
//! in the error envelope (never 500, never hang), `/readyz` says not ready while `/healthz`
//! stays up, and once the database is back the service recovers by itself.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callbridge::store::testing::TestDatabase;
use serde_json::Value;
use sqlx::Connection as _;
use url::Url;

use crate::calls_flow::{chatty_customer, keen_agent};
use crate::helpers::{TestApp, expect_success, spawn_app_with_store, verified_agent};
use crate::support::tcp_proxy::TcpProxy;

const AGENT_PHONE: &str = "+14155550177";
const CUSTOMER: &str = "+12025550177";
/// How long the test waits for something that must happen; never an assertion about speed.
const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);
/// A request that has not answered after this long is hanging, which is what must not happen.
const HANGING: Duration = Duration::from_secs(30);
const LOAD_WORKERS: usize = 6;

/// `url` with its host and port replaced by `addr`, and an `application_name` that lets the test
/// find the app's server connections.
fn routed(url: &str, addr: SocketAddr, application: &str) -> String {
    let mut url = Url::parse(url).unwrap();
    url.set_host(Some(&addr.ip().to_string())).unwrap();
    url.set_port(Some(addr.port())).unwrap();
    url.query_pairs_mut()
        .append_pair("application_name", application);
    url.to_string()
}

async fn postgres_address(url: &str) -> SocketAddr {
    let url = Url::parse(url).unwrap();
    let host = url.host_str().unwrap_or("localhost");
    let port = url.port().unwrap_or(5432);
    tokio::net::lookup_host((host, port))
        .await
        .unwrap()
        .next()
        .unwrap()
}

/// The app on `db`, reaching it at `addr` (the database itself, or a proxy), and a verified
/// agent's call token.
async fn app_via(db: &TestDatabase, addr: SocketAddr, application: &str) -> (TestApp, String) {
    let store = callbridge::store::testing::open(&routed(db.url(), addr, application))
        .await
        .expect("open the store");
    let app = spawn_app_with_store(store).await;
    let (_, token) = verified_agent(
        app.store.as_ref(),
        &app.settings,
        "outage@example.com",
        AGENT_PHONE,
    )
    .await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    app.sim.set_number(CUSTOMER, chatty_customer());
    (app, token)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(HANGING).build().unwrap()
}

/// A 503 in the seed's error envelope, saying the database is the trouble.
async fn assert_unavailable(response: reqwest::Response, what: &str) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 503, "{what}: {body}");
    assert_eq!(body["status"], "error", "{what}: {body}");
    assert_eq!(body["code"], 503, "{what}: {body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("database unavailable")),
        "{what}: {body}"
    );
}

async fn start_call(app: &TestApp, token: &str) -> reqwest::Response {
    client()
        .post(app.url("/phone-to-phone/start"))
        .bearer_auth(token)
        .form(&[("RecipientNumber", CUSTOMER)])
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn wait_for_status(app: &TestApp, path: &str, want: u16) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let status = client()
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} stayed {status}, expected {want}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// What a load worker saw: the status of each answer, with its body when it was not a 200.
type Seen = Arc<Mutex<Vec<(u16, Value)>>>;

/// Reads a call and the call log over and over until `stop`, noting every answer. A request that
/// gets no answer in [`HANGING`] fails the worker.
fn spawn_load(
    app: &TestApp,
    token: &str,
    call: &str,
    stop: &tokio::sync::watch::Receiver<bool>,
    seen: &Seen,
) -> Vec<tokio::task::JoinHandle<()>> {
    let paths = [format!("/calls/{call}"), "/calls".to_owned()];
    (0..LOAD_WORKERS)
        .map(|w| {
            let client = client();
            let url = app.url(&paths[w % paths.len()]);
            let token = token.to_owned();
            let stop = stop.clone();
            let seen = Arc::clone(seen);
            tokio::spawn(async move {
                while !*stop.borrow() {
                    let response = client
                        .get(&url)
                        .bearer_auth(&token)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("GET {url} got no answer: {e}"));
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    seen.lock().unwrap().push((status, body));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_database_gives_503s_under_load_and_the_service_recovers_by_itself() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let proxy = TcpProxy::start(postgres_address(db.url()).await).await;
    let (app, token) = app_via(&db, proxy.addr(), "callbridge-outage-proxy").await;
    let first = expect_success(start_call(&app, &token).await).await;
    let call = first["data"]["id"].as_str().unwrap().to_owned();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let seen: Seen = Arc::default();
    let load = spawn_load(&app, &token, &call, &stopped, &seen);
    tokio::time::sleep(Duration::from_millis(200)).await;

    proxy.cut();
    wait_for_status(&app, "/readyz", 503).await;
    assert_unavailable(
        client().get(app.url("/readyz")).send().await.unwrap(),
        "readyz",
    )
    .await;
    let health = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "healthz must not depend on the database"
    );
    assert_unavailable(get(&app, &token, &format!("/calls/{call}")).await, "a call").await;
    assert_unavailable(start_call(&app, &token).await, "a call start").await;
    assert_unavailable(get(&app, &token, "/setup/me").await, "a token check").await;

    proxy.restore();
    wait_for_status(&app, "/readyz", 200).await;
    expect_success(get(&app, &token, &format!("/calls/{call}")).await).await;
    let again = expect_success(start_call(&app, &token).await).await;
    let id = again["data"]["id"].as_str().unwrap().to_owned();
    wait_for_call_state(&app, &token, &id, "completed").await;

    stop.send_replace(true);
    for worker in load {
        worker.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let unavailable = seen.iter().filter(|(status, _)| *status == 503).count();
    assert!(unavailable > 0, "the load never met the outage");
    for (status, body) in &seen {
        match status {
            200 => {}
            503 => {
                assert_eq!(body["status"], "error", "{body}");
                assert_eq!(body["code"], 503, "{body}");
            }
            other => panic!("under load during an outage: {other} {body}"),
        }
    }
    app.stop().await;
}

async fn wait_for_call_state(app: &TestApp, token: &str, id: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let view = expect_success(get(app, token, &format!("/calls/{id}")).await).await;
        if view["data"]["state"] == state {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "call {id} never reached {state}: {view:#}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// A restarting PostgreSQL terminates every session ("terminating connection due to
/// administrator command"); a request caught in one must get a 503, and the next one a fresh
/// connection. The request is held on a table lock so the termination lands mid-query.
#[tokio::test]
async fn a_terminated_server_connection_is_a_503_and_the_pool_heals() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let application = format!("callbridge-outage-{}", uuid::Uuid::new_v4().simple());
    let (app, token) = app_via(&db, postgres_address(db.url()).await, &application).await;
    expect_success(get(&app, &token, "/setup/me").await).await;

    let mut locker = sqlx::PgConnection::connect(db.url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE agents IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    // Another session looks for the waiting request: a transaction sees activity as it was
    // when the transaction first looked.
    let mut admin = sqlx::PgConnection::connect(db.url()).await.unwrap();
    let blocked = {
        let client = client();
        let url = app.url("/setup/me");
        let token = token.clone();
        tokio::spawn(async move { client.get(url).bearer_auth(token).send().await.unwrap() })
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let terminated = loop {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = $1 AND wait_event_type = 'Lock'",
        )
        .bind(&application)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        if !killed.is_empty() {
            break killed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request never waited on the lock"
        );
        tokio::time::sleep(POLL).await;
    };
    assert!(terminated.iter().all(|&ok| ok), "{terminated:?}");
    assert_unavailable(blocked.await.unwrap(), "a terminated session").await;

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    locker.close().await.unwrap();
    admin.close().await.unwrap();
    expect_success(get(&app, &token, "/setup/me").await).await;
    app.stop().await;
}

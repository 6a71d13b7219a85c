//! An in-memory Airtable for tests: one base served over HTTP on `127.0.0.1`, checking the
//! token and the request shapes of Airtable's documented record endpoints, enforcing the
//! 5-requests-per-second limit per base, optionally failing at random, and remembering every
//! request and every value written to every field.
//!
//! ```no_run
//! # async fn demo() {
//! use airtable::fake::{FakeAirtable, FakeConfig};
//! let fake = FakeAirtable::start(FakeConfig::default()).await;
//! let id = fake.insert_record(serde_json::json!({"Phone": "+14155550100"}));
//! // Point the code under test at fake.base_url(), then:
//! assert!(fake.field_history(&id, "Call Status").len() <= 1);
//! assert!(fake.max_requests_in_any_second() <= 5);
//! # }
//! ```

mod http;
mod store;
mod window;

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use rand::{SeedableRng as _, rngs::StdRng};
use serde_json::{Map, Value};
use tokio::{net::TcpListener, sync::oneshot, time::Instant};
use url::Url;

use self::{store::Table, window::RateWindow};

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The only personal access token accepted.
    pub token: String,
    /// The only base served; others get 403.
    pub base_id: String,
    /// The table created at start (more with [`FakeAirtable::insert_record_into`]).
    pub table: String,
    /// Share of requests (0..=1), past token and rate checks, answered with 429 or 503 at random.
    pub fail_rate: f64,
    /// Seeds the random failures, so a run can be repeated.
    pub seed: u64,
    /// Requests accepted in any rolling second; Airtable's is 5.
    pub rate_limit: u32,
    /// After refusing for the rate, refuse everything for this long (Airtable: 30 s). Zero
    /// refuses only the requests over the limit.
    pub lockout: Duration,
    /// When set, updates may only name these fields (else 422 `UNKNOWN_FIELD_NAME`); when
    /// unset, any field name is accepted.
    pub fields: Option<Vec<String>>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            token: "patFakeToken0001.0123456789abcdef".to_owned(),
            base_id: "appFakeBase000001".to_owned(),
            table: "Leads".to_owned(),
            fail_rate: 0.0,
            seed: 0,
            rate_limit: 5,
            lockout: Duration::ZERO,
            fields: None,
        }
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// Arrival, measured from the fake's start.
    pub at: Duration,
    /// `GET`, `PATCH`, …
    pub method: String,
    /// Path and query as sent (still percent-encoded).
    pub path: String,
    /// The body as JSON (a JSON string when it was not JSON); `None` when empty.
    pub body: Option<Value>,
    /// The status answered.
    pub status: u16,
}

/// The fake Airtable; the server stops when this is dropped.
pub struct FakeAirtable {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

impl fmt::Debug for FakeAirtable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAirtable")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: FakeConfig,
    started: Instant,
    state: Mutex<State>,
}

struct State {
    tables: HashMap<String, Table>,
    window: RateWindow,
    rng: StdRng,
    fail_rate: f64,
    /// Writes are applied but answered with a body that is not Airtable's JSON.
    garble_write_answers: bool,
    log: Vec<LoggedRequest>,
    next_id: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not hide the fake's records from the assertions after it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl FakeAirtable {
    /// Starts serving on a free port of `127.0.0.1`.
    ///
    /// # Panics
    /// When no local port can be bound.
    pub async fn start(config: FakeConfig) -> Self {
        let schema: Option<BTreeSet<String>> = config.fields.clone().map(BTreeSet::from_iter);
        let tables = HashMap::from([(config.table.clone(), Table::new(schema))]);
        let state = State {
            tables,
            window: RateWindow::default(),
            rng: StdRng::seed_from_u64(config.seed),
            fail_rate: config.fail_rate.clamp(0.0, 1.0),
            garble_write_answers: false,
            log: Vec::new(),
            next_id: 1,
        };
        let shared = Arc::new(Shared {
            config,
            started: Instant::now(),
            state: Mutex::new(state),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake Airtable needs a local port");
        let addr = listener
            .local_addr()
            .expect("a bound socket has an address");
        let (stop, stopped) = oneshot::channel::<()>();
        let app = http::router(shared.clone());
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(error) = served {
                tracing::warn!(%error, "the fake Airtable stopped serving");
            }
        });
        Self {
            shared,
            addr,
            _stop: stop,
        }
    }

    /// The API root to configure the client with (`AIRTABLE_BASE_URL`).
    pub fn base_url(&self) -> Url {
        Url::parse(&format!("http://{}", self.addr)).expect("a socket address makes a valid URL")
    }

    /// How the fake was started.
    pub fn config(&self) -> &FakeConfig {
        &self.shared.config
    }

    /// Adds a record to the configured table and returns its id.
    ///
    /// # Panics
    /// When `fields` is not a JSON object.
    pub fn insert_record(&self, fields: Value) -> String {
        self.insert_record_into(&self.shared.config.table, fields)
    }

    /// Adds a record to `table` (created if new, without a schema) and returns its id.
    ///
    /// # Panics
    /// When `fields` is not a JSON object.
    pub fn insert_record_into(&self, table: &str, fields: Value) -> String {
        let Value::Object(fields) = fields else {
            panic!("a record's fields must be a JSON object, not {fields}");
        };
        let mut state = self.shared.lock();
        let id = format!("recFake{:010}", state.next_id);
        state.next_id += 1;
        state
            .tables
            .entry(table.to_owned())
            .or_insert_with(|| Table::new(None))
            .insert(id.clone(), fields, chrono::Utc::now());
        id
    }

    /// Defines (or redefines) view `name` of the configured table as these records in this
    /// order. Ids of records that do not exist are skipped when listing.
    pub fn set_view<I, S>(&self, name: &str, ids: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut state = self.shared.lock();
        let table = self.shared.config.table.clone();
        state
            .tables
            .entry(table)
            .or_insert_with(|| Table::new(None))
            .set_view(name.to_owned(), ids.into_iter().map(Into::into).collect());
    }

    /// The current fields of a record of the configured table.
    pub fn record(&self, id: &str) -> Option<Map<String, Value>> {
        self.shared
            .lock()
            .tables
            .get(&self.shared.config.table)
            .and_then(|t| t.fields(id))
    }

    /// Every value written to `field` of record `id` by updates, oldest first (`null` for a
    /// clear). Values given to [`insert_record`](Self::insert_record) are not writes.
    pub fn field_history(&self, id: &str, field: &str) -> Vec<Value> {
        self.shared
            .lock()
            .tables
            .get(&self.shared.config.table)
            .map(|t| t.history(id, field))
            .unwrap_or_default()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        // Entries are logged as answers complete; concurrent requests may finish out of order.
        let mut log = self.shared.lock().log.clone();
        log.sort_by_key(|r| r.at);
        log
    }

    /// The most requests received (whatever their answer) in any rolling second.
    pub fn max_requests_in_any_second(&self) -> usize {
        let mut times: Vec<Duration> = self.shared.lock().log.iter().map(|r| r.at).collect();
        times.sort_unstable();
        window::max_in_any_window(&times, window::WINDOW)
    }

    /// From now on, `on` makes every write that succeeds answer 200 with a body that is not JSON
    /// (as a proxy in front of Airtable might): the records are written all the same.
    pub fn garble_write_answers(&self, on: bool) {
        self.shared.lock().garble_write_answers = on;
    }

    /// Changes the share of requests failed at random from now on.
    pub fn set_fail_rate(&self, fail_rate: f64) {
        self.shared.lock().fail_rate = fail_rate.clamp(0.0, 1.0);
    }
}

//! What open but idle live streams cost: serves the app in this process on a throw-away SQLite
//! database (or `DATABASE_URL`), opens `STREAMS` live streams (default 1000) on calls that never
//! move, and reports the CPU this process (server and client both) spends per second while they
//! sit there, read from `/proc/self/stat`.
//!
//! ```sh
//! cargo run --release -p callbridge --example idle_streams
//! ```

#![forbid(unsafe_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use callbridge::config::{RawSettings, Settings};
use callbridge::domain::{EmailAddress, PhoneNumber};
use callbridge::store::testing::TestStore;
use callbridge::store::{NewAgent, NewCall};
use twilio_sim::{Sim, SimConfig};

/// An agent may hold 10 streams at once.
const STREAMS_PER_AGENT: usize = 10;
const MEASURE: Duration = Duration::from_secs(10);

/// User and system CPU of this process so far, in clock ticks (100 per second on Linux).
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux's /proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[tokio::main]
async fn main() {
    let streams: usize = std::env::var("STREAMS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let dir = std::env::temp_dir().join(format!("idle-streams-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.join("bench.db").display()));
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let raw = RawSettings {
        twilio_account_sid: Some(sim.account_sid().into()),
        twilio_auth_token: Some(sim.auth_token().into()),
        twilio_base_url: Some(sim.base_url().to_string()),
        verify_service_sid: Some("VA00000000000000000000000000000000".into()),
        caller_id: Some("+15005550006".into()),
        jwt_secret: Some("an-example-secret-of-at-least-32-bytes".into()),
        public_base_url: Some(address.clone()),
        database_url: Some(url.clone()),
        open_signup: Some("1".into()),
        ..RawSettings::default()
    };
    let settings = Settings::from_raw(raw).unwrap();
    let store: Arc<dyn TestStore> = callbridge::store::testing::open(&url).await.unwrap();
    tokio::spawn(callbridge::startup::launch_with_store(
        settings.clone(),
        store.clone(),
        listener,
        std::future::pending(),
    ));

    let mut targets = Vec::with_capacity(streams);
    let now = chrono::Utc::now();
    for a in 0..streams.div_ceil(STREAMS_PER_AGENT) {
        let agent = store
            .insert_agent(NewAgent {
                email: EmailAddress::parse(&format!("agent{a}@example.com")).unwrap(),
                email_verified_at: Some(now),
                phone: Some(PhoneNumber::parse(&format!("+1415555{:04}", a)).unwrap()),
                phone_verified_at: Some(now),
                record_by_default: false,
            })
            .await
            .unwrap();
        let token = callbridge::auth::issue_call_token(&settings, &agent).unwrap();
        for _ in 0..STREAMS_PER_AGENT.min(streams - targets.len()) {
            let call = store
                .create_call(NewCall {
                    agent_id: agent.id,
                    recipient: PhoneNumber::parse("+12025550123").unwrap(),
                    agent_endpoint: agent.phone.clone().unwrap().into(),
                    mode: callbridge::domain::CallMode::Phone,
                    label: None,
                    record: false,
                })
                .await
                .unwrap();
            targets.push((call.id, token.clone()));
        }
    }
    let client = reqwest::Client::new();
    let mut open = Vec::with_capacity(streams);
    for (id, token) in &targets {
        let mut response = client
            .get(format!("{address}/calls/{id}/events"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        // The first state frame: the stream is set up and idle from here.
        response.chunk().await.unwrap();
        open.push(response);
    }
    let (ticks, started) = (cpu_ticks(), Instant::now());
    tokio::time::sleep(MEASURE).await;
    let spent = (cpu_ticks() - ticks) as f64 / 100.0;
    let per_second = spent / started.elapsed().as_secs_f64();
    println!(
        "{streams} idle streams: {:.1} ms of CPU per second ({:.2} % of one core), backend {}",
        per_second * 1000.0,
        per_second * 100.0,
        store.backend().as_str()
    );
    drop(open);
    let _ = std::fs::remove_dir_all(&dir);
}

//! Several instances behind one load balancer: two callbridge instances on one PostgreSQL
//! database (one instance on SQLite), one simulator whose webhooks go to either instance at
//! random, duplicated and reordered. Two hundred calls at once must each end the way their
//! numbers decide, with every callback stored exactly once and no customer dialled twice; rate
//! limits and token revocation must hold across the instances.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use callbridge::domain::EmailAddress;
use callbridge::store::testing::TestDatabase;
use futures::StreamExt as _;
use serde_json::{Value, json};
use twilio_sim::{Answer, NumberBehaviour, SimConfig};
use url::Url;

use crate::calls_flow::{
    connected_log, customer_who_answers, event_counts, keen_agent, settled, unreachable,
};
use crate::helpers::{
    TIME_SCALE, expect_error, expect_started, expect_success, one_heavy_test_at_a_time, sim_hang_up,
};
use crate::support::cluster::{Cluster, LOAD_BALANCER_URL};

const AGENTS: usize = 10;
const CALLS_PER_AGENT: usize = 20;
const CALLS: usize = AGENTS * CALLS_PER_AGENT;
/// This agent's phone is always busy, so its customers must never be dialled.
const BUSY_AGENT: usize = AGENTS - 1;
/// How long the test waits for every call to settle before failing; generous for a busy
/// machine, and never an assertion about speed.
const PATIENCE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(150);
/// Status callbacks wait up to this long (real milliseconds) before they go, which reorders them.
const JITTER_MS: u64 = 20;

fn sim_config() -> SimConfig {
    SimConfig {
        time_scale: TIME_SCALE,
        webhook_duplicate_rate: 0.25,
        webhook_jitter_ms: JITTER_MS,
        ..SimConfig::default()
    }
}

fn agent_phone(a: usize) -> String {
    format!("+1415555{:04}", 300 + a)
}

fn agent_email(a: usize) -> String {
    format!("agent{a}@example.com")
}

/// Call `n` is placed by agent `n % AGENTS` to its own customer.
fn customer(n: usize) -> String {
    format!("+1202556{:04}", n)
}

/// How call `n` must end: its state and reason.
fn expectation(n: usize) -> (&'static str, Option<&'static str>) {
    if n % AGENTS == BUSY_AGENT {
        return ("failed", Some("agent_busy"));
    }
    match (n / AGENTS) % 10 {
        3 => ("failed", Some("recipient_busy")),
        5 => ("failed", Some("recipient_failed")),
        7 => ("failed", Some("recipient_no_answer")),
        _ => ("completed", None),
    }
}

fn customer_behaviour(n: usize) -> NumberBehaviour {
    match expectation(n).1 {
        Some("recipient_busy") => unreachable(Answer::Busy),
        Some("recipient_failed") => unreachable(Answer::Failed),
        Some("recipient_no_answer") => unreachable(Answer::NoAnswer),
        // Stays on the line until the test hangs up for them, once both parties are talking.
        _ => customer_who_answers(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_postgres_database_handle_two_hundred_calls() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    two_hundred_calls(db, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_on_sqlite_handles_two_hundred_calls() {
    two_hundred_calls(TestDatabase::sqlite(), 1).await;
}

async fn two_hundred_calls(db: TestDatabase, instances: usize) {
    let _turn = one_heavy_test_at_a_time().await;
    let backend = db.backend();
    let cluster = Cluster::start(db, instances, sim_config()).await;
    for a in 0..AGENTS {
        let behaviour = if a == BUSY_AGENT {
            unreachable(Answer::Busy)
        } else {
            keen_agent()
        };
        cluster.sim.set_number(&agent_phone(a), behaviour);
    }
    for n in 0..CALLS {
        cluster.sim.set_number(&customer(n), customer_behaviour(n));
    }

    let onboarding = (0..AGENTS).map(|a| {
        let cluster = &cluster;
        async move {
            cluster
                .onboard(&agent_email(a), &agent_phone(a), &format!("10.1.0.{a}"))
                .await
        }
    });
    let tokens: Vec<String> = futures::future::join_all(onboarding).await;

    rate_limits_are_counted_across_instances(&cluster).await;

    let starts = (0..CALLS).map(|n| {
        let cluster = &cluster;
        let token = &tokens[n % AGENTS];
        async move {
            let response = cluster
                .client
                .post(cluster.url(n, "/phone-to-phone/start"))
                .bearer_auth(token)
                .form(&[("RecipientNumber", customer(n))])
                .send()
                .await
                .unwrap();
            let body = expect_started(response).await;
            body["data"]["id"].as_str().unwrap().to_owned()
        }
    });
    let ids: Vec<String> = futures::future::join_all(starts).await;

    wait_all_settled(&cluster, &tokens, &ids).await;
    wait_until_the_simulator_is_quiet(&cluster).await;
    // A conference callback may come after the status callback that settled its call: the
    // views are read again, between two reads of the webhooks that agree.
    let (views, webhooks) = loop {
        let before = sim_webhooks(&cluster).await;
        let views = wait_all_settled(&cluster, &tokens, &ids).await;
        let after = sim_webhooks(&cluster).await;
        if before.len() == after.len() {
            break (views, after);
        }
    };

    for (n, view) in views.iter().enumerate() {
        let (state, reason) = expectation(n);
        assert_eq!(view["state"], state, "call {n} on {backend:?}: {view:#}");
        assert_eq!(view["reason"], json!(reason), "call {n}: {view:#}");
        if state == "completed" {
            // The agent's key races the Gather's timeout on the simulator's clock; on a busy
            // machine the timeout can win, and the call connects all the same.
            let gather = if event_counts(view).contains_key("agent:silence") {
                "silence"
            } else {
                "key-pressed"
            };
            assert_eq!(
                event_counts(view),
                connected_log(gather),
                "call {n}: {view:#}"
            );
            assert!(
                view["duration_secs"].as_i64().is_some(),
                "call {n}: {view:#}"
            );
        }
    }
    every_customer_is_dialled_at_most_once(&cluster).await;
    every_webhook_was_accepted_by_every_instance(&cluster, &webhooks);
    every_callback_is_stored_exactly_once(&ids, &views, &webhooks);
    revocation_holds_on_every_instance(&cluster, &tokens[0]).await;
    cluster.stop().await;
}

/// Each call through `GET /calls/{id}`, spread across the instances, once nothing more can
/// happen to it; in the order of `ids`. A customer who answered is hung up (as a person would)
/// once both parties are in the conference.
async fn wait_all_settled(cluster: &Cluster, tokens: &[String], ids: &[String]) -> Vec<Value> {
    let mut done: BTreeMap<usize, Value> = BTreeMap::new();
    let mut hung_up: BTreeSet<usize> = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let pending: Vec<usize> = (0..ids.len()).filter(|n| !done.contains_key(n)).collect();
        if pending.is_empty() {
            return done.into_values().collect();
        }
        let fetched: Vec<(usize, Value)> = futures::stream::iter(pending)
            .map(|n| async move {
                let response = cluster
                    .client
                    .get(cluster.url(n + 1, &format!("/calls/{}", ids[n])))
                    .bearer_auth(&tokens[n % AGENTS])
                    .send()
                    .await
                    .unwrap();
                (n, expect_success(response).await["data"].clone())
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut unsettled = Vec::new();
        for (n, view) in fetched {
            if settled(&view) {
                done.insert(n, view);
            } else {
                if talking(&view) && hung_up.insert(n) {
                    hang_up_recipient(cluster, &view).await;
                }
                unsettled.push(view);
            }
        }
        if tokio::time::Instant::now() >= deadline {
            let refused = refused_webhooks(cluster).await;
            panic!(
                "{} calls did not settle, e.g. {:#}\n{} webhooks were refused or failed, e.g. {:#}",
                unsettled.len(),
                unsettled.first().unwrap_or(&Value::Null),
                refused.len(),
                Value::Array(refused.into_iter().take(3).collect()),
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Both parties are in the conference.
fn talking(view: &Value) -> bool {
    let joined = view["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "participant-join")
        .count();
    view["state"] == "connected" && joined == 2
}

/// The customer puts the phone down, through the simulator, so Twilio's callbacks follow.
async fn hang_up_recipient(cluster: &Cluster, view: &Value) {
    let leg = view["legs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["role"] == "recipient")
        .unwrap_or_else(|| panic!("no recipient leg: {view:#}"));
    sim_hang_up(&cluster.sim, leg["call_sid"].as_str().unwrap()).await;
}

/// The simulator's requests that did not get a 2xx.
async fn refused_webhooks(cluster: &Cluster) -> Vec<Value> {
    let log = cluster.sim_get("sim/webhooks").await;
    log["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| {
            !w["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
        })
        .cloned()
        .collect()
}

/// Waits until the simulator's webhook log stops growing: a late duplicate or a jittered
/// callback may still be on its way when the calls look settled.
async fn sim_webhooks(cluster: &Cluster) -> Vec<Value> {
    cluster.sim_get("sim/webhooks").await["webhooks"]
        .as_array()
        .unwrap()
        .clone()
}

async fn wait_until_the_simulator_is_quiet(cluster: &Cluster) {
    let quiet_for = Duration::from_millis(10 * JITTER_MS).max(Duration::from_millis(300));
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut seen = usize::MAX;
    loop {
        let now = cluster.sim_get("sim/webhooks").await["webhooks"]
            .as_array()
            .unwrap()
            .len();
        if now == seen {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the simulator kept sending webhooks"
        );
        seen = now;
        tokio::time::sleep(quiet_for).await;
    }
}

/// Three codes per address per ten minutes, counted in the database: sends spread over the
/// instances (from different client addresses) share one count.
async fn rate_limits_are_counted_across_instances(cluster: &Cluster) {
    let email = json!({"email": "limited@example.com"});
    for n in 0..3 {
        let ip = format!("10.2.0.{n}");
        expect_success(cluster.post_from(n, &ip, "/setup/email/init", &email).await).await;
    }
    let refused = cluster
        .post_from(3, "10.2.0.3", "/setup/email/init", &email)
        .await;
    assert!(refused.headers().contains_key("retry-after"));
    let (status, body) = expect_error(refused).await;
    assert_eq!(status, 429, "{body}");
}

async fn every_customer_is_dialled_at_most_once(cluster: &Cluster) {
    let calls = cluster.sim_get("sim/calls").await;
    let mut dialled: BTreeMap<String, usize> = BTreeMap::new();
    for call in calls["calls"].as_array().unwrap() {
        *dialled
            .entry(call["to"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for n in 0..CALLS {
        let want = usize::from(n % AGENTS != BUSY_AGENT);
        let got = dialled.get(&customer(n)).copied().unwrap_or(0);
        assert_eq!(
            got,
            want,
            "customer of call {n} ({}) dialled {got} times",
            customer(n)
        );
    }
}

/// Every request the simulator made got a 2xx: signatures checked out against the public URL
/// on whichever instance received them, and no duplicate or reordered callback was refused.
fn every_webhook_was_accepted_by_every_instance(cluster: &Cluster, webhooks: &[Value]) {
    let public = Url::parse(LOAD_BALANCER_URL).unwrap();
    let mut reached = BTreeSet::new();
    for webhook in webhooks {
        let status = webhook["status"].as_u64();
        assert!(
            status.is_some_and(|s| (200..300).contains(&s)),
            "webhook refused or failed: {webhook:#}"
        );
        let signed_for = Url::parse(webhook["url"].as_str().unwrap()).unwrap();
        assert_eq!(signed_for.host_str(), public.host_str(), "{webhook:#}");
        let delivered = Url::parse(webhook["delivered_to"].as_str().unwrap()).unwrap();
        reached.insert(format!(
            "http://{}:{}",
            delivered.host_str().unwrap(),
            delivered.port().unwrap()
        ));
    }
    let every: BTreeSet<String> = cluster.addresses().into_iter().map(str::to_owned).collect();
    assert_eq!(reached, every, "webhooks must reach every instance");
}

/// What identifies one callback: the call it is about, then source, kind, leg and sequence.
type EventKey = (String, String, Option<String>, Option<i64>);

fn param(webhook: &Value, name: &str) -> Option<String> {
    webhook["params"][name].as_str().map(str::to_owned)
}

/// The callbacks the simulator sent (each once, whatever its copies), per call id.
fn sent_callbacks(webhooks: &[Value]) -> BTreeMap<String, Vec<EventKey>> {
    let mut tokens = BTreeSet::new();
    let mut sent: BTreeMap<String, Vec<EventKey>> = BTreeMap::new();
    for webhook in webhooks {
        let source = match webhook["kind"].as_str().unwrap() {
            "status" => "call",
            "conference-status" => "conference",
            "recording-status" => "recording",
            _ => continue,
        };
        if !tokens.insert(webhook["idempotency_token"].as_str().unwrap().to_owned()) {
            continue;
        }
        let url = Url::parse(webhook["url"].as_str().unwrap()).unwrap();
        let call = url
            .query_pairs()
            .find(|(k, _)| k == "call")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("a callback URL without its call: {url}"));
        let kind = match source {
            "call" => param(webhook, "CallStatus"),
            "conference" => param(webhook, "StatusCallbackEvent"),
            _ => param(webhook, "RecordingStatus"),
        }
        .unwrap();
        let seq = param(webhook, "SequenceNumber").map(|s| s.parse().unwrap());
        let call_sid = param(webhook, "CallSid");
        sent.entry(call)
            .or_default()
            .push((source.to_owned(), kind, call_sid, seq));
    }
    sent
}

/// The stored events of every call match the callbacks the simulator sent for it one to one:
/// none lost, none stored twice (duplicates and retries across instances included); plus one
/// Gather event for each agent who answered.
fn every_callback_is_stored_exactly_once(ids: &[String], views: &[Value], webhooks: &[Value]) {
    let mut sent = sent_callbacks(webhooks);
    for (n, (id, view)) in ids.iter().zip(views).enumerate() {
        let mut stored: Vec<EventKey> = Vec::new();
        let mut gathers = 0;
        for event in view["events"].as_array().unwrap() {
            let kind = event["kind"].as_str().unwrap().to_owned();
            if matches!(kind.as_str(), "key-pressed" | "silence") {
                gathers += 1;
                continue;
            }
            stored.push((
                event["source"].as_str().unwrap().to_owned(),
                kind,
                event["call_sid"].as_str().map(str::to_owned),
                event["sequence_number"].as_i64(),
            ));
        }
        let mut expected = sent.remove(id).unwrap_or_default();
        stored.sort();
        expected.sort();
        assert_eq!(
            stored, expected,
            "call {n}: stored events differ from the callbacks sent"
        );
        let answered = n % AGENTS != BUSY_AGENT;
        assert_eq!(gathers, usize::from(answered), "call {n}: {view:#}");
    }
    assert!(
        sent.is_empty(),
        "callbacks for calls nobody started: {sent:?}"
    );
}

/// A revocation written by one process (the `users revoke` command) is seen by every instance
/// at once: no instance trusts a token it checked earlier.
async fn revocation_holds_on_every_instance(cluster: &Cluster, token: &str) {
    let me = |n: usize| {
        cluster
            .client
            .get(cluster.url(n, "/setup/me"))
            .bearer_auth(token)
            .send()
    };
    for n in 0..cluster.len() {
        expect_success(me(n).await.unwrap()).await;
    }
    let email = EmailAddress::parse(&agent_email(0)).unwrap();
    let agent = cluster.store.agent_by_email(&email).await.unwrap().unwrap();
    cluster
        .store
        .revoke_agent(agent.id, chrono::Utc::now())
        .await
        .unwrap();
    for n in 0..cluster.len() {
        let (status, body) = expect_error(me(n).await.unwrap()).await;
        assert_eq!(status, 401, "instance {n}: {body}");
    }
}

//! The webhook chaos options: load-balanced targets, duplicated deliveries and jitter. Each test
//! checks what an application behind them must be able to rely on, never how fast anything is.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{Harness, Hook, Receiver};
use twilio_sim::SimConfig;

const ALL_EVENTS: [(&str, &str); 4] = [
    ("StatusCallbackEvent", "initiated"),
    ("StatusCallbackEvent", "ringing"),
    ("StatusCallbackEvent", "answered"),
    ("StatusCallbackEvent", "completed"),
];
const LIFECYCLE: [&str; 4] = ["initiated", "ringing", "in-progress", "completed"];
/// A short call that needs no TwiML from the application.
const PAUSE: &str = r#"<Response><Pause length="1"/></Response>"#;

/// Places a call reporting every progress event to `status_url`, with the given TwiML source.
async fn call(h: &Harness, to: &str, status_url: &str, twiml: (&str, &str)) -> String {
    let mut form = vec![twiml, ("StatusCallback", status_url)];
    form.extend(ALL_EVENTS);
    h.call(to, &form).await
}

/// Waits (bounded) until the receivers together hold `n` requests, and returns them all.
async fn wait_total(receivers: &[&Receiver], n: usize) -> Vec<Hook> {
    let all = || -> Vec<Hook> { receivers.iter().flat_map(|r| r.hooks()).collect() };
    for _ in 0..3000 {
        if all().len() >= n {
            return all();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} requests, got {:#?}", all());
}

fn numbers(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:03}")).collect()
}

#[tokio::test]
async fn load_balanced_webhooks_reach_every_target_signed_for_the_public_url() {
    // Both receivers stand behind one public name that does not resolve; the sim signs for it
    // and connects to a target instead.
    let public = "http://app.example.invalid";
    let config = common::fast_config();
    let token = config.auth_token.clone();
    let a = Receiver::start_behind(&token, Some(public)).await;
    let b = Receiver::start_behind(&token, Some(public)).await;
    for r in [&a, &b] {
        r.answer("/twiml", PAUSE);
    }
    let h = Harness::with(SimConfig {
        webhook_targets: vec![a.base.parse().unwrap(), b.base.parse().unwrap()],
        ..config
    })
    .await;
    let to = numbers(12, "+1555020");
    for (i, number) in to.iter().enumerate() {
        let url = format!("{public}/twiml?n={i}");
        call(&h, number, &format!("{public}/status"), ("Url", &url)).await;
    }
    // Each call: one TwiML request and four status callbacks.
    let hooks = wait_total(&[&a, &b], to.len() * 5).await;
    assert_eq!(hooks.len(), to.len() * 5);
    let bad: Vec<&Hook> = hooks.iter().filter(|h| !h.signature_ok).collect();
    assert!(bad.is_empty(), "not signed for the public URL: {bad:#?}");
    // 60 deliveries, each to a random one of two targets: both get some.
    assert!(!a.hooks().is_empty() && !b.hooks().is_empty());
    let fetched: BTreeSet<&str> = hooks
        .iter()
        .filter(|h| h.path == "/twiml")
        .map(|h| h.query["n"].as_str())
        .collect();
    assert_eq!(fetched.len(), to.len());
    assert!(
        h.rx.hooks().is_empty(),
        "nothing goes to the harness's own receiver"
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn duplicated_webhooks_are_identical_and_share_one_idempotency_token() {
    let h = Harness::with(SimConfig {
        webhook_duplicate_rate: 1.0,
        ..common::fast_config()
    })
    .await;
    let status = h.rx.url("/status");
    let to = numbers(3, "+1555021");
    for number in &to {
        call(&h, number, &status, ("Twiml", PAUSE)).await;
    }
    let expected = to.len() * LIFECYCLE.len();
    let hooks =
        h.rx.wait_for("every callback twice", |hs| hs.len() >= 2 * expected)
            .await;
    assert_eq!(hooks.len(), 2 * expected);

    let mut by_token: BTreeMap<&str, Vec<&Hook>> = BTreeMap::new();
    for hook in &hooks {
        assert!(hook.signature_ok, "{hook:?}");
        assert!(!hook.idempotency_token.is_empty(), "{hook:?}");
        by_token
            .entry(&hook.idempotency_token)
            .or_default()
            .push(hook);
    }
    assert_eq!(by_token.len(), expected, "one token per callback");
    let mut reported = BTreeSet::new();
    for (token, copies) in &by_token {
        assert_eq!(copies.len(), 2, "{token}: {copies:#?}");
        let (first, second) = (copies[0], copies[1]);
        assert_eq!(first.params, second.params, "{token}");
        assert_eq!(first.signature, second.signature, "{token}");
        assert_eq!(first.query, second.query, "{token}");
        reported.insert((first.param("CallSid"), first.param("CallStatus")));
    }
    assert_eq!(
        reported.len(),
        expected,
        "each callback is a different event"
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn jittered_webhooks_may_reorder_but_all_arrive_and_sequence_numbers_restore_order() {
    let h = Harness::with(SimConfig {
        webhook_jitter_ms: 40,
        ..common::fast_config()
    })
    .await;
    let status = h.rx.url("/status");
    let to = numbers(20, "+1555022");
    let mut sids = Vec::new();
    for number in &to {
        sids.push(call(&h, number, &status, ("Twiml", PAUSE)).await);
    }
    let expected = sids.len() * LIFECYCLE.len();
    let hooks =
        h.rx.wait_for("every callback", |hs| hs.len() >= expected)
            .await;
    assert_eq!(hooks.len(), expected);
    assert!(hooks.iter().all(|x| x.signature_ok), "{hooks:#?}");

    let mut reordered = 0;
    for sid in &sids {
        let arrived: Vec<&Hook> = hooks.iter().filter(|x| x.param("CallSid") == sid).collect();
        let mut by_sequence: Vec<(u64, &str)> = arrived
            .iter()
            .map(|x| {
                (
                    x.param("SequenceNumber").parse().unwrap(),
                    x.param("CallStatus"),
                )
            })
            .collect();
        let as_arrived = by_sequence.clone();
        by_sequence.sort_unstable();
        assert_eq!(
            by_sequence,
            LIFECYCLE
                .iter()
                .enumerate()
                .map(|(i, s)| (i as u64, *s))
                .collect::<Vec<_>>(),
            "{sid}: {as_arrived:?}"
        );
        if as_arrived != by_sequence {
            reordered += 1;
        }
    }
    // `initiated` and `ringing` are queued at the same moment and each waits its own random time,
    // so each call keeps its order about half the time: all twenty in order is a one-in-a-million
    // event, and would mean jitter is not applied.
    assert!(reordered > 0, "jitter reordered nothing");
    h.sim.shutdown().await;
}

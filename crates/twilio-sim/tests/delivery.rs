//! How webhooks are delivered: each call's in its own order without waiting for other calls,
//! TwiML fetch errors as Twilio reports them, and the connection overrides of a URL's fragment.

mod common;

use common::{Harness, statuses_of};
use serde_json::Value;
use twilio_sim::SimConfig;

const ALL_EVENTS: [(&str, &str); 4] = [
    ("StatusCallbackEvent", "initiated"),
    ("StatusCallbackEvent", "ringing"),
    ("StatusCallbackEvent", "answered"),
    ("StatusCallbackEvent", "completed"),
];
const LIFECYCLE: [&str; 4] = ["initiated", "ringing", "in-progress", "completed"];
const PAUSE: &str = r#"<Response><Pause length="1"/></Response>"#;

/// Places a call that needs no TwiML request and reports every progress event to `status`.
async fn short_call(h: &Harness, to: &str, status: &str) -> String {
    let mut form = vec![("Twiml", PAUSE), ("StatusCallback", status)];
    form.extend(ALL_EVENTS);
    h.call(to, &form).await
}

/// What the simulator sent to `url` (the URL as given, fragment included), in order.
async fn attempts(h: &Harness, url: &str) -> Vec<Value> {
    let all: Value = h
        .http
        .get(h.url("/sim/webhooks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    all["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["url"] == url)
        .cloned()
        .collect()
}

async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/voice")
}

#[tokio::test]
async fn a_slow_endpoint_holds_back_only_its_own_call() {
    let h = Harness::start().await;
    h.rx.hold("/slow");
    let slow_call = short_call(&h, "+15550701001", &h.rx.url("/slow")).await;
    h.rx.wait_for("the slow call's first callback", |hs| {
        hs.iter().any(|x| x.path == "/slow")
    })
    .await;

    let fast_call = short_call(&h, "+15550701002", &h.rx.url("/fast")).await;
    let hooks =
        h.rx.wait_for("the fast call's whole story", |hs| {
            statuses_of(hs, "/fast", &fast_call).len() == 4
        })
        .await;
    assert_eq!(statuses_of(&hooks, "/fast", &fast_call), LIFECYCLE);
    assert_eq!(
        statuses_of(&hooks, "/slow", &slow_call),
        ["initiated"],
        "the slow call's later callbacks wait for its first to be answered"
    );

    h.rx.release("/slow");
    let hooks =
        h.rx.wait_for("the slow call's whole story", |hs| {
            statuses_of(hs, "/slow", &slow_call).len() == 4
        })
        .await;
    assert_eq!(statuses_of(&hooks, "/slow", &slow_call), LIFECYCLE);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn an_http_error_is_11200_and_the_fallback_is_asked_with_it() {
    let h = Harness::start().await;
    h.rx.fail("/broken", 500);
    h.rx.answer("/fallback", "<Response><Say>Sorry.</Say></Response>");
    let broken = h.rx.url("/broken");
    let fallback = h.rx.url("/fallback");
    let sid = h
        .call(
            "+15550702001",
            &[("Url", broken.as_str()), ("FallbackUrl", fallback.as_str())],
        )
        .await;
    let call = h.wait_final(&sid).await;
    assert_eq!(call["status"], "completed");
    assert!(call["error_code"].is_null(), "the fallback saved the call");
    let asked = h.rx.at("/fallback").pop().expect("the fallback was asked");
    assert_eq!(asked.param("ErrorCode"), "11200");
    assert_eq!(asked.param("ErrorUrl"), broken);
    assert_eq!(
        h.rx.at("/broken").len(),
        1,
        "by default only a connection failure is retried"
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_read_timeout_set_in_the_fragment_is_11205_then_the_fallback() {
    let h = Harness::start().await;
    h.rx.hold("/stuck");
    h.rx.answer("/fallback", "<Response><Say>Sorry.</Say></Response>");
    let stuck = format!("{}#rt=200&rc=0", h.rx.url("/stuck"));
    let fallback = h.rx.url("/fallback");
    let sid = h
        .call(
            "+15550703001",
            &[("Url", stuck.as_str()), ("FallbackUrl", fallback.as_str())],
        )
        .await;
    let call = h.wait_final(&sid).await;
    assert_eq!(call["status"], "completed");
    let asked = h.rx.at("/fallback").pop().expect("the fallback was asked");
    assert_eq!(asked.param("ErrorCode"), "11205");
    assert_eq!(asked.param("ErrorUrl"), stuck);
    assert_eq!(h.rx.at("/stuck").len(), 1, "rc=0: no retry");
    let timeline = call["timeline"].to_string();
    assert!(timeline.contains("error 11205"), "{timeline}");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn the_fragment_retries_server_errors_with_one_idempotency_token() {
    let h = Harness::start().await;
    h.rx.fail("/flaky", 503);
    let flaky = format!("{}#rc=2&rp=5xx", h.rx.url("/flaky"));
    let sid = h.call("+15550704001", &[("Url", flaky.as_str())]).await;
    let call = h.wait_final(&sid).await;
    assert_eq!(call["error_code"], 11200);
    let tries = h.rx.at("/flaky");
    assert_eq!(tries.len(), 3, "the first attempt and two retries");
    assert!(
        tries.iter().all(|t| t.signature_ok),
        "signed without the fragment, which is never sent: {tries:#?}"
    );
    let token = &tries[0].idempotency_token;
    assert!(tries.iter().all(|t| &t.idempotency_token == token));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_refused_connection_is_retried_once_unless_the_fragment_says_otherwise() {
    let h = Harness::start().await;
    let dead = dead_url().await;
    let sid = h.call("+15550705001", &[("Url", dead.as_str())]).await;
    assert_eq!(h.wait_final(&sid).await["error_code"], 11205);
    let tried = attempts(&h, &dead).await;
    assert_eq!(tried.len(), 2, "{tried:#?}");
    assert_eq!(tried[0]["idempotency_token"], tried[1]["idempotency_token"]);
    assert!(tried.iter().all(|t| t["status"].is_null()));

    let once = format!("{}#rc=0", dead_url().await);
    let sid = h.call("+15550705002", &[("Url", once.as_str())]).await;
    assert_eq!(h.wait_final(&sid).await["error_code"], 11205);
    assert_eq!(attempts(&h, &once).await.len(), 1);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn the_total_timeout_bounds_every_attempt_together() {
    let h = Harness::start().await;
    h.rx.hold("/stall");
    let stall = format!("{}#rt=200&tt=300&rc=5&rp=rt", h.rx.url("/stall"));
    let sid = h.call("+15550706001", &[("Url", stall.as_str())]).await;
    assert_eq!(h.wait_final(&sid).await["error_code"], 11205);
    let tries = h.rx.at("/stall").len();
    assert!(
        (1..=2).contains(&tries),
        "five retries of 200 ms do not fit in 300 ms: {tries} attempts"
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn status_callbacks_honour_the_fragment_too() {
    let h = Harness::start().await;
    h.rx.fail("/status", 500);
    let status = format!("{}#rc=1&rp=5xx", h.rx.url("/status"));
    let sid = h
        .call(
            "+15550707001",
            &[("Twiml", PAUSE), ("StatusCallback", status.as_str())],
        )
        .await;
    let hooks =
        h.rx.wait_for("the completed callback and its retry", |hs| {
            statuses_of(hs, "/status", &sid).len() == 2
        })
        .await;
    assert_eq!(statuses_of(&hooks, "/status", &sid), ["completed"; 2]);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn reordering_swaps_a_callback_with_the_next_one_of_its_call() {
    let h = Harness::with(SimConfig {
        webhook_reorder_rate: 1.0,
        ..common::fast_config()
    })
    .await;
    let sid = short_call(&h, "+15550708001", &h.rx.url("/status")).await;
    let hooks =
        h.rx.wait_for("every callback", |hs| {
            statuses_of(hs, "/status", &sid).len() == 4
        })
        .await;
    assert_eq!(
        statuses_of(&hooks, "/status", &sid),
        ["ringing", "initiated", "completed", "in-progress"],
        "each held callback follows the one after it"
    );
    let mut by_sequence: Vec<(u32, &str)> = hooks
        .iter()
        .map(|x| {
            (
                x.param("SequenceNumber").parse().unwrap(),
                x.param("CallStatus"),
            )
        })
        .collect();
    by_sequence.sort_unstable();
    let restored: Vec<&str> = by_sequence.into_iter().map(|(_, s)| s).collect();
    assert_eq!(restored, LIFECYCLE);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_reorder_rate_beyond_one_is_refused() {
    let err = twilio_sim::Sim::start(SimConfig {
        webhook_reorder_rate: 1.5,
        ..SimConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("webhook_reorder_rate"), "{err}");
}

#[tokio::test]
async fn the_webhook_log_keeps_only_the_newest_within_its_limit() {
    let h = Harness::with(SimConfig {
        webhook_log_limit: 2,
        ..common::fast_config()
    })
    .await;
    let mut events = h.sim.subscribe();
    let status = h.rx.url("/status");
    short_call(&h, "+15550708002", &status).await;
    let mut sent = 0;
    while sent < LIFECYCLE.len() {
        let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv())
            .await
            .expect("every callback within 10 s")
            .unwrap();
        if matches!(&event, twilio_sim::SimEvent::Webhook { url, .. } if *url == status) {
            sent += 1;
        }
    }
    let (code, log) = h.get(&h.url("/sim/webhooks")).await;
    assert_eq!(code, 200);
    let kept: Vec<&str> = log["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["params"]["CallStatus"].as_str().unwrap())
        .collect();
    assert_eq!(kept, ["in-progress", "completed"]);
    assert_eq!(log["forgotten"], 2);
    h.sim.shutdown().await;
}

//! The account's calls per second: API calls beyond it wait `queued` and start at that rate.

mod common;

use common::{Harness, fast_config};
use twilio_sim::{Sim, SimConfig};

#[tokio::test]
async fn calls_beyond_the_cps_limit_wait_queued_and_report_their_queue_time() {
    let h = Harness::with(SimConfig {
        calls_per_second: Some(0.1),
        ..fast_config()
    })
    .await;
    let mut created = Vec::new();
    for to in ["+15550501001", "+15550501002", "+15550501003"] {
        let (code, body) = h
            .post(
                &h.api("/Calls.json"),
                &[
                    ("To", to),
                    ("From", "+15005550006"),
                    ("Twiml", "<Response><Hangup/></Response>"),
                ],
            )
            .await;
        assert_eq!(code, 201, "{body}");
        assert_eq!(body["status"], "queued");
        created.push(body);
    }
    let queue_times: Vec<u64> = created
        .iter()
        .map(|c| c["queue_time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(queue_times[0], 0, "the first call goes at once");
    assert!(
        queue_times[1] > 0 && queue_times[2] > queue_times[1],
        "later calls wait their turn: {queue_times:?}"
    );
    let last = created[2]["sid"].as_str().unwrap();
    let view = h.wait_final(last).await;
    assert_eq!(view["status"], "completed");
    let timeline: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let waited = timeline
        .iter()
        .position(|e| e.starts_with("waiting for the account's calls-per-second"))
        .expect("the call waited");
    let initiated = timeline.iter().position(|e| *e == "initiated").unwrap();
    assert!(waited < initiated);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_cps_limit_must_be_positive() {
    for bad in [0.0, -1.0, f64::NAN] {
        let config = SimConfig {
            calls_per_second: Some(bad),
            ..SimConfig::default()
        };
        assert!(Sim::start(config).await.is_err(), "{bad}");
    }
}

//! List filters as Twilio applies them, kept on every page link so that paging through a filtered
//! list never widens it.

mod common;

use common::Harness;
use serde_json::Value;

const PAUSE: &str = r#"<Response><Pause length="1"/></Response>"#;

fn sids(page: &Value, key: &str) -> Vec<String> {
    page[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sid"].as_str().unwrap().to_owned())
        .collect()
}

/// Follows `next_page_uri` from `first` to the end, collecting every item's SID.
async fn every_page(h: &Harness, first: &str, key: &str) -> (Vec<String>, Vec<String>) {
    let (status, mut page) = h.get(first).await;
    assert_eq!(status, 200, "{page}");
    let mut found = sids(&page, key);
    let mut links = vec![page["uri"].as_str().unwrap().to_owned()];
    while let Some(next) = page["next_page_uri"].as_str().map(str::to_owned) {
        links.push(next.clone());
        let (status, body) = h.get(&h.url(&next)).await;
        assert_eq!(status, 200, "{body}");
        found.extend(sids(&body, key));
        page = body;
    }
    (found, links)
}

#[tokio::test]
async fn call_filters_hold_on_every_page() {
    let h = Harness::start().await;
    let mut to_alice = Vec::new();
    for _ in 0..5 {
        to_alice.push(h.call("+15550901001", &[("Twiml", PAUSE)]).await);
    }
    let to_bob = h.call("+15550901002", &[("Twiml", PAUSE)]).await;
    for sid in to_alice.iter().chain([&to_bob]) {
        h.wait_final(sid).await;
    }

    let (found, links) = every_page(
        &h,
        &h.api("/Calls.json?To=%2B15550901001&Status=completed&PageSize=2"),
        "calls",
    )
    .await;
    assert_eq!(links.len(), 3, "five calls, two a page: {links:#?}");
    for link in &links {
        assert!(
            link.contains("To=%2B15550901001") && link.contains("Status=completed"),
            "{link}"
        );
    }
    let mut expected = to_alice.clone();
    expected.reverse();
    assert_eq!(found, expected, "newest first, and none to another number");

    let (found, _) = every_page(
        &h,
        &h.api("/Calls.json?From=%2B15005550006&To=%2B15550901002"),
        "calls",
    )
    .await;
    assert_eq!(found, vec![to_bob]);
    let (found, _) = every_page(&h, &h.api("/Calls.json?Status=busy"), "calls").await;
    assert!(found.is_empty());
    h.sim.shutdown().await;
}

#[tokio::test]
async fn start_time_filters_take_dates_with_their_whole_day() {
    let h = Harness::start().await;
    let sid = h.call("+15550902001", &[("Twiml", PAUSE)]).await;
    let call = h.wait_final(&sid).await;
    let (_, fetched) = h.get(&h.api(&format!("/Calls/{sid}.json"))).await;
    let started = chrono::DateTime::parse_from_rfc2822(fetched["start_time"].as_str().unwrap())
        .unwrap()
        .date_naive();
    let day = |offset: i64| {
        (started + chrono::Duration::days(offset))
            .format("%Y-%m-%d")
            .to_string()
    };
    let listed = |query: String| {
        let h = &h;
        async move {
            let (status, page) = h.get(&h.api(&format!("/Calls.json?{query}"))).await;
            assert_eq!(status, 200, "{page}");
            sids(&page, "calls")
        }
    };
    assert_eq!(
        listed(format!("StartTime%3E={}", day(0))).await,
        vec![sid.clone()]
    );
    assert_eq!(
        listed(format!("StartTime%3C={}", day(0))).await,
        vec![sid.clone()]
    );
    assert_eq!(
        listed(format!("StartTime={}", day(0))).await,
        vec![sid.clone()]
    );
    assert!(listed(format!("StartTime%3E={}", day(1))).await.is_empty());
    assert!(listed(format!("StartTime%3C={}", day(-1))).await.is_empty());
    let (status, err) = h.get(&h.api("/Calls.json?StartTime%3E=yesterday")).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["code"], 20001);
    assert!(call["status"] == "completed");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn child_calls_and_conferences_filter_by_parent_and_name() {
    let h = Harness::start().await;
    let dial = r#"<Response><Dial timeout="5"><Number>+15550903002</Number></Dial></Response>"#;
    h.set_number(
        "+15550903002",
        &twilio_sim::NumberBehaviour {
            talk_ms: Some(100),
            ..twilio_sim::NumberBehaviour::default()
        },
    )
    .await;
    let parent = h.call("+15550903001", &[("Twiml", dial)]).await;
    let other = h.call("+15550903003", &[("Twiml", PAUSE)]).await;
    h.wait_final(&parent).await;
    h.wait_final(&other).await;
    let (found, links) = every_page(
        &h,
        &h.api(&format!("/Calls.json?ParentCallSid={parent}&PageSize=1")),
        "calls",
    )
    .await;
    assert_eq!(found.len(), 1, "the one dialed leg");
    assert!(
        links
            .iter()
            .all(|l| l.contains(&format!("ParentCallSid={parent}")))
    );
    let (_, leg) = h.get(&h.api(&format!("/Calls/{}.json", found[0]))).await;
    assert_eq!(leg["parent_call_sid"], parent.as_str());

    let room = |name: &str| {
        format!(r#"<Response><Dial><Conference>{name}</Conference></Dial></Response>"#)
    };
    for name in ["standup", "standup", "retro"] {
        let sid = h
            .call("+15550903004", &[("Twiml", &room(name)), ("Timeout", "5")])
            .await;
        h.wait_call(&sid, "to join", |c| !c["conference_sid"].is_null())
            .await;
    }
    let (found, links) = every_page(
        &h,
        &h.api("/Conferences.json?FriendlyName=standup&PageSize=1"),
        "conferences",
    )
    .await;
    assert_eq!(
        found.len(),
        1,
        "both standup callers are in one conference, retro is not listed"
    );
    assert!(
        links.iter().all(|l| l.contains("FriendlyName=standup")),
        "{links:#?}"
    );
    h.sim.shutdown().await;
}

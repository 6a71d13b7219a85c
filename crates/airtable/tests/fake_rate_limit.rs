//! The fake's own per-base rate limit, seen from a client that does not pace itself.

use airtable::fake::{FakeAirtable, FakeConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn more_than_five_requests_in_a_second_get_airtables_429() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let id = fake.insert_record(json!({}));
    let url = fake
        .base_url()
        .join(&format!("/v0/appFakeBase000001/Leads/{id}"))
        .unwrap();
    let http = reqwest::Client::new();
    let sends: Vec<_> = (0..20)
        .map(|_| {
            http.get(url.clone())
                .bearer_auth(&fake.config().token)
                .send()
        })
        .collect();
    let mut refused_bodies = Vec::new();
    for send in sends {
        let answer = send.await.unwrap();
        if answer.status().as_u16() == 429 {
            refused_bodies.push(answer.json::<Value>().await.unwrap());
        }
    }
    assert!(!refused_bodies.is_empty());
    assert_eq!(
        refused_bodies[0],
        json!({"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]})
    );

    // Whatever the timing, no rolling second saw more than five accepted requests.
    let accepted: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.status == 200)
        .map(|r| r.at)
        .collect();
    for start in &accepted {
        let in_window = accepted
            .iter()
            .filter(|t| **t >= *start && **t < *start + std::time::Duration::from_secs(1))
            .count();
        assert!(in_window <= 5, "{in_window} accepted within a second");
    }
    // The counter sees every arrival, refused ones included.
    assert!(fake.max_requests_in_any_second() > 5);
}

#[tokio::test]
async fn every_request_is_logged_with_its_answer() {
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let http = reqwest::Client::new();
    let answer = http
        .patch(fake.base_url().join("/v0/appFakeBase000001/Leads").unwrap())
        .header("content-type", "application/json")
        .body("not json")
        .bearer_auth(&fake.config().token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let unauthenticated = http
        .get(fake.base_url().join("/v0/appFakeBase000001/Leads").unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let log = fake.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].body, Some(Value::String("not json".to_owned())));
    assert_eq!((log[1].method.as_str(), log[1].status), ("GET", 401));
    assert!(log[0].at <= log[1].at);
}

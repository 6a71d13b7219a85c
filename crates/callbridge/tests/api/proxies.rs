//! `TRUST_PROXY=N`: the client address is what the outermost of our N proxies saw, never what
//! the client wrote into `X-Forwarded-For` itself.

use callbridge::domain::EmailAddress;
use callbridge::store::testing::TestDatabase;

use crate::helpers::{TestApp, expect_success, spawn_app_with};

/// Signs `email` up with the given `X-Forwarded-For` and returns the address the audit log
/// recorded for the code sent.
async fn audited_address(app: &TestApp, email: &str, forwarded_for: &str) -> String {
    let response = app
        .client
        .post(app.url("/setup/email/init"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", email)])
        .send()
        .await
        .unwrap();
    expect_success(response).await;
    let code = app.sim_otp(email).await;
    expect_success(
        app.post_form_pairs(
            "/setup/email/validate",
            &[("email", email), ("code", &code)],
        )
        .await,
    )
    .await;
    let email = EmailAddress::parse(email).unwrap();
    let agent = app.store.agent_by_email(&email).await.unwrap().unwrap();
    let events = app
        .store
        .audit_for_agent(agent.id, email.as_str(), 10)
        .await
        .unwrap();
    events[0].client_ip.clone().expect("an address")
}

#[tokio::test]
async fn one_proxy_takes_the_entry_it_appended_not_the_clients() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        raw.trust_proxy = Some("1".into());
    })
    .await;
    // The client sent "X-Forwarded-For: 203.0.113.66"; our proxy appended the peer it saw.
    let got = audited_address(&app, "ada@example.com", "203.0.113.66, 198.51.100.4").await;
    assert_eq!(got, "198.51.100.4");
}

#[tokio::test]
async fn n_proxies_take_the_nth_entry_from_the_right() {
    let app = spawn_app_with(TestDatabase::default_backend().await, |raw| {
        raw.trust_proxy = Some("2".into());
    })
    .await;
    // A CDN appended the client's address, then our load balancer appended the CDN's.
    let got = audited_address(
        &app,
        "ada@example.com",
        "203.0.113.66, 198.51.100.4, 10.0.0.2",
    )
    .await;
    assert_eq!(got, "198.51.100.4");
    // A request that skipped the outer proxy has too short a chain: the peer is all we know.
    let got = audited_address(&app, "bob@example.com", "203.0.113.66").await;
    assert_eq!(got, "127.0.0.1");
}

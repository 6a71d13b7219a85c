//! TwiML fetch errors as Twilio reports them (11200, 11205) and the call's FallbackUrl.

mod common;

use common::Harness;

/// A URL where nothing listens: the connection is refused.
async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/voice")
}

#[tokio::test]
async fn an_unreachable_url_is_11205_and_the_fallback_is_asked_with_the_error() {
    let h = Harness::start().await;
    h.rx.answer("/fallback", "<Response><Say>Sorry.</Say></Response>");
    let dead = dead_url().await;
    let fallback = h.rx.url("/fallback");
    let status = h.rx.url("/status");
    let sid = h
        .call(
            "+15550601001",
            &[
                ("Url", dead.as_str()),
                ("FallbackUrl", fallback.as_str()),
                ("StatusCallback", status.as_str()),
            ],
        )
        .await;
    let call = h.wait_final(&sid).await;
    assert_eq!(call["status"], "completed");
    let asked = h.rx.at("/fallback").pop().expect("the fallback was asked");
    assert!(asked.signature_ok);
    assert_eq!(asked.param("ErrorCode"), "11205");
    assert_eq!(asked.param("ErrorUrl"), dead);
    assert_eq!(asked.param("CallSid"), sid);
    let timeline = call["timeline"].to_string();
    assert!(timeline.contains("say \\\"Sorry.\\\""), "{timeline}");
    assert!(call["error_code"].is_null(), "the fallback saved the call");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn an_http_error_is_11200_and_fails_the_call_without_a_fallback() {
    let h = Harness::start().await;
    // The simulator itself answers 401 to an unauthenticated request.
    let not_found = format!(
        "{}/2010-04-01/nothing-here",
        h.sim.base_url().as_str().trim_end_matches('/')
    );
    let sid = h.call("+15550602001", &[("Url", not_found.as_str())]).await;
    let call = h.wait_final(&sid).await;
    assert_eq!(call["error_code"], 11200);
    let status = h.rx.url("/status");
    let dead = dead_url().await;
    let sid = h
        .call(
            "+15550602002",
            &[("Url", dead.as_str()), ("StatusCallback", status.as_str())],
        )
        .await;
    let call = h.wait_final(&sid).await;
    assert_eq!(call["error_code"], 11205);
    let done =
        h.rx.wait_for("the completed callback", |hs| {
            hs.iter().any(|x| x.get("CallSid") == Some(sid.as_str()))
        })
        .await
        .into_iter()
        .find(|x| x.get("CallSid") == Some(sid.as_str()))
        .unwrap();
    assert_eq!(done.param("ErrorCode"), "11205");
    assert_eq!(done.param("ErrorMessage"), "HTTP connection failure");
    h.sim.shutdown().await;
}

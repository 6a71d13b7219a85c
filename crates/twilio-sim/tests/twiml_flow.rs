//! Where a call goes after `<Gather>` and `<Record>` when the application gave no obvious next
//! step: finishOnKey pressed alone, a Record without an action.

mod common;

use common::Harness;
use twilio_sim::NumberBehaviour;

fn pressing(digits: &str) -> NumberBehaviour {
    NumberBehaviour {
        ring_ms: 100,
        digits: Some(digits.to_owned()),
        digits_after_ms: 100,
        ..NumberBehaviour::default()
    }
}

#[tokio::test]
async fn finish_on_key_alone_goes_on_to_the_next_verb_without_the_action() {
    let h = Harness::start().await;
    h.set_number("+15550801001", &pressing("#")).await;
    h.rx.answer(
        "/menu",
        r##"<Response><Gather action="/chosen" timeout="600" finishOnKey="#"/><Redirect>/after</Redirect></Response>"##,
    );
    h.rx.answer("/after", "<Response><Hangup/></Response>");
    let sid = h.call("+15550801001", &[("Url", &h.rx.url("/menu"))]).await;
    h.wait_final(&sid).await;
    assert!(h.rx.at("/chosen").is_empty(), "{:#?}", h.rx.hooks());
    assert_eq!(h.rx.at("/after").len(), 1);

    // Asked to report empty input, the action hears of it.
    h.set_number("+15550801002", &pressing("#")).await;
    h.rx.answer(
        "/menu-empty",
        r##"<Response><Gather action="/chosen-empty" timeout="600" finishOnKey="#" actionOnEmptyResult="true"/></Response>"##,
    );
    h.rx.answer("/chosen-empty", "<Response/>");
    let sid = h
        .call("+15550801002", &[("Url", &h.rx.url("/menu-empty"))])
        .await;
    h.wait_final(&sid).await;
    let chosen = h.rx.at("/chosen-empty");
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0].param("Digits"), "");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn record_without_an_action_requests_the_current_document_again() {
    let h = Harness::start().await;
    h.rx.answer(
        "/voicemail",
        r#"<Response><Record timeout="2"/><Say>never said</Say></Response>"#,
    );
    let voicemail = h.rx.url("/voicemail");
    let sid = h.call("+15550802001", &[("Url", &voicemail)]).await;
    let again =
        h.rx.wait_for("the document requested again", |hs| {
            hs.iter().filter(|x| x.path == "/voicemail").count() >= 2
        })
        .await;
    let second = again
        .iter()
        .filter(|x| x.path == "/voicemail")
        .nth(1)
        .unwrap();
    assert_eq!(second.param("CallSid"), sid);
    assert!(second.param("RecordingSid").starts_with("RE"), "{second:?}");
    assert!(second.get("RecordingUrl").is_some());
    // The application answers differently once the recording exists.
    h.rx.answer("/voicemail", "<Response><Hangup/></Response>");
    let call = h.wait_final(&sid).await;
    assert_eq!(call["status"], "completed");
    assert!(
        !call["timeline"].to_string().contains("never said"),
        "the verbs after Record do not run"
    );
    h.sim.shutdown().await;
}

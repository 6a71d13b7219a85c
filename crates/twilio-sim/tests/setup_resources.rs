//! The resources a set-up touches: the account's number (fetched, pointed at the application's
//! VoiceUrl), a Verify Service and a Sync Service.

mod common;

use common::{Harness, fast_config};
use twilio_sim::SimConfig;

const OWNED: &str = "+15005550006";

#[tokio::test]
async fn an_owned_number_is_fetched_and_updated_by_its_sid() {
    let h = Harness::with(SimConfig {
        incoming_numbers: vec![OWNED.to_owned()],
        ..fast_config()
    })
    .await;
    let (_, page) = h
        .get(&h.api("/IncomingPhoneNumbers.json?PhoneNumber=%2B15005550006"))
        .await;
    let sid = page["incoming_phone_numbers"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = h.api(&format!("/IncomingPhoneNumbers/{sid}.json"));
    let (status, number) = h.get(&url).await;
    assert_eq!(status, 200, "{number}");
    assert_eq!(number["phone_number"], OWNED);
    assert!(number["voice_url"].is_null());

    let voice = h.rx.url("/voice");
    let (status, updated) = h
        .post(
            &url,
            &[
                ("VoiceUrl", voice.as_str()),
                ("VoiceMethod", "GET"),
                ("FriendlyName", "front desk"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["voice_url"], voice.as_str());
    assert_eq!(updated["voice_method"], "GET");
    assert_eq!(updated["friendly_name"], "front desk");
    let (_, again) = h.get(&url).await;
    assert_eq!(again["voice_url"], voice.as_str(), "the update is kept");
    let (_, by_name) = h
        .get(&h.api("/IncomingPhoneNumbers.json?FriendlyName=front+desk"))
        .await;
    assert_eq!(by_name["incoming_phone_numbers"][0]["sid"], sid.as_str());

    let (status, err) = h
        .post(&url, &[("VoiceUrl", "not a url"), ("FriendlyName", "x")])
        .await;
    assert_eq!((status, err["code"].as_u64()), (400, Some(21502)));
    let (_, unchanged) = h.get(&url).await;
    assert_eq!(
        unchanged["friendly_name"], "front desk",
        "a refused update changes nothing"
    );

    let stranger = format!("PN{:0>32}", "15550920001");
    let (status, _) = h
        .get(&h.api(&format!("/IncomingPhoneNumbers/{stranger}.json")))
        .await;
    assert_eq!(status, 404, "a number the account does not own");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_verify_service_is_created_fetched_and_sets_its_code_length() {
    let h = Harness::start().await;
    let (status, err) = h.post(&h.url("/v2/Services"), &[("CodeLength", "6")]).await;
    assert_eq!(
        (status, err["code"].as_u64()),
        (400, Some(20001)),
        "FriendlyName is required"
    );
    let (status, err) = h
        .post(
            &h.url("/v2/Services"),
            &[("FriendlyName", "x"), ("CodeLength", "11")],
        )
        .await;
    assert_eq!((status, err["code"].as_u64()), (400, Some(60200)));

    let (status, service) = h
        .post(
            &h.url("/v2/Services"),
            &[("FriendlyName", "callbridge"), ("CodeLength", "8")],
        )
        .await;
    assert_eq!(status, 201, "{service}");
    let sid = service["sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("VA") && sid.len() == 34);
    assert_eq!(service["code_length"], 8);
    let (status, fetched) = h.get(&h.url(&format!("/v2/Services/{sid}"))).await;
    assert_eq!(status, 200);
    assert_eq!(fetched["friendly_name"], "callbridge");
    let unknown = format!("VA{}", "f".repeat(32));
    let (status, _) = h.get(&h.url(&format!("/v2/Services/{unknown}"))).await;
    assert_eq!(status, 404);

    let (status, _) = h
        .post(
            &h.url(&format!("/v2/Services/{sid}/Verifications")),
            &[("To", "+15550921001"), ("Channel", "sms")],
        )
        .await;
    assert_eq!(status, 201);
    let sent: serde_json::Value = h
        .http
        .get(h.url("/sim/verifications?to=%2B15550921001"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = sent["code"].as_str().unwrap();
    assert_eq!(code.len(), 8, "{sent}");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_sync_service_is_created_and_holds_documents() {
    let h = Harness::start().await;
    let (status, service) = h
        .post(&h.url("/v1/Services"), &[("FriendlyName", "callbridge")])
        .await;
    assert_eq!(status, 201, "{service}");
    let sid = service["sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("IS") && sid.len() == 34);
    assert_eq!(service["friendly_name"], "callbridge");
    let (status, doc) = h
        .post(
            &h.url(&format!("/v1/Services/{sid}/Documents")),
            &[("UniqueName", "settings"), ("Data", "{}")],
        )
        .await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["service_sid"], sid.as_str());
    h.sim.shutdown().await;
}

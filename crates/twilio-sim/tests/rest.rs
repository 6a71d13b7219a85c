//! REST fidelity: auth, validation errors, response shapes, Verify limits, Sync documents.

mod common;

use std::time::Duration;

use common::Harness;
use serde_json::Value;
use twilio_sim::SimConfig;

const VA: &str = "VA00000000000000000000000000000001";
const IS: &str = "IS00000000000000000000000000000001";

#[tokio::test]
async fn basic_auth_is_checked_like_twilio() {
    let h = Harness::with(SimConfig {
        api_keys: vec![(
            "SK00000000000000000000000000000001".into(),
            "key-secret".into(),
        )],
        ..common::fast_config()
    })
    .await;
    let url = h.api("/Calls.json");
    for (user, pass) in [
        (h.sim.account_sid(), "wrong"),
        ("SK00000000000000000000000000000001", "nope"),
        ("", ""),
    ] {
        let r = h
            .http
            .get(&url)
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], 20003);
        assert_eq!(body["status"], 401);
        assert_eq!(body["message"], "Authenticate");
    }
    let r = h.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = h
        .http
        .get(&url)
        .basic_auth("SK00000000000000000000000000000001", Some("key-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (code, body) = h
        .get(&h.url("/2010-04-01/Accounts/AC11111111111111111111111111111111/Calls.json"))
        .await;
    assert_eq!((code, body["code"].clone()), (404, 20404.into()));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn validation_and_missing_resources_use_twilio_codes() {
    let h = Harness::start().await;
    let url = h.api("/Calls.json");
    let cases: [(&[(&str, &str)], u64); 5] = [
        (
            &[("From", "+15005550006"), ("Url", "https://x.example/t")],
            21201,
        ),
        (
            &[
                ("To", "555-nope"),
                ("From", "+15005550006"),
                ("Url", "https://x.example/t"),
            ],
            21211,
        ),
        (
            &[("To", "+15551234567"), ("Url", "https://x.example/t")],
            21213,
        ),
        (&[("To", "+15551234567"), ("From", "+15005550006")], 21205),
        (
            &[
                ("To", "+15551234567"),
                ("From", "+15005550006"),
                ("Url", "not a url"),
            ],
            21205,
        ),
    ];
    for (form, code) in cases {
        let (status, body) = h.post(&url, form).await;
        assert_eq!(status, 400, "{form:?}: {body}");
        assert_eq!(body["code"], code, "{form:?}: {body}");
        assert_eq!(
            body["more_info"],
            format!("https://www.twilio.com/docs/errors/{code}")
        );
    }
    let missing = h.api("/Calls/CA00000000000000000000000000000000.json");
    let (status, body) = h.get(&missing).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 20404);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("/Calls/CA00000000000000000000000000000000.json")
    );
    let (status, _) = h
        .get(&h.api("/Conferences/CF00000000000000000000000000000000.json"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = h.get(&h.url("/nothing/here")).await;
    assert_eq!(status, 404);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn call_resource_has_every_field_of_twilios_schema() {
    let h = Harness::start().await;
    let (status, call) = h
        .post(
            &h.api("/Calls.json"),
            &[
                ("To", "+14155550100"),
                ("From", "+15005550006"),
                ("Twiml", "<Response/>"),
            ],
        )
        .await;
    assert_eq!(status, 201);
    assert!(call["date_created"].as_str().unwrap().ends_with("+0000"));
    let sid = call["sid"].as_str().unwrap();
    let shape: Value = serde_json::from_str(&call.to_string().replace(sid, "CA_SID")).unwrap();
    insta::assert_json_snapshot!("call_created", shape, {
        ".date_created" => "[date]",
        ".date_updated" => "[date]",
    });
    let (status, list) = h
        .get(&h.api("/Calls.json?To=%2B14155550100&PageSize=1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list["calls"][0]["sid"], call["sid"]);
    assert_eq!(list["page_size"], 1);
    h.sim.shutdown().await;
}

fn numbers_in(page: &Value) -> Vec<&str> {
    page["incoming_phone_numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["phone_number"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn listed_incoming_numbers_are_the_only_caller_ids() {
    let owned = "+15005550006";
    let h = Harness::with(SimConfig {
        incoming_numbers: vec![owned.to_owned()],
        ..common::fast_config()
    })
    .await;
    let (status, numbers) = h
        .get(&h.api("/IncomingPhoneNumbers.json?PhoneNumber=%2B15005550006"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(numbers_in(&numbers), [owned]);
    let (_, none) = h
        .get(&h.api("/IncomingPhoneNumbers.json?PhoneNumber=%2B19999999999"))
        .await;
    assert!(numbers_in(&none).is_empty(), "{none}");

    let stranger = "+14155550199";
    let (status, body) = h
        .post(
            &h.api("/Calls.json"),
            &[
                ("To", "+14155550100"),
                ("From", stranger),
                ("Twiml", "<Response/>"),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 21210);
    assert!(
        body["message"].as_str().unwrap().contains(stranger),
        "{body}"
    );
    let (status, body) = h
        .post(
            &h.api("/Conferences/owned-room/Participants.json"),
            &[("To", "+14155550100"), ("From", stranger)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], 21210);
    let (status, none) = h
        .get(&h.api("/Conferences.json?FriendlyName=owned-room"))
        .await;
    assert_eq!(status, 200);
    assert!(none["conferences"].as_array().unwrap().is_empty(), "{none}");

    let (status, call) = h
        .post(
            &h.api("/Calls.json"),
            &[
                ("To", "+14155550100"),
                ("From", owned),
                ("Twiml", "<Response/>"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{call}");
    assert!(call["phone_number_sid"].as_str().unwrap().starts_with("PN"));
    // A browser caller is not a phone number and needs no ownership.
    let (status, body) = h
        .post(
            &h.api("/Calls.json"),
            &[
                ("To", "client:alice"),
                ("From", "client:bob"),
                ("Twiml", "<Response/>"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{body}");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn without_incoming_numbers_every_caller_id_is_owned() {
    let h = Harness::start().await;
    let any = "+14155550199";
    let (status, call) = h
        .post(
            &h.api("/Calls.json"),
            &[
                ("To", "+14155550100"),
                ("From", any),
                ("Twiml", "<Response/>"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{call}");
    assert!(call["phone_number_sid"].as_str().unwrap().starts_with("PN"));
    let (_, found) = h
        .get(&h.api("/IncomingPhoneNumbers.json?PhoneNumber=%2B14155550199"))
        .await;
    assert_eq!(numbers_in(&found), [any]);
    let (_, unasked) = h.get(&h.api("/IncomingPhoneNumbers.json")).await;
    assert!(numbers_in(&unasked).is_empty(), "{unasked}");
    h.sim.shutdown().await;
}

async fn code_for(h: &Harness, to: &str) -> String {
    let v: Value = h
        .http
        .get(h.url("/sim/verifications"))
        .query(&[("to", to)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["code"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn verify_codes_approve_and_wrong_checks_lock() {
    let h = Harness::start().await;
    let start = h.url(&format!("/v2/Services/{VA}/Verifications"));
    let check = h.url(&format!("/v2/Services/{VA}/VerificationCheck"));
    let (status, v) = h
        .post(&start, &[("To", "agent@example.com"), ("Channel", "email")])
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["status"], "pending");
    assert_eq!(v["channel"], "email");
    assert!(v["sid"].as_str().unwrap().starts_with("VE"));
    let code = code_for(&h, "agent@example.com").await;
    assert_eq!(code.len(), 6);
    let (status, ok) = h
        .post(&check, &[("To", "agent@example.com"), ("Code", &code)])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (ok["status"].as_str(), ok["valid"].as_bool()),
        (Some("approved"), Some(true))
    );
    let (status, gone) = h
        .post(&check, &[("To", "agent@example.com"), ("Code", &code)])
        .await;
    assert_eq!((status, gone["code"].as_u64()), (404, Some(20404)));

    h.post(&start, &[("To", "+15551230000"), ("Channel", "sms")])
        .await;
    let code = code_for(&h, "+15551230000").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let (status, body) = h
            .post(&check, &[("To", "+15551230000"), ("Code", wrong)])
            .await;
        assert_eq!(
            (status, body["status"].as_str(), body["valid"].as_bool()),
            (200, Some("pending"), Some(false))
        );
    }
    let (status, body) = h
        .post(&check, &[("To", "+15551230000"), ("Code", &code)])
        .await;
    assert_eq!((status, body["code"].as_u64()), (429, Some(60202)));

    let (status, body) = h
        .post(&start, &[("To", "+15551230000"), ("Channel", "pigeon")])
        .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(60200)));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn verify_codes_expire_and_sends_are_limited() {
    let h = Harness::start().await;
    let start = h.url(&format!("/v2/Services/{VA}/Verifications"));
    let check = h.url(&format!("/v2/Services/{VA}/VerificationCheck"));
    let (_, first) = h
        .post(&start, &[("To", "+15551239999"), ("Channel", "sms")])
        .await;
    let code = code_for(&h, "+15551239999").await;
    for _ in 0..4 {
        let (status, again) = h
            .post(&start, &[("To", "+15551239999"), ("Channel", "sms")])
            .await;
        assert_eq!(status, 201);
        assert_eq!(
            again["sid"], first["sid"],
            "a resend reuses the pending verification"
        );
    }
    assert_eq!(code_for(&h, "+15551239999").await, code);
    let (status, body) = h
        .post(&start, &[("To", "+15551239999"), ("Channel", "sms")])
        .await;
    assert_eq!((status, body["code"].as_u64()), (429, Some(60203)));

    h.sim.advance_clock(Duration::from_secs(11 * 60));
    let (status, body) = h
        .post(&check, &[("To", "+15551239999"), ("Code", &code)])
        .await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(20404)));
    let (status, fresh) = h
        .post(&start, &[("To", "+15551239999"), ("Channel", "sms")])
        .await;
    assert_eq!(status, 201, "the send window has passed: {fresh}");
    assert_ne!(fresh["sid"], first["sid"]);
    let sid = fresh["sid"].as_str().unwrap();
    let code = code_for(&h, "+15551239999").await;
    let (status, ok) = h
        .post(&check, &[("VerificationSid", sid), ("Code", &code)])
        .await;
    assert_eq!((status, ok["status"].as_str()), (200, Some("approved")));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn sync_documents_have_unique_names_and_revisions() {
    let h = Harness::start().await;
    let docs = h.url(&format!("/v1/Services/{IS}/Documents"));
    let (status, doc) = h
        .post(
            &docs,
            &[
                ("UniqueName", "verified_email_YQ=="),
                ("Data", r#"{"email":"a@b.c"}"#),
            ],
        )
        .await;
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["data"]["email"], "a@b.c");
    assert_eq!(doc["revision"], "0");
    let (status, dup) = h
        .post(
            &docs,
            &[("UniqueName", "verified_email_YQ=="), ("Data", "{}")],
        )
        .await;
    assert_eq!((status, dup["code"].as_u64()), (409, Some(54301)));
    let by_name = format!("{docs}/verified_email_YQ==");
    let (status, fetched) = h.get(&by_name).await;
    assert_eq!((status, fetched["sid"].clone()), (200, doc["sid"].clone()));
    let (status, updated) = h.post(&by_name, &[("Data", r#"{"email":"x@y.z"}"#)]).await;
    assert_eq!(status, 200);
    assert_eq!(updated["revision"], "1");
    let (status, list) = h.get(&docs).await;
    assert_eq!(status, 200);
    assert_eq!(list["documents"].as_array().unwrap().len(), 1);
    assert_eq!(list["meta"]["key"], "documents");
    let (status, missing) = h.get(&format!("{docs}/nope")).await;
    assert_eq!((status, missing["code"].as_u64()), (404, Some(20404)));
    h.sim.shutdown().await;
}

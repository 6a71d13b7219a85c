//! Applications (TwiML Apps) and API Keys: Twilio's 2010-04-01 shapes, paging and errors.

mod common;

use common::Harness;
use serde_json::Value;

fn sids(page: &Value, key: &str) -> Vec<String> {
    page[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["sid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn applications_are_created_fetched_listed_updated_and_deleted() {
    let h = Harness::start().await;
    let voice = h.rx.url("/voice");
    let (status, app) = h
        .post(
            &h.api("/Applications.json"),
            &[
                ("FriendlyName", "browser agents"),
                ("VoiceUrl", &voice),
                ("VoiceMethod", "GET"),
                ("StatusCallback", &h.rx.url("/status")),
            ],
        )
        .await;
    assert_eq!(status, 201, "{app}");
    let sid = app["sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("AP") && sid.len() == 34, "{sid}");
    assert_eq!(app["friendly_name"], "browser agents");
    assert_eq!(app["voice_url"], voice.as_str());
    assert_eq!(app["voice_method"], "GET");
    assert_eq!(app["voice_fallback_method"], "POST");
    assert_eq!(app["status_callback_method"], "POST");
    assert_eq!(app["account_sid"], h.sim.account_sid());
    assert_eq!(
        app["uri"],
        format!(
            "/2010-04-01/Accounts/{}/Applications/{sid}.json",
            h.sim.account_sid()
        )
    );
    assert!(app["date_created"].as_str().unwrap().ends_with("+0000"));

    let url = h.api(&format!("/Applications/{sid}.json"));
    let (status, fetched) = h.get(&url).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, app);

    let (_, other) = h
        .post(&h.api("/Applications.json"), &[("FriendlyName", "other")])
        .await;
    let other_sid = other["sid"].as_str().unwrap().to_owned();
    assert_eq!(other["voice_url"], "");
    let (status, page) = h.get(&h.api("/Applications.json?PageSize=1")).await;
    assert_eq!(status, 200);
    assert_eq!(sids(&page, "applications"), [other_sid.as_str()]);
    assert!(page["next_page_uri"].as_str().unwrap().contains("Page=1"));
    let (_, second) = h.get(&h.api("/Applications.json?PageSize=1&Page=1")).await;
    assert_eq!(sids(&second, "applications"), [sid.as_str()]);
    let (_, named) = h
        .get(&h.api("/Applications.json?FriendlyName=browser+agents"))
        .await;
    assert_eq!(sids(&named, "applications"), [sid.as_str()]);

    let (status, updated) = h
        .post(
            &url,
            &[("VoiceUrl", &h.rx.url("/voice2")), ("VoiceMethod", "POST")],
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["voice_url"], h.rx.url("/voice2").as_str());
    assert_eq!(updated["voice_method"], "POST");
    assert_eq!(updated["friendly_name"], "browser agents");

    let (status, refused) = h.post(&url, &[("VoiceUrl", "not a url")]).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["code"], 21502);
    let (_, unchanged) = h.get(&url).await;
    assert_eq!(unchanged["voice_url"], h.rx.url("/voice2").as_str());

    let deleted = h
        .http
        .delete(&url)
        .basic_auth(h.sim.account_sid(), Some(h.sim.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let (status, gone) = h.get(&url).await;
    assert_eq!(status, 404);
    assert_eq!(gone["code"], 20404);
    assert_eq!(gone["status"], 404);
    let (status, _) = h.post(&url, &[("FriendlyName", "x")]).await;
    assert_eq!(status, 404);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_key_tells_its_secret_once_and_authenticates_until_deleted() {
    let h = Harness::start().await;
    let (status, key) = h
        .post(&h.api("/Keys.json"), &[("FriendlyName", "browser tokens")])
        .await;
    assert_eq!(status, 201, "{key}");
    let sid = key["sid"].as_str().unwrap().to_owned();
    assert!(sid.starts_with("SK") && sid.len() == 34, "{sid}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 32);
    assert_eq!(key["friendly_name"], "browser tokens");

    let url = h.api(&format!("/Keys/{sid}.json"));
    let (status, fetched) = h.get(&url).await;
    assert_eq!(status, 200);
    assert!(fetched.get("secret").is_none(), "{fetched}");
    assert_eq!(fetched["sid"], sid.as_str());
    let (status, page) = h.get(&h.api("/Keys.json")).await;
    assert_eq!(status, 200);
    assert!(sids(&page, "keys").contains(&sid), "{page}");
    assert!(
        page["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("secret").is_none()),
        "{page}"
    );

    let (status, renamed) = h.post(&url, &[("FriendlyName", "renamed")]).await;
    assert_eq!(status, 200);
    assert_eq!(renamed["friendly_name"], "renamed");
    assert!(renamed.get("secret").is_none());

    let keyed = |key: &str, secret: &str| {
        h.http
            .get(h.api("/Calls.json"))
            .basic_auth(key, Some(secret))
            .send()
    };
    assert_eq!(keyed(&sid, &secret).await.unwrap().status(), 200);
    assert_eq!(keyed(&sid, "wrong").await.unwrap().status(), 401);
    let deleted = h
        .http
        .delete(&url)
        .basic_auth(h.sim.account_sid(), Some(h.sim.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(keyed(&sid, &secret).await.unwrap().status(), 401);
    let (status, gone) = h.get(&url).await;
    assert_eq!((status, gone["code"].clone()), (404, 20404.into()));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_call_with_an_application_sid_runs_the_applications_urls() {
    let h = Harness::start().await;
    h.rx.answer("/app-voice", "<Response><Hangup/></Response>");
    let (_, app) = h
        .post(
            &h.api("/Applications.json"),
            &[
                ("VoiceUrl", &h.rx.url("/app-voice")),
                ("VoiceMethod", "POST"),
                ("StatusCallback", &h.rx.url("/app-status")),
            ],
        )
        .await;
    let app_sid = app["sid"].as_str().unwrap().to_owned();
    let sid = h
        .call(
            "+14155550100",
            &[
                ("ApplicationSid", &app_sid),
                ("Url", &h.rx.url("/ignored")),
                ("StatusCallback", &h.rx.url("/ignored-status")),
            ],
        )
        .await;
    let hooks =
        h.rx.wait_for("the application's status callback", |hs| {
            hs.iter().any(|h| h.path == "/app-status")
        })
        .await;
    let voice = hooks.iter().find(|h| h.path == "/app-voice").unwrap();
    assert_eq!(voice.param("CallSid"), sid);
    assert_eq!(voice.param("ApplicationSid"), app_sid);
    assert_eq!(voice.param("Direction"), "outbound-api");
    assert!(voice.signature_ok);
    let status = hooks.iter().find(|h| h.path == "/app-status").unwrap();
    assert_eq!(status.param("CallStatus"), "completed");
    assert!(
        hooks
            .iter()
            .all(|h| h.path != "/ignored" && h.path != "/ignored-status"),
        "{hooks:#?}"
    );

    let (status, body) = h
        .post(
            &h.api("/Calls.json"),
            &[
                ("To", "+14155550100"),
                ("From", "+15005550006"),
                ("ApplicationSid", "AP0000000000000000000000000000dead"),
            ],
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, 21218.into()),
        "{body}"
    );
    let (status, body) = h
        .post(
            &h.api("/Calls.json"),
            &[
                ("To", "+14155550100"),
                ("From", "client:alice"),
                ("ApplicationSid", &app_sid),
            ],
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, 21212.into()),
        "{body}"
    );
    h.sim.shutdown().await;
}

//! Browser agents end to end: a simulated Voice SDK device, driven through the simulator's
//! control API as a web page would drive it, calls out with a token from `/browser/token`;
//! Twilio's webhooks to `/browser/voice` and `/browser/status` do the rest.

use std::time::Duration;

use serde_json::{Value, json};
use twilio_sim::{Answer, DeviceEvent, SimEvent};

use callbridge::store::testing::TestDatabase;

use crate::calls_flow::{
    CUSTOMER, agent, customer_who_answers, event_counts, leg, timeline, unreachable, wait_settled,
    wait_until,
};
use callbridge::domain::AgentId;

use crate::helpers::{
    CALLER_ID, TestApp, backends, expect_error, expect_success, sim_calls_to, sim_get, spawn_app,
    spawn_browser_app_with,
};

const AGENT_PHONE: &str = "+14155550131";
/// A number the default destination policy (US, CA) refuses.
const ABROAD: &str = "+442071838750";
const PATIENCE: Duration = Duration::from_secs(60);

async fn browser_app() -> TestApp {
    browser_app_on(TestDatabase::default_backend().await).await
}

async fn browser_app_on(db: TestDatabase) -> TestApp {
    spawn_browser_app_with(db, |_| {}).await
}

/// `GET /browser/token` with the agent's call token: the answer's `data`.
async fn browser_token(app: &TestApp, call_token: &str) -> Value {
    let response = app
        .client
        .get(app.url("/browser/token"))
        .bearer_auth(call_token)
        .send()
        .await
        .unwrap();
    expect_success(response).await["data"].clone()
}

/// A POST to the simulator's control API, as the Voice SDK script sends it.
async fn sim_post(app: &TestApp, path: &str, body: &Value) -> (u16, Value) {
    let url = app.sim.base_url().join(path).unwrap();
    let response = app.client.post(url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `new Device(token)` in a page that only calls out (no `register()`): the device's id.
async fn open_device(app: &TestApp, jwt: &str) -> String {
    let (status, device) = sim_post(
        app,
        "sim/devices",
        &json!({"token": jwt, "register": false}),
    )
    .await;
    assert_eq!(status, 201, "{device}");
    device["id"].as_str().unwrap().to_owned()
}

/// The agent's browser with a fresh token, ready to call out.
async fn signed_in_browser(app: &TestApp, call_token: &str) -> String {
    let minted = browser_token(app, call_token).await;
    open_device(app, minted["token"].as_str().unwrap()).await
}

/// `device.connect({params})`: the browser's call SID, or the SDK's error.
async fn connect(app: &TestApp, device: &str, params: Value) -> Result<String, (u16, Value)> {
    let (status, body) = sim_post(
        app,
        &format!("sim/devices/{device}/connect"),
        &json!({ "params": params }),
    )
    .await;
    if status == 201 {
        Ok(body["call_sid"].as_str().unwrap().to_owned())
    } else {
        Err((status, body))
    }
}

/// `call.disconnect()` in the page.
async fn disconnect(app: &TestApp, device: &str, call_sid: &str) {
    let (status, body) = sim_post(
        app,
        &format!("sim/devices/{device}/calls/{call_sid}/hangup"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
}

/// Waits for the device to see `event` about `call_sid`.
async fn device_sees(
    events: &mut tokio::sync::broadcast::Receiver<DeviceEvent>,
    event: &str,
    call_sid: &str,
) {
    let wanted = |e: &DeviceEvent| e.event == event && e.call_sid.as_deref() == Some(call_sid);
    tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Ok(e) if wanted(&e) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("device events ended: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the device never saw {event} for {call_sid}"));
}

/// The agent's call log, newest first.
async fn call_log(app: &TestApp, call_token: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/calls"))
        .bearer_auth(call_token)
        .send()
        .await
        .unwrap();
    expect_success(response).await["data"]["calls"]
        .as_array()
        .unwrap()
        .clone()
}

/// The call whose agent leg is the browser's call `call_sid`, once `/browser/voice` stored it.
/// Nothing announces a new call to a test, so this polls, with a deadline.
async fn call_of(app: &TestApp, call_token: &str, call_sid: &str) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let found = call_log(app, call_token).await.into_iter().find(|c| {
            c["legs"]
                .as_array()
                .is_some_and(|legs| legs.iter().any(|l| l["call_sid"] == call_sid))
        });
        if let Some(call) = found {
            return call;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no call has the browser's leg {call_sid}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

/// The browser's call as the simulator saw it (status, the TwiML it ran).
async fn sim_call(app: &TestApp, call_sid: &str) -> Value {
    sim_get(&app.sim, &format!("sim/calls/{call_sid}")).await
}

/// Waits for the simulator to put `call_sid` into the conference `room`.
async fn joined(
    events: &mut tokio::sync::broadcast::Receiver<SimEvent>,
    room: &str,
    call_sid: &str,
) {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(SimEvent::Conference {
                    name,
                    event,
                    call_sid: Some(sid),
                    ..
                }) if name == room && event == "participant-join" && sid == call_sid => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("the simulator's events ended: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{call_sid} never joined {room}"));
}

/// The calls callbridge had Twilio place to `number` (the browser's own call to us names the
/// customer as its `To` too, but comes from the browser).
async fn dialled(app: &TestApp, number: &str) -> Vec<Value> {
    sim_calls_to(&app.sim, number)
        .await
        .into_iter()
        .filter(|c| c["from"] == CALLER_ID)
        .collect()
}

/// A call refused at `/browser/voice`: the browser hears `why`, its call ends, and nothing is
/// stored or dialled.
async fn assert_refused(app: &TestApp, agent: AgentId, device: &str, params: Value, why: &str) {
    let mut events = app.sim.subscribe_devices();
    let sid = connect(app, device, params)
        .await
        .expect("the SDK connects");
    device_sees(&mut events, "ended", &sid).await;
    let heard = timeline(&sim_call(app, &sid).await);
    assert!(
        heard.contains(why),
        "the browser should hear {why:?}: {heard}"
    );
    assert!(
        app.store
            .calls_for_agent(agent, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(app.store.leg_by_sid(&sid).await.unwrap().is_none());
    assert!(dialled(app, CUSTOMER).await.is_empty());
    assert!(dialled(app, ABROAD).await.is_empty());
}

#[tokio::test]
async fn a_browser_agent_calls_talks_and_hangs_up_on_both_backends() {
    for db in backends().await {
        let app = browser_app_on(db).await;
        let (agent, call_token) = agent(&app, "web@example.com", AGENT_PHONE, false).await;
        app.sim.set_number(CUSTOMER, customer_who_answers());

        let minted = browser_token(&app, &call_token).await;
        let identity = minted["identity"].as_str().unwrap();
        assert_eq!(identity, format!("agent_{}", agent.id.as_uuid().simple()));
        assert!(minted["expires_at"].is_string());
        assert!(
            minted["voice_sdk_url"]
                .as_str()
                .unwrap()
                .ends_with("/sim/voice-sdk.js")
        );

        let device = open_device(&app, minted["token"].as_str().unwrap()).await;
        let mut sim = app.sim.subscribe();
        let sid = connect(
            &app,
            &device,
            json!({"To": CUSTOMER, "Label": "Renewal from the web"}),
        )
        .await
        .unwrap();
        let call = call_of(&app, &call_token, &sid).await;
        let id = call["id"].as_str().unwrap();
        assert_eq!(call["mode"], "browser");
        assert_eq!(call["label"], "Renewal from the web");
        assert_eq!(call["agent"]["phone"], Value::Null);
        assert_eq!(call["agent"]["client"], format!("client:{identity}"));
        assert_eq!(call["conference"]["name"], format!("cb-{id}"));

        // Once the agent is in the conference, the customer is rung and joins it.
        let talking = wait_until(&app, &call_token, id, |v| v["state"] == "connected").await;
        assert_eq!(leg(&talking, "agent")["call_sid"], sid);
        let customer = dialled(&app, CUSTOMER).await;
        assert_eq!(customer.len(), 1);
        // Connected is the customer's answer; joining the room follows their TwiML.
        let room = format!("cb-{id}");
        let customer_sid = customer[0]["sid"].as_str().unwrap().to_owned();
        joined(&mut sim, &room, &customer_sid).await;
        let customer = dialled(&app, CUSTOMER).await;
        assert_eq!(customer[0]["conference"], room);
        wait_until(&app, &call_token, id, |v| {
            v["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["kind"] == "participant-join")
                .count()
                == 2
        })
        .await;

        disconnect(&app, &device, &sid).await;
        let done = wait_settled(&app, &call_token, id).await;
        assert_eq!(done["state"], "completed", "{done:#}");
        assert_eq!(done["reason"], Value::Null);
        assert_eq!(leg(&done, "agent")["status"], "completed");
        assert_eq!(leg(&done, "agent")["number"], format!("client:{identity}"));
        assert_eq!(leg(&done, "recipient")["status"], "completed");
        assert!(done["duration_secs"].is_i64(), "{done:#}");
        let counts = event_counts(&done);
        for kind in [
            "agent:browser-dialled",
            "agent:participant-join",
            "recipient:participant-join",
            "agent:completed",
            "recipient:completed",
            "conference:conference-end",
        ] {
            assert!(counts.contains_key(kind), "{kind} missing from {counts:?}");
        }
        // Nobody rang the agent's phone: the browser was the agent's line.
        assert!(dialled(&app, AGENT_PHONE).await.is_empty());
        app.stop().await;
    }
}

#[tokio::test]
async fn every_outcome_of_the_customers_leg_reaches_the_browser() {
    let app = browser_app().await;
    let (_, call_token) = agent(&app, "outcomes@example.com", AGENT_PHONE, false).await;
    let device = signed_in_browser(&app, &call_token).await;
    let cases = [
        (
            "+12025550141",
            Answer::Busy,
            "recipient_busy",
            "The customer's line is busy.",
        ),
        (
            "+12025550142",
            Answer::NoAnswer,
            "recipient_no_answer",
            "The customer did not answer.",
        ),
        (
            "+12025550143",
            Answer::Failed,
            "recipient_failed",
            "The call to the customer could not be placed.",
        ),
    ];
    for (number, answer, reason, spoken) in cases {
        app.sim.set_number(number, unreachable(answer));
        let mut events = app.sim.subscribe_devices();
        let sid = connect(&app, &device, json!({"To": number})).await.unwrap();
        let id = call_of(&app, &call_token, &sid).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // The agent hears why and is let go: the browser's call ends without a click.
        device_sees(&mut events, "ended", &sid).await;
        let done = wait_settled(&app, &call_token, &id).await;
        assert_eq!(done["state"], "failed", "{number}: {done:#}");
        assert_eq!(done["reason"], reason, "{number}");
        let heard = timeline(&sim_call(&app, &sid).await);
        assert!(heard.contains(spoken), "{number}: {heard}");
    }

    // The customer hangs up: the browser is let go and the call completes.
    app.sim
        .set_number(CUSTOMER, crate::calls_flow::chatty_customer());
    let mut events = app.sim.subscribe_devices();
    let sid = connect(&app, &device, json!({"To": CUSTOMER}))
        .await
        .unwrap();
    let id = call_of(&app, &call_token, &sid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    device_sees(&mut events, "ended", &sid).await;
    let done = wait_settled(&app, &call_token, &id).await;
    assert_eq!(done["state"], "completed", "{done:#}");

    // The agent gives up while the customer still rings: the customer's phone stops ringing.
    let slow = "+12025550144";
    app.sim.set_number(slow, unreachable(Answer::NoAnswer));
    let sid = connect(&app, &device, json!({"To": slow})).await.unwrap();
    let id = call_of(&app, &call_token, &sid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_until(&app, &call_token, &id, |v| {
        v["state"] == "recipient_ringing" && v["legs"].as_array().unwrap().len() == 2
    })
    .await;
    disconnect(&app, &device, &sid).await;
    let done = wait_settled(&app, &call_token, &id).await;
    assert_eq!(done["state"], "failed", "{done:#}");
    assert_eq!(done["reason"], "canceled", "{done:#}");
    assert_eq!(leg(&done, "recipient")["status"], "canceled");
    app.stop().await;
}

#[tokio::test]
async fn a_browser_call_is_recorded_when_asked() {
    let app = browser_app().await;
    let (_, call_token) = agent(&app, "rec@example.com", AGENT_PHONE, false).await;
    app.sim
        .set_number(CUSTOMER, crate::calls_flow::chatty_customer());
    let device = signed_in_browser(&app, &call_token).await;
    let sid = connect(&app, &device, json!({"To": CUSTOMER, "Record": "true"}))
        .await
        .unwrap();
    let id = call_of(&app, &call_token, &sid).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = wait_until(&app, &call_token, &id, |v| {
        v["recording"]["status"] == "completed" && crate::calls_flow::settled(v)
    })
    .await;
    assert_eq!(done["state"], "completed");
    assert!(done["recording"]["sid"].as_str().unwrap().starts_with("RE"));
    app.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_refused_and_a_refreshed_one_calls() {
    let app = spawn_browser_app_with(TestDatabase::default_backend().await, |raw| {
        raw.browser_token_ttl = Some("1m".into())
    })
    .await;
    let (_, call_token) = agent(&app, "ttl@example.com", AGENT_PHONE, false).await;
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let first = browser_token(&app, &call_token).await;
    let first_expiry =
        chrono::DateTime::parse_from_rfc3339(first["expires_at"].as_str().unwrap()).unwrap();
    let stale = open_device(&app, first["token"].as_str().unwrap()).await;
    let renewed = open_device(&app, first["token"].as_str().unwrap()).await;

    // Tokens are minted to the second: the next one must expire at least a second later.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let second = loop {
        let next = browser_token(&app, &call_token).await;
        let expiry =
            chrono::DateTime::parse_from_rfc3339(next["expires_at"].as_str().unwrap()).unwrap();
        if expiry >= first_expiry + chrono::Duration::seconds(2) {
            break next;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(second["identity"], first["identity"]);
    let (status, body) = app
        .client
        .put(
            app.sim
                .base_url()
                .join(&format!("sim/devices/{renewed}/token"))
                .unwrap(),
        )
        .json(&json!({"token": second["token"]}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 200, "{}", body.text().await.unwrap());

    // Move the simulator's clock to a second after the first token's expiry.
    let sim_now = chrono::DateTime::parse_from_rfc3339(
        sim_post(&app, "sim/clock/advance", &json!({"ms": 0}))
            .await
            .1["now"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let ahead = (first_expiry - sim_now).num_milliseconds() + 1000;
    sim_post(&app, "sim/clock/advance", &json!({"ms": ahead})).await;

    let (status, refused) = connect(&app, &stale, json!({"To": CUSTOMER}))
        .await
        .unwrap_err();
    assert_eq!(status, 401, "{refused}");
    // What the SDK reports for a device whose token ran out.
    assert_eq!(refused["code"], 31205, "{refused}");
    assert!(call_log(&app, &call_token).await.is_empty());

    let sid = connect(&app, &renewed, json!({"To": CUSTOMER}))
        .await
        .unwrap();
    let call = call_of(&app, &call_token, &sid).await;
    let id = call["id"].as_str().unwrap();
    wait_until(&app, &call_token, id, |v| v["state"] == "connected").await;
    disconnect(&app, &renewed, &sid).await;
    assert_eq!(
        wait_settled(&app, &call_token, id).await["state"],
        "completed"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_agent_gets_no_token_and_no_call() {
    let app = browser_app().await;
    let (gone, call_token) = agent(&app, "gone@example.com", AGENT_PHONE, false).await;
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let device = signed_in_browser(&app, &call_token).await;
    app.store
        .revoke_agent(gone.id, chrono::Utc::now())
        .await
        .unwrap();

    // The Twilio token still holds until it expires; callbridge refuses its call.
    assert_refused(
        &app,
        gone.id,
        &device,
        json!({"To": CUSTOMER}),
        "Your access to callbridge was revoked.",
    )
    .await;
    let response = app
        .client
        .get(app.url("/browser/token"))
        .bearer_auth(&call_token)
        .send()
        .await
        .unwrap();
    let (status, body) = expect_error(response).await;
    assert_eq!(status, 401, "{body}");
    app.stop().await;
}

#[tokio::test]
async fn a_destination_the_policy_refuses_is_never_dialled() {
    let app = browser_app().await;
    let (policy, call_token) = agent(&app, "policy@example.com", AGENT_PHONE, false).await;
    let device = signed_in_browser(&app, &call_token).await;
    assert_refused(
        &app,
        policy.id,
        &device,
        json!({"To": ABROAD}),
        "cannot be called",
    )
    .await;
    assert_refused(
        &app,
        policy.id,
        &device,
        json!({"To": "not a number"}),
        "Nothing was dialled.",
    )
    .await;
    assert_refused(&app, policy.id, &device, json!({}), "To is required").await;
    app.stop().await;
}

#[tokio::test]
async fn a_token_names_its_agent_alone() {
    let app = browser_app().await;
    let (ada, ada_token) = agent(&app, "ada@example.com", AGENT_PHONE, false).await;
    let (_, bob_token) = agent(&app, "bob@example.com", "+14155550132", false).await;
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let ada_browser = browser_token(&app, &ada_token).await;
    let bob_browser = browser_token(&app, &bob_token).await;
    assert_ne!(ada_browser["identity"], bob_browser["identity"]);
    // Nothing of the agent's name or address: the agent's id alone, in hex (which may well
    // hold the letters "ada").
    let identity = ada_browser["identity"].as_str().unwrap();
    assert!(
        identity
            .strip_prefix("agent_")
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())),
        "{identity}"
    );
    // The same agent gets the same identity every time.
    assert_eq!(
        browser_token(&app, &ada_token).await["identity"],
        ada_browser["identity"]
    );

    let device = open_device(&app, ada_browser["token"].as_str().unwrap()).await;
    let sid = connect(&app, &device, json!({"To": CUSTOMER}))
        .await
        .unwrap();
    let call = call_of(&app, &ada_token, &sid).await;
    assert_eq!(call["agent"]["id"], ada.id.to_string());
    // Bob sees nothing of Ada's call.
    assert!(call_log(&app, &bob_token).await.is_empty());
    let id = call["id"].as_str().unwrap();
    let response = app
        .client
        .get(app.url(&format!("/calls/{id}")))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    disconnect(&app, &device, &sid).await;
    wait_settled(&app, &ada_token, id).await;
    app.stop().await;
}

#[tokio::test]
async fn the_voice_url_takes_signed_requests_only_and_an_unknown_client_is_refused() {
    let app = browser_app().await;
    let unsigned = app
        .post_form(
            "/browser/voice",
            "CallSid=CA1&From=client%3Aagent_x&To=%2B12025550123",
        )
        .await;
    assert_eq!(unsigned.status(), 403);
    let unsigned = app
        .post_form("/browser/status", "CallSid=CA1&CallStatus=completed")
        .await;
    assert_eq!(unsigned.status(), 403);

    // A token for an identity callbridge never issued (minted with the same key by someone
    // else): its call is refused, and nothing is dialled.
    let foreign = twilio::access_token::AccessToken::new(
        app.sim.account_sid(),
        twilio_sim::DEFAULT_API_KEY_SID,
        twilio_sim::DEFAULT_API_KEY_SECRET.to_owned().into(),
        "mallory",
    )
    .with_voice(twilio::access_token::VoiceGrant {
        incoming_allow: false,
        outgoing_application_sid: app.settings.twilio.twiml_app_sid.clone(),
        outgoing_application_params: Default::default(),
    })
    .to_jwt()
    .unwrap();
    let (watcher, _) = agent(&app, "watcher@example.com", AGENT_PHONE, false).await;
    let device = open_device(&app, &foreign).await;
    assert_refused(
        &app,
        watcher.id,
        &device,
        json!({"To": CUSTOMER}),
        "This browser is not signed in to callbridge.",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn without_the_api_key_and_app_the_token_answer_names_what_to_set() {
    let app = spawn_app().await;
    let (_, call_token) = agent(&app, "unset@example.com", AGENT_PHONE, false).await;
    let response = app
        .client
        .get(app.url("/browser/token"))
        .bearer_auth(&call_token)
        .send()
        .await
        .unwrap();
    let (status, body) = expect_error(response).await;
    assert_eq!(status, 503, "{body}");
    let message = body["message"].as_str().unwrap();
    for var in ["TWILIO_API_KEY", "TWILIO_API_SECRET", "TWIML_APP_SID"] {
        assert!(message.contains(var), "{message}");
    }
    let anonymous = app.get("/browser/token").await;
    assert_eq!(anonymous.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn an_agent_chooses_where_they_talk_from_and_the_start_endpoints_keep_the_phone() {
    let app = browser_app().await;
    let (_, call_token) = agent(&app, "choose@example.com", AGENT_PHONE, false).await;
    let me = |body: Value| {
        let app = &app;
        let call_token = call_token.clone();
        async move {
            app.client
                .patch(app.url("/setup/me"))
                .bearer_auth(call_token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let chosen = expect_success(me(json!({"defaultMode": "browser"})).await).await;
    assert_eq!(chosen["data"]["defaultMode"], "browser");
    let read = app
        .client
        .get(app.url("/setup/me"))
        .bearer_auth(&call_token)
        .send()
        .await
        .unwrap();
    assert_eq!(expect_success(read).await["data"]["defaultMode"], "browser");
    for bad in [
        json!({"defaultMode": "pigeon"}),
        json!({}),
        json!({"mode": "browser"}),
    ] {
        let (status, body) = expect_error(me(bad.clone()).await).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // `POST /call/start` still rings the agent's phone.
    app.sim
        .set_number(AGENT_PHONE, crate::calls_flow::keen_agent());
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let started =
        crate::calls_flow::start(&app, &call_token, json!({"RecipientNumber": CUSTOMER})).await;
    assert_eq!(started["mode"], "phone");
    assert_eq!(started["agent"]["phone"], AGENT_PHONE);
    let id = started["id"].as_str().unwrap();
    crate::calls_flow::hang_up_when_talking(&app, &call_token, id, "recipient").await;
    assert_eq!(
        wait_settled(&app, &call_token, id).await["state"],
        "completed"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_vendored_voice_sdk_is_served_with_its_licence() {
    let app = spawn_app().await;
    let script = app.get("/assets/twilio-voice-sdk.min.js").await;
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = script.text().await.unwrap();
    assert!(body.contains("2.18.5"));
    let licence = app.get("/assets/twilio-voice-sdk.LICENSE.md").await;
    assert!(licence.text().await.unwrap().contains("Apache License"));
    app.stop().await;
}

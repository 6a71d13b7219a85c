//! Browser devices played through the control API: registration with Access Tokens, outgoing calls
//! to the token's TwiML App, and incoming calls to `client:<identity>` from the REST API, from
//! `<Dial><Client>` and from the Participants API.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Harness;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use twilio::SecretString;
use twilio::access_token::{AccessToken, VoiceGrant};
use twilio_sim::{DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID, DeviceEvent as Event, SimEvent};

const CALLER: &str = "+15005550006";

fn token(h: &Harness, identity: &str, grant: VoiceGrant, ttl: u64) -> String {
    AccessToken::new(
        h.sim.account_sid(),
        DEFAULT_API_KEY_SID,
        SecretString::from(DEFAULT_API_KEY_SECRET),
        identity,
    )
    .with_voice(grant)
    .with_ttl_secs(ttl)
    .to_jwt()
    .unwrap()
}

fn grant(app: Option<&str>) -> VoiceGrant {
    VoiceGrant {
        incoming_allow: true,
        outgoing_application_sid: app.map(str::to_owned),
        outgoing_application_params: BTreeMap::from([("team".to_owned(), "red".to_owned())]),
    }
}

async fn register(h: &Harness, jwt: &str) -> (u16, Value) {
    let r = h
        .http
        .post(h.url("/sim/devices"))
        .json(&json!({ "token": jwt }))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn device_post(h: &Harness, path: &str, body: Value) -> (u16, Value) {
    let r = h
        .http
        .post(h.url(&format!("/sim/devices/{path}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A device event: (device, event, call sid, code).
type DeviceEvent = (String, String, Option<String>, Option<u32>);

/// The next device event that `pred` accepts; bounded, so a broken sim fails instead of hanging.
async fn device_event(
    rx: &mut broadcast::Receiver<Event>,
    what: &str,
    pred: impl Fn(&DeviceEvent) -> bool,
) -> DeviceEvent {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(Event {
                    device,
                    event,
                    call_sid,
                    code,
                    ..
                }) => {
                    let e = (device, event, call_sid, code);
                    if pred(&e) {
                        return e;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event feed closed: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

/// Waits for the call event whose text starts with `prefix` (`in-progress`, `completed`, …).
async fn call_event(rx: &mut broadcast::Receiver<SimEvent>, sid: &str, prefix: &str) -> String {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(SimEvent::Call {
                    sid: s, event: e, ..
                }) if s == sid && e.starts_with(prefix) => return e,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event feed closed: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {sid} {prefix}"))
}

fn is(event: &'static str, call: &str) -> impl Fn(&DeviceEvent) -> bool {
    let call = call.to_owned();
    move |e| e.1 == event && e.2.as_deref() == Some(call.as_str())
}

#[tokio::test]
async fn registration_checks_the_token_as_twilio_does() {
    let h = Harness::start().await;
    let (status, d) = register(&h, &token(&h, "alice", grant(None), 3600)).await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["identity"], "alice");
    assert_eq!(d["registered"], true);
    let id = d["id"].as_str().unwrap().to_owned();
    let list: Value = h.get(&h.url("/sim/devices")).await.1;
    assert_eq!(list["devices"][0]["id"], id.as_str());
    assert!(list["devices"][0]["registered_at"].is_string());

    let wrong_secret = AccessToken::new(
        h.sim.account_sid(),
        DEFAULT_API_KEY_SID,
        SecretString::from("not-the-secret"),
        "alice",
    )
    .with_voice(grant(None))
    .to_jwt()
    .unwrap();
    let expired = AccessToken::new(
        h.sim.account_sid(),
        DEFAULT_API_KEY_SID,
        SecretString::from(DEFAULT_API_KEY_SECRET),
        "alice",
    )
    .with_voice(grant(None))
    .with_ttl_secs(60)
    .to_jwt_at(chrono::Utc::now().timestamp() - 120)
    .unwrap();
    let outgoing_only = token(
        &h,
        "alice",
        VoiceGrant {
            incoming_allow: false,
            ..grant(None)
        },
        3600,
    );
    for (jwt, code, status) in [
        ("not a token".to_owned(), 31204, 401),
        (wrong_secret, 20101, 401),
        (expired, 20104, 401),
        (token(&h, "alice", grant(None), 86_401), 20157, 401),
        (outgoing_only.clone(), 20106, 403),
    ] {
        let (got, body) = register(&h, &jwt).await;
        assert_eq!((got, body["code"].clone()), (status, json!(code)), "{body}");
    }
    let outgoing = h.sim.create_device(&outgoing_only).unwrap();
    assert!(!outgoing.registered);

    // A key made through the Keys resource signs tokens too.
    let (_, key) = h.post(&h.api("/Keys.json"), &[]).await;
    let keyed = AccessToken::new(
        h.sim.account_sid(),
        key["sid"].as_str().unwrap(),
        SecretString::from(key["secret"].as_str().unwrap().to_owned()),
        "bob",
    )
    .with_voice(grant(None))
    .to_jwt()
    .unwrap();
    assert_eq!(h.sim.register_device(&keyed).unwrap().identity, "bob");

    let r = h
        .http
        .delete(h.url(&format!("/sim/devices/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(h.sim.devices().iter().all(|d| d.id != id));
    assert!(!h.sim.unregister_device(&id));
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_device_calls_its_tokens_application_with_its_parameters() {
    let h = Harness::start().await;
    h.rx.answer("/voice", "<Response><Pause length=\"600\"/></Response>");
    let (_, app) = h
        .post(
            &h.api("/Applications.json"),
            &[
                ("VoiceUrl", &h.rx.url("/voice")),
                ("StatusCallback", &h.rx.url("/status")),
            ],
        )
        .await;
    let app_sid = app["sid"].as_str().unwrap().to_owned();
    let jwt = token(&h, "alice", grant(Some(&app_sid)), 3600);
    let device = h.sim.register_device(&jwt).unwrap();
    let mut devs = h.sim.subscribe_devices();
    let (status, placed) = device_post(
        &h,
        &format!("{}/connect", device.id),
        json!({"params": {"To": "+15550001111", "ticket": "42"}}),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    let sid = placed["call_sid"].as_str().unwrap().to_owned();
    let hooks =
        h.rx.wait_for("the application's voice request", |hs| {
            hs.iter().any(|h| h.path == "/voice")
        })
        .await;
    let voice = hooks.iter().find(|h| h.path == "/voice").unwrap();
    assert!(voice.signature_ok);
    for (k, v) in [
        ("Direction", "inbound"),
        ("From", "client:alice"),
        ("Caller", "client:alice"),
        ("To", "+15550001111"),
        ("ApplicationSid", app_sid.as_str()),
        ("AccountSid", h.sim.account_sid()),
        ("CallSid", sid.as_str()),
        ("CallStatus", "ringing"),
        ("ApiVersion", "2010-04-01"),
        ("ticket", "42"),
        ("team", "red"),
    ] {
        assert_eq!(voice.get(k), Some(v), "{k} in {voice:?}");
    }
    let calls = h.sim.device_calls(&device.id).unwrap();
    assert_eq!(calls[0].direction, "outgoing");
    assert_eq!(calls[0].params["ticket"], "42");

    h.sim.device_hangup(&device.id, &sid).unwrap();
    device_event(&mut devs, "the call to end", is("ended", &sid)).await;
    let hooks =
        h.rx.wait_for("the application's status callback", |hs| {
            hs.iter().any(|h| h.path == "/status")
        })
        .await;
    let status = hooks.iter().find(|h| h.path == "/status").unwrap();
    assert_eq!(status.param("CallStatus"), "completed");
    assert_eq!(status.param("CallSid"), sid);

    let no_app = h
        .sim
        .register_device(&token(&h, "bob", grant(None), 3600))
        .unwrap();
    assert_eq!(
        h.sim.connect_device(&no_app.id, &[]).unwrap_err().code,
        20106
    );
    let gone_app = h
        .sim
        .register_device(&token(
            &h,
            "carol",
            grant(Some("AP0000000000000000000000000000dead")),
            3600,
        ))
        .unwrap();
    let (status, body) = device_post(&h, &format!("{}/connect", gone_app.id), json!({})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (404, json!(31001)),
        "{body}"
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_call_to_a_client_rings_every_device_of_that_identity() {
    let h = Harness::start().await;
    let alice = token(&h, "alice", grant(None), 3600);
    let first = h.sim.register_device(&alice).unwrap();
    let second = h.sim.register_device(&alice).unwrap();
    let bob = h
        .sim
        .register_device(&token(&h, "bob", grant(None), 3600))
        .unwrap();
    let mut devs = h.sim.subscribe_devices();
    let mut events = h.sim.subscribe();
    let sid = h
        .call(
            "client:alice?ticket=7&name=Ann",
            &[("Twiml", "<Response><Pause length=\"600\"/></Response>")],
        )
        .await;
    let mut rung = vec![
        device_event(&mut devs, "a device to ring", is("incoming", &sid))
            .await
            .0,
        device_event(&mut devs, "another device to ring", is("incoming", &sid))
            .await
            .0,
    ];
    rung.sort();
    let mut expected = vec![first.id.clone(), second.id.clone()];
    expected.sort();
    assert_eq!(rung, expected);
    assert!(h.sim.device_calls(&bob.id).unwrap().is_empty());
    let incoming: Value = h
        .get(&h.url(&format!("/sim/devices/{}/calls", first.id)))
        .await
        .1;
    let call = &incoming["calls"][0];
    assert_eq!(call["call_sid"], sid.as_str());
    assert_eq!(call["from"], CALLER);
    assert_eq!(call["status"], "ringing");
    assert_eq!(call["params"], json!({"ticket": "7", "name": "Ann"}));
    assert_eq!(h.sim_call(&sid).await["to"], "client:alice");
    let one: Value = h
        .get(&h.url(&format!("/sim/devices/{}", second.id)))
        .await
        .1;
    assert_eq!(one["identity"], "alice");
    assert_eq!(one["calls"][0]["call_sid"], sid.as_str());

    let (status, _) = device_post(&h, &format!("{}/calls/{sid}/accept", first.id), json!({})).await;
    assert_eq!(status, 202);
    device_event(
        &mut devs,
        "the first device to answer",
        is("accepted", &sid),
    )
    .await;
    let (other, ..) =
        device_event(&mut devs, "the other device to stop", is("canceled", &sid)).await;
    assert_eq!(other, second.id);
    call_event(&mut events, &sid, "in-progress").await;
    let (status, _) =
        device_post(&h, &format!("{}/calls/{sid}/accept", second.id), json!({})).await;
    assert_eq!(status, 409);

    let (status, _) = device_post(
        &h,
        &format!("{}/calls/{sid}/digits", first.id),
        json!({"digits": "12#"}),
    )
    .await;
    assert_eq!(status, 202);
    call_event(&mut events, &sid, "pressed 12#").await;
    let (status, _) = device_post(&h, &format!("{}/calls/{sid}/hangup", first.id), json!({})).await;
    assert_eq!(status, 202);
    call_event(&mut events, &sid, "completed").await;
    device_event(
        &mut devs,
        "the call to end on the device",
        is("ended", &sid),
    )
    .await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_client_call_is_busy_when_declined_and_unanswered_when_nobody_answers() {
    let h = Harness::start().await;
    let device = h
        .sim
        .register_device(&token(&h, "alice", grant(None), 3600))
        .unwrap();
    let mut devs = h.sim.subscribe_devices();
    let mut events = h.sim.subscribe();
    let twiml = ("Twiml", "<Response><Pause length=\"600\"/></Response>");

    let declined = h.call("client:alice", &[twiml]).await;
    device_event(&mut devs, "the device to ring", is("incoming", &declined)).await;
    h.sim.reject_call(&device.id, &declined).unwrap();
    device_event(&mut devs, "the decline", is("rejected", &declined)).await;
    call_event(&mut events, &declined, "busy").await;

    let unanswered = h.call("client:alice", &[twiml, ("Timeout", "5")]).await;
    device_event(&mut devs, "the device to ring", is("incoming", &unanswered)).await;
    call_event(&mut events, &unanswered, "no-answer").await;
    device_event(
        &mut devs,
        "the ringing to stop",
        is("canceled", &unanswered),
    )
    .await;

    let nobody = h.call("client:nobody", &[twiml]).await;
    call_event(&mut events, &nobody, "no-answer (0s)").await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn dial_client_passes_its_parameters_and_bridges_the_device() {
    let h = Harness::start().await;
    let device = h
        .sim
        .register_device(&token(&h, "agent_7", grant(None), 3600))
        .unwrap();
    let mut devs = h.sim.subscribe_devices();
    let mut events = h.sim.subscribe();
    let action = h.rx.url("/after");
    let caller = h
        .call(
            "+15550002222",
            &[(
                "Twiml",
                &format!(
                    "<Response><Dial action=\"{action}\"><Client><Identity>agent_7</Identity>\
                     <Parameter name=\"callId\" value=\"c-9\"/></Client></Dial></Response>"
                ),
            )],
        )
        .await;
    let (_, _, leg, _) = device_event(&mut devs, "the agent's device to ring", |e| {
        e.1 == "incoming"
    })
    .await;
    let leg = leg.unwrap();
    let calls = h.sim.device_calls(&device.id).unwrap();
    assert_eq!(calls[0].params["callId"], "c-9");
    assert_eq!(calls[0].from, CALLER);
    assert_eq!(h.sim_call(&leg).await["parent_call_sid"], caller.as_str());
    h.sim.accept_call(&device.id, &leg).unwrap();
    call_event(&mut events, &caller, "bridged with").await;
    h.sim.device_hangup(&device.id, &leg).unwrap();
    let hooks =
        h.rx.wait_for("the dial action", |hs| {
            hs.iter().any(|h| h.path == "/after")
        })
        .await;
    let after = hooks.iter().find(|h| h.path == "/after").unwrap();
    assert_eq!(after.param("DialCallStatus"), "completed");
    assert_eq!(after.param("DialCallSid"), leg);

    let alone = h
        .call(
            "+15550002223",
            &[(
                "Twiml",
                &format!("<Response><Dial action=\"{action}?n=2\"><Client>offline</Client></Dial></Response>"),
            )],
        )
        .await;
    let hooks =
        h.rx.wait_for("the second dial action", |hs| {
            hs.iter()
                .any(|h| h.path == "/after" && h.get("CallSid") == Some(alone.as_str()))
        })
        .await;
    let after = hooks
        .iter()
        .find(|h| h.path == "/after" && h.get("CallSid") == Some(alone.as_str()))
        .unwrap();
    assert_eq!(after.param("DialCallStatus"), "no-answer");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_participant_to_a_client_joins_when_the_device_answers() {
    let h = Harness::start().await;
    let device = h
        .sim
        .register_device(&token(&h, "alice", grant(None), 3600))
        .unwrap();
    let mut devs = h.sim.subscribe_devices();
    let (status, p) = h
        .post(
            &h.api("/Conferences/agents-room/Participants.json"),
            &[("To", "client:alice?callId=c-3"), ("From", CALLER)],
        )
        .await;
    assert_eq!(status, 201, "{p}");
    let sid = p["call_sid"].as_str().unwrap().to_owned();
    device_event(&mut devs, "the device to ring", is("incoming", &sid)).await;
    assert_eq!(
        h.sim.device_calls(&device.id).unwrap()[0].params["callId"],
        "c-3"
    );
    h.sim.accept_call(&device.id, &sid).unwrap();
    h.wait_conference("agents-room", "with alice connected", |c| {
        c["participants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["call_sid"] == sid.as_str() && p["status"] == "connected")
    })
    .await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_token_that_expires_while_registered_is_31205() {
    let h = Harness::start().await;
    let (_, app) = h
        .post(
            &h.api("/Applications.json"),
            &[("VoiceUrl", &h.rx.url("/voice"))],
        )
        .await;
    let device = h
        .sim
        .register_device(&token(&h, "alice", grant(app["sid"].as_str()), 60))
        .unwrap();
    let mut devs = h.sim.subscribe_devices();
    let mut events = h.sim.subscribe();
    h.sim.advance_clock(Duration::from_secs(120));
    assert_eq!(
        h.sim.connect_device(&device.id, &[]).unwrap_err().code,
        31205
    );
    let sid = h
        .call(
            "client:alice",
            &[("Twiml", "<Response><Hangup/></Response>")],
        )
        .await;
    let (id, _, _, code) = device_event(&mut devs, "the expired registration", |e| {
        e.1 == "unregistered"
    })
    .await;
    assert_eq!((id, code), (device.id.clone(), Some(31205)));
    call_event(&mut events, &sid, "no-answer").await;
    assert!(!h.sim.devices()[0].registered);
    h.sim.shutdown().await;
}

//! What the simulated Voice SDK relies on, over HTTP as a page would use it: the script, CORS,
//! the token check on a page's requests, registration on and off, token updates, and the
//! device's event stream.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Harness;
use serde_json::{Value, json};
use twilio::SecretString;
use twilio::access_token::{AccessToken, VoiceGrant};
use twilio_sim::{DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID};

const PAGE: &str = "http://page.example:8080";

fn token(h: &Harness, identity: &str, incoming: bool, ttl: u64) -> String {
    AccessToken::new(
        h.sim.account_sid(),
        DEFAULT_API_KEY_SID,
        SecretString::from(DEFAULT_API_KEY_SECRET),
        identity,
    )
    .with_voice(VoiceGrant {
        incoming_allow: incoming,
        outgoing_application_sid: None,
        outgoing_application_params: BTreeMap::new(),
    })
    .with_ttl_secs(ttl)
    .to_jwt()
    .unwrap()
}

/// A page's request: with an Origin, and the token if given.
async fn page(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    jwt: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut r = h
        .http
        .request(method, h.url(path))
        .header("Origin", PAGE)
        .json(&body);
    if let Some(jwt) = jwt {
        r = r.bearer_auth(jwt);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn create(h: &Harness, jwt: &str) -> String {
    let (status, d) = page(
        h,
        reqwest::Method::POST,
        "/sim/devices",
        None,
        json!({"token": jwt, "register": false}),
    )
    .await;
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["registered"], false);
    d["id"].as_str().unwrap().to_owned()
}

/// A device's Server-Sent Events, read message by message.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(h: &Harness, id: &str, jwt: &str) -> Events {
        let response = h
            .http
            .get(h.url(&format!("/sim/devices/{id}/events")))
            .query(&[("token", jwt)])
            .header("Origin", PAGE)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        Events {
            response,
            buffer: String::new(),
        }
    }

    /// The next message (keep-alive comments skipped), bounded so a broken sim fails the test.
    async fn next(&mut self) -> Value {
        let read = async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let data: String = block
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(str::trim_start)
                        .collect();
                    if !data.is_empty() {
                        return serde_json::from_str(&data).unwrap();
                    }
                    continue;
                }
                let chunk = self.response.chunk().await.unwrap().expect("stream open");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("a message on the device's stream")
    }

    /// The next message whose event is `event`.
    async fn until(&mut self, event: &str) -> Value {
        loop {
            let m = self.next().await;
            if m["event"] == event {
                return m;
            }
        }
    }
}

#[tokio::test]
async fn the_script_and_the_device_routes_are_open_to_any_origin() {
    let h = Harness::start().await;
    let r = h
        .http
        .get(h.url("/sim/voice-sdk.js"))
        .header("Origin", PAGE)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    let body = r.text().await.unwrap();
    assert!(body.contains("'use strict'") && body.contains("class Device"));

    for (method, path) in [
        ("POST", "/sim/devices"),
        ("POST", "/sim/devices/DV1/connect"),
        ("POST", "/sim/devices/DV1/calls/CA1/accept"),
        ("PUT", "/sim/devices/DV1/token"),
        ("DELETE", "/sim/devices/DV1/registration"),
        ("GET", "/sim/devices/DV1/events"),
    ] {
        let r = h
            .http
            .request(reqwest::Method::OPTIONS, h.url(path))
            .header("Origin", PAGE)
            .header("Access-Control-Request-Method", method)
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type",
            )
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{method} {path}: {}", r.status());
        let allowed = |name: &str| r.headers()[name].to_str().unwrap().to_ascii_lowercase();
        assert_eq!(allowed("access-control-allow-origin"), "*");
        assert!(
            allowed("access-control-allow-methods").contains(method.to_ascii_lowercase().as_str())
        );
        assert!(allowed("access-control-allow-headers").contains("authorization"));
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_page_acts_only_for_the_device_whose_token_it_holds() {
    let h = Harness::start().await;
    let alice = token(&h, "alice", true, 3600);
    let bob = token(&h, "bob", true, 3600);
    let id = create(&h, &alice).await;
    let registration = format!("/sim/devices/{id}/registration");
    for jwt in [None, Some(bob.as_str()), Some("not.a.token")] {
        let (status, e) = page(&h, reqwest::Method::POST, &registration, jwt, json!({})).await;
        assert_eq!(
            (status, e["code"].as_u64()),
            (401, Some(20101)),
            "{jwt:?}: {e}"
        );
    }
    let (status, e) = page(
        &h,
        reqwest::Method::GET,
        &format!("/sim/devices/{id}/events?token={bob}"),
        None,
        Value::Null,
    )
    .await;
    assert_eq!((status, e["code"].as_u64()), (401, Some(20101)));
    assert!(!h.sim.devices()[0].registered);

    let (status, d) = page(
        &h,
        reqwest::Method::POST,
        &registration,
        Some(&alice),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["registered"], true);
    // The control API's own callers (no Origin) need no token.
    let r = h.http.delete(h.url(&registration)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!h.sim.devices()[0].registered);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn the_stream_brings_a_device_its_incoming_calls_and_their_end() {
    let h = Harness::start().await;
    let alice = token(&h, "alice", true, 3600);
    let id = create(&h, &alice).await;
    let mut events = Events::open(&h, &id, &alice).await;
    let hello = events.next().await;
    assert_eq!(hello["event"], "connected");
    assert_eq!(hello["identity"], "alice");
    let ttl = hello["ttl"].as_i64().unwrap();
    assert!((3590..=3600).contains(&ttl), "{hello}");

    let registration = format!("/sim/devices/{id}/registration");
    page(
        &h,
        reqwest::Method::POST,
        &registration,
        Some(&alice),
        json!({}),
    )
    .await;
    assert_eq!(events.next().await["event"], "registered");
    let sid = h
        .call(
            "client:alice?ticket=7",
            &[("Twiml", "<Response><Pause length=\"600\"/></Response>")],
        )
        .await;
    let incoming = events.until("incoming").await;
    assert_eq!(incoming["call_sid"], sid.as_str());
    assert_eq!(incoming["from"], "+15005550006");
    assert_eq!(incoming["to"], "client:alice");
    assert_eq!(incoming["params"], json!({"ticket": "7"}));
    assert_eq!(incoming["account_sid"], h.sim.account_sid());
    let r = h
        .http
        .post(h.url(&format!("/sim/calls/{sid}/hangup")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let canceled = events.until("canceled").await;
    assert_eq!(canceled["call_sid"], sid.as_str());

    // Unregistered, the device is not rung: the call ends unanswered at once.
    page(
        &h,
        reqwest::Method::DELETE,
        &registration,
        Some(&alice),
        json!({}),
    )
    .await;
    assert_eq!(events.until("unregistered").await["code"], Value::Null);
    let sid = h.call("client:alice", &[("Twiml", "<Response/>")]).await;
    assert_eq!(h.wait_final(&sid).await["status"], "no-answer");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn registering_needs_incoming_calls_allowed_and_a_token_update_its_identity() {
    let h = Harness::start().await;
    let outgoing_only = token(&h, "alice", false, 3600);
    let id = create(&h, &outgoing_only).await;
    let (status, e) = page(
        &h,
        reqwest::Method::POST,
        &format!("/sim/devices/{id}/registration"),
        Some(&outgoing_only),
        json!({}),
    )
    .await;
    assert_eq!((status, e["code"].as_u64()), (403, Some(20106)));

    let path = format!("/sim/devices/{id}/token");
    let bob = token(&h, "bob", true, 3600);
    let (status, e) = page(
        &h,
        reqwest::Method::PUT,
        &path,
        Some(&outgoing_only),
        json!({"token": bob}),
    )
    .await;
    assert_eq!((status, e["code"].as_u64()), (401, Some(20101)), "{e}");
    let fresh = token(&h, "alice", true, 600);
    let (status, d) = page(
        &h,
        reqwest::Method::PUT,
        &path,
        Some(&outgoing_only),
        json!({"token": fresh}),
    )
    .await;
    assert_eq!(status, 200, "{d}");
    assert!((590..=600).contains(&d["ttl"].as_i64().unwrap()), "{d}");
    // The old token no longer speaks for the device; the new one does, and allows registering.
    let registration = format!("/sim/devices/{id}/registration");
    let (status, _) = page(
        &h,
        reqwest::Method::POST,
        &registration,
        Some(&outgoing_only),
        json!({}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = page(
        &h,
        reqwest::Method::POST,
        &registration,
        Some(&fresh),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn the_stream_tells_a_device_the_moment_its_token_runs_out() {
    let h = Harness::start().await;
    let alice = token(&h, "alice", true, 3);
    let id = create(&h, &alice).await;
    let mut events = Events::open(&h, &id, &alice).await;
    assert_eq!(events.next().await["event"], "connected");
    page(
        &h,
        reqwest::Method::POST,
        &format!("/sim/devices/{id}/registration"),
        Some(&alice),
        json!({}),
    )
    .await;
    let expired = events.until("unregistered").await;
    assert_eq!(expired["code"], 31205);
    assert!(!h.sim.devices()[0].registered);
    h.sim.shutdown().await;
}

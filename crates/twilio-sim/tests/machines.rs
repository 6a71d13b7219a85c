//! Answering machine detection: synchronous and asynchronous, on Calls, Participants and
//! `<Number>`, with the greeting a machine plays before it records.

mod common;

use common::Harness;
use serde_json::Value;
use twilio_sim::{Answer, AnsweredBy, NumberBehaviour};

const MESSAGE: &str = "<Response><Say>Please call us back.</Say><Hangup/></Response>";

fn machine(greeting_ms: u64) -> NumberBehaviour {
    NumberBehaviour {
        answer: Answer::Machine,
        ring_ms: 200,
        greeting_ms,
        ..NumberBehaviour::default()
    }
}

/// Places a call whose Url answers with [`MESSAGE`], waits for it to end and returns the TwiML
/// request and the simulator's view of the call.
async fn call_with_detection(
    h: &Harness,
    to: &str,
    behaviour: &NumberBehaviour,
    extra: &[(&str, &str)],
) -> (common::Hook, Value) {
    h.set_number(to, behaviour).await;
    h.rx.answer("/voice", MESSAGE);
    let voice = h.rx.url("/voice");
    let status = h.rx.url("/status");
    let mut form = vec![
        ("Url", voice.as_str()),
        ("StatusCallback", status.as_str()),
        ("StatusCallbackEvent", "answered"),
        ("StatusCallbackEvent", "completed"),
    ];
    form.extend_from_slice(extra);
    let sid = h.call(to, &form).await;
    let call = h.wait_final(&sid).await;
    let hook =
        h.rx.wait_for("the TwiML request", |hs| {
            hs.iter()
                .any(|x| x.path == "/voice" && x.get("CallSid") == Some(sid.as_str()))
        })
        .await
        .into_iter()
        .find(|x| x.path == "/voice" && x.get("CallSid") == Some(sid.as_str()))
        .unwrap();
    (hook, call)
}

#[tokio::test]
async fn detect_message_end_waits_for_the_beep_so_the_message_is_recorded_whole() {
    let h = Harness::start().await;
    let (voice, call) = call_with_detection(
        &h,
        "+15550301001",
        &machine(3000),
        &[("MachineDetection", "DetectMessageEnd")],
    )
    .await;
    assert!(voice.signature_ok);
    assert_eq!(voice.param("AnsweredBy"), "machine_end_beep");
    assert_eq!(voice.param("MachineDetectionDuration"), "4200");
    assert_eq!(call["answered_by"], "machine_end_beep");
    assert_eq!(
        call["voicemail"],
        serde_json::json!([{"what": "say \"Please call us back.\"", "whole": true}])
    );
    // Synchronous detection reports the call answered once it has decided.
    let answered =
        h.rx.wait_for("the answered callback", |hs| {
            hs.iter()
                .any(|x| x.get("CallStatus") == Some("in-progress"))
        })
        .await
        .into_iter()
        .find(|x| x.get("CallStatus") == Some("in-progress"))
        .unwrap();
    assert_eq!(answered.param("AnsweredBy"), "machine_end_beep");

    let silent = NumberBehaviour {
        beep: false,
        ..machine(3000)
    };
    let (voice, _) = call_with_detection(
        &h,
        "+15550301002",
        &silent,
        &[("MachineDetection", "DetectMessageEnd")],
    )
    .await;
    assert_eq!(voice.param("AnsweredBy"), "machine_end_silence");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn enable_answers_at_the_greetings_start_and_the_message_is_cut() {
    let h = Harness::start().await;
    let (voice, call) = call_with_detection(
        &h,
        "+15550302001",
        &machine(30_000),
        &[
            ("MachineDetection", "Enable"),
            ("MachineDetectionTimeout", "59"),
        ],
    )
    .await;
    assert_eq!(voice.param("AnsweredBy"), "machine_start");
    assert_eq!(voice.param("MachineDetectionDuration"), "2500");
    assert_eq!(call["voicemail"][0]["whole"], false);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn people_faxes_and_undecided_detection_get_their_verdicts() {
    let h = Harness::start().await;
    let person = NumberBehaviour {
        ring_ms: 200,
        detection_ms: 1700,
        ..NumberBehaviour::default()
    };
    let (voice, call) = call_with_detection(
        &h,
        "+15550303001",
        &person,
        &[("MachineDetection", "Enable")],
    )
    .await;
    assert_eq!(voice.param("AnsweredBy"), "human");
    assert_eq!(voice.param("MachineDetectionDuration"), "1700");
    assert_eq!(call["voicemail"], serde_json::json!([]));

    let fax = NumberBehaviour {
        answered_by: Some(AnsweredBy::Fax),
        ..person.clone()
    };
    let (voice, _) = call_with_detection(
        &h,
        "+15550303002",
        &fax,
        &[("MachineDetection", "DetectMessageEnd")],
    )
    .await;
    assert_eq!(voice.param("AnsweredBy"), "fax");

    // A greeting longer than MachineDetectionTimeout leaves detection undecided.
    let (voice, _) = call_with_detection(
        &h,
        "+15550303003",
        &machine(20_000),
        &[
            ("MachineDetection", "DetectMessageEnd"),
            ("MachineDetectionTimeout", "5"),
        ],
    )
    .await;
    assert_eq!(voice.param("AnsweredBy"), "unknown");
    assert_eq!(voice.param("MachineDetectionDuration"), "5000");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn async_detection_runs_the_twiml_at_once_and_reports_to_its_callback() {
    let h = Harness::start().await;
    h.rx.answer("/voice", "<Response><Pause length=\"10\"/></Response>");
    h.set_number("+15550304001", &machine(3000)).await;
    let voice = h.rx.url("/voice");
    let amd = h.rx.url("/amd");
    let sid = h
        .call(
            "+15550304001",
            &[
                ("Url", voice.as_str()),
                ("MachineDetection", "DetectMessageEnd"),
                ("AsyncAmd", "true"),
                ("AsyncAmdStatusCallback", amd.as_str()),
            ],
        )
        .await;
    let hooks =
        h.rx.wait_for("the AMD callback", |hs| hs.iter().any(|x| x.path == "/amd"))
            .await;
    let voice_at = hooks.iter().position(|x| x.path == "/voice").unwrap();
    let amd_at = hooks.iter().position(|x| x.path == "/amd").unwrap();
    assert!(voice_at < amd_at, "the TwiML runs before detection decides");
    assert!(hooks[voice_at].get("AnsweredBy").is_none());
    let result = &hooks[amd_at];
    assert!(result.signature_ok);
    assert_eq!(result.param("CallSid"), sid);
    assert_eq!(result.param("AnsweredBy"), "machine_end_beep");
    assert_eq!(result.param("MachineDetectionDuration"), "4200");
    assert_eq!(result.param("AccountSid"), h.sim.account_sid());
    let view = h.sim_call(&sid).await;
    assert_eq!(view["answered_by"], "machine_end_beep");
    h.http
        .post(h.url(&format!("/sim/calls/{sid}/hangup")))
        .send()
        .await
        .unwrap();
    h.wait_final(&sid).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn participants_and_dialed_numbers_detect_asynchronously() {
    let h = Harness::start().await;
    h.set_number("+15550305001", &machine(3000)).await;
    let amd = h.rx.url("/amd-participant");
    let (code, body) = h
        .post(
            &h.api("/Conferences/amd-room/Participants.json"),
            &[
                ("From", "+15005550006"),
                ("To", "+15550305001"),
                ("MachineDetection", "Enable"),
                ("AmdStatusCallback", amd.as_str()),
            ],
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let participant = body["call_sid"].as_str().unwrap().to_owned();
    let hooks =
        h.rx.wait_for("the participant's AMD result", |hs| {
            hs.iter().any(|x| x.path == "/amd-participant")
        })
        .await;
    let result = hooks.iter().find(|x| x.path == "/amd-participant").unwrap();
    assert_eq!(result.param("CallSid"), participant);
    assert_eq!(result.param("AnsweredBy"), "machine_start");

    let leg_amd = h.rx.url("/amd-leg");
    let twiml = format!(
        r#"<Response><Dial><Number machineDetection="DetectMessageEnd" amdStatusCallback="{leg_amd}">+15550305002</Number></Dial></Response>"#
    );
    h.set_number("+15550305002", &machine(1000)).await;
    let parent = h.call("+15550305003", &[("Twiml", &twiml)]).await;
    let hooks =
        h.rx.wait_for("the dialed leg's AMD result", |hs| {
            hs.iter().any(|x| x.path == "/amd-leg")
        })
        .await;
    let result = hooks.iter().find(|x| x.path == "/amd-leg").unwrap();
    assert_ne!(result.param("CallSid"), parent);
    assert_eq!(result.param("AnsweredBy"), "machine_end_beep");
    h.http
        .post(h.url(&format!("/sim/calls/{parent}/hangup")))
        .send()
        .await
        .unwrap();
    h.http
        .post(h.url(&format!("/sim/calls/{participant}/hangup")))
        .send()
        .await
        .unwrap();
    h.wait_final(&parent).await;
    h.wait_final(&participant).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn detection_settings_twilio_refuses_are_refused() {
    let h = Harness::start().await;
    for (key, value) in [
        ("MachineDetection", "Sometimes"),
        ("MachineDetectionTimeout", "100"),
        ("MachineDetectionTimeout", "2"),
    ] {
        let mut form = vec![
            ("To", "+15550306001"),
            ("From", "+15005550006"),
            ("Twiml", "<Response/>"),
            (key, value),
        ];
        if key != "MachineDetection" {
            form.push(("MachineDetection", "Enable"));
        }
        let (code, body) = h.post(&h.api("/Calls.json"), &form).await;
        assert_eq!(code, 400, "{key}={value}: {body}");
        assert_eq!(body["code"], 20001);
    }
    let (_, calls) = h.get(&h.api("/Calls.json")).await;
    assert_eq!(calls["calls"], serde_json::json!([]), "nothing was placed");
    h.sim.shutdown().await;
}

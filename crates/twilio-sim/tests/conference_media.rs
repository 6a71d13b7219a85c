//! Conferences as a call centre uses them: wait music, hold music, announcements, mute, coaching,
//! end-on-exit changes, and the Participants parameters Twilio checks.

mod common;

use common::Harness;
use serde_json::Value;

const EVENTS: &str = "start end join leave mute hold modify announcement";

fn timeline(call: &Value) -> Vec<String> {
    call["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

/// Two calls in the conference `room` (started), reporting every event to `/events`.
async fn two_in(h: &Harness, room: &str, a: &str, b: &str) -> (String, String, String) {
    let cb = h.rx.url("/events");
    let twiml = format!(
        r#"<Response><Dial><Conference statusCallback="{cb}" statusCallbackEvent="{EVENTS}">{room}</Conference></Dial></Response>"#
    );
    let first = h.call(a, &[("Twiml", &twiml)]).await;
    let second = h.call(b, &[("Twiml", &twiml)]).await;
    let conf = h
        .wait_conference(room, "to start with both", |c| {
            c["status"] == "in-progress" && c["participants"].as_array().unwrap().len() == 2
        })
        .await;
    (conf["sid"].as_str().unwrap().to_owned(), first, second)
}

async fn hang_up(h: &Harness, sids: &[&str]) {
    for sid in sids {
        h.http
            .post(h.url(&format!("/sim/calls/{sid}/hangup")))
            .send()
            .await
            .unwrap();
        h.wait_final(sid).await;
    }
}

fn conference_events(hooks: &[common::Hook]) -> Vec<String> {
    hooks
        .iter()
        .filter(|x| x.path == "/events")
        .map(|x| x.param("StatusCallbackEvent").to_owned())
        .collect()
}

#[tokio::test]
async fn a_waiting_caller_hears_the_wait_url_or_twilios_music() {
    let h = Harness::start().await;
    h.rx.answer(
        "/wait",
        "<Response><Say>Please hold.</Say><Play>https://cdn.example/music.mp3</Play></Response>",
    );
    let twiml = r#"<Response><Dial><Conference waitUrl="/wait" waitMethod="POST" startConferenceOnEnter="false">wait-room</Conference></Dial></Response>"#;
    h.rx.answer("/voice", twiml);
    let voice = h.rx.url("/voice");
    let waiting = h.call("+15550401001", &[("Url", voice.as_str())]).await;
    let view = h
        .wait_call(&waiting, "the wait music", |c| {
            timeline(c).iter().any(|e| e == "waiting: play")
        })
        .await;
    assert!(timeline(&view).contains(&"waiting: say \"Please hold.\"".to_owned()));
    let wait = h.rx.at("/wait").pop().unwrap();
    assert!(wait.signature_ok);
    assert_eq!(wait.param("CallSid"), waiting);

    let plain = h
        .call(
            "+15550401002",
            &[(
                "Twiml",
                "<Response><Dial><Conference>plain-room</Conference></Dial></Response>",
            )],
        )
        .await;
    h.wait_call(&plain, "Twilio's hold music", |c| {
        timeline(c)
            .iter()
            .any(|e| e == "waiting: Twilio's hold music")
    })
    .await;
    let silent = h
        .call(
            "+15550401003",
            &[(
                "Twiml",
                r#"<Response><Dial><Conference waitUrl="">quiet-room</Conference></Dial></Response>"#,
            )],
        )
        .await;
    h.wait_call(&silent, "silence", |c| {
        timeline(c).iter().any(|e| e == "waiting: silence")
    })
    .await;
    hang_up(&h, &[&waiting, &plain, &silent]).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn hold_plays_the_hold_url_to_the_held_party_and_reports_hold_events() {
    let h = Harness::start().await;
    h.rx.answer(
        "/hold",
        "<Response><Play>https://cdn.example/hold.mp3</Play></Response>",
    );
    let (conf, a, b) = two_in(&h, "hold-room", "+15550402001", "+15550402002").await;
    let p = h.api(&format!("/Conferences/{conf}/Participants/{a}.json"));
    let hold_url = h.rx.url("/hold");
    let (code, body) = h
        .post(&p, &[("Hold", "true"), ("HoldUrl", hold_url.as_str())])
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["hold"], true);
    h.wait_call(&a, "hold music", |c| {
        timeline(c).iter().any(|e| e == "on hold: play")
    })
    .await;
    // Twilio fetches HoldUrl with GET unless told otherwise: the parameters are in the query.
    let fetched = h.rx.at("/hold").pop().unwrap();
    assert!(fetched.signature_ok);
    assert_eq!(
        fetched.query.get("CallSid").map(String::as_str),
        Some(a.as_str())
    );
    let (code, _) = h.post(&p, &[("Hold", "false")]).await;
    assert_eq!(code, 200);
    let (code, _) = h.post(&p, &[("Muted", "true")]).await;
    assert_eq!(code, 200);
    let (code, _) = h.post(&p, &[("Muted", "false")]).await;
    assert_eq!(code, 200);
    let hooks =
        h.rx.wait_for("the unmute", |hs| {
            hs.iter()
                .any(|x| x.get("StatusCallbackEvent") == Some("participant-unmute"))
        })
        .await;
    let events = conference_events(&hooks);
    assert_eq!(
        events[events.len() - 4..],
        [
            "participant-hold",
            "participant-unhold",
            "participant-mute",
            "participant-unmute"
        ]
    );
    let hold = hooks
        .iter()
        .find(|x| x.get("StatusCallbackEvent") == Some("participant-hold"))
        .unwrap();
    assert_eq!(hold.param("CallSid"), a);
    assert_eq!(hold.param("Hold"), "true");
    let mute = hooks
        .iter()
        .find(|x| x.get("StatusCallbackEvent") == Some("participant-mute"))
        .unwrap();
    assert_eq!(mute.param("Muted"), "true");
    hang_up(&h, &[&a, &b]).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn announcements_reach_one_participant_or_everyone_then_end() {
    let h = Harness::start().await;
    h.rx.answer(
        "/announce-one",
        "<Response><Say>Two minutes left.</Say></Response>",
    );
    h.rx.answer(
        "/announce-all",
        "<Response><Say>This call is recorded.</Say></Response>",
    );
    let (conf, a, b) = two_in(&h, "announce-room", "+15550403001", "+15550403002").await;
    let one = h.rx.url("/announce-one");
    let (code, body) = h
        .post(
            &h.api(&format!("/Conferences/{conf}/Participants/{a}.json")),
            &[("AnnounceUrl", one.as_str())],
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let hooks =
        h.rx.wait_for("the participant's announcement-end", |hs| {
            hs.iter()
                .any(|x| x.get("StatusCallbackEvent") == Some("announcement-end"))
        })
        .await;
    let end = hooks
        .iter()
        .find(|x| x.get("StatusCallbackEvent") == Some("announcement-end"))
        .unwrap();
    assert_eq!(end.param("CallSid"), a);
    assert_eq!(end.param("ConferenceSid"), conf);
    let view = h.sim_call(&a).await;
    assert!(timeline(&view).contains(&"announcement: say \"Two minutes left.\"".to_owned()));
    assert!(
        !timeline(&h.sim_call(&b).await)
            .iter()
            .any(|e| e.starts_with("announcement"))
    );

    let all = h.rx.url("/announce-all");
    let (code, body) = h
        .post(
            &h.api(&format!("/Conferences/{conf}.json")),
            &[("AnnounceUrl", all.as_str())],
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let hooks =
        h.rx.wait_for("the conference's announcement-end", |hs| {
            hs.iter()
                .filter(|x| x.get("StatusCallbackEvent") == Some("announcement-end"))
                .count()
                == 2
        })
        .await;
    let end = hooks
        .iter()
        .filter(|x| x.get("StatusCallbackEvent") == Some("announcement-end"))
        .nth(1)
        .unwrap();
    assert!(end.get("CallSid").is_none());
    for sid in [&a, &b] {
        assert!(
            timeline(&h.sim_call(sid).await)
                .contains(&"announcement: say \"This call is recorded.\"".to_owned())
        );
    }

    // A document that is not audio fails the announcement; an invalid URL is refused.
    h.rx.answer(
        "/announce-bad",
        "<Response><Dial>+15550403009</Dial></Response>",
    );
    let bad = h.rx.url("/announce-bad");
    let (code, _) = h
        .post(
            &h.api(&format!("/Conferences/{conf}/Participants/{b}.json")),
            &[("AnnounceUrl", bad.as_str())],
        )
        .await;
    assert_eq!(code, 200);
    let hooks =
        h.rx.wait_for("announcement-failed", |hs| {
            hs.iter()
                .any(|x| x.get("StatusCallbackEvent") == Some("announcement-failed"))
        })
        .await;
    let failed = hooks
        .iter()
        .find(|x| x.get("StatusCallbackEvent") == Some("announcement-failed"))
        .unwrap();
    assert_eq!(failed.param("CallSid"), b);
    assert_eq!(
        failed.param("ReasonAnnouncementFailed"),
        "Document parse failure"
    );
    let (code, _) = h
        .post(
            &h.api(&format!("/Conferences/{conf}.json")),
            &[("AnnounceUrl", "not a url")],
        )
        .await;
    assert_eq!(code, 400);
    hang_up(&h, &[&a, &b]).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn coaching_and_end_on_exit_changes_are_participant_modify_events() {
    let h = Harness::start().await;
    let (conf, a, b) = two_in(&h, "coach-room", "+15550404001", "+15550404002").await;
    let pa = h.api(&format!("/Conferences/{conf}/Participants/{a}.json"));
    let (code, body) = h.post(&pa, &[("Coaching", "true")]).await;
    assert_eq!(code, 400, "coaching needs someone to coach: {body}");
    let (code, body) = h
        .post(
            &pa,
            &[
                ("Coaching", "true"),
                ("CallSidToCoach", "CA00000000000000000000000000000000"),
            ],
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let (code, body) = h
        .post(&pa, &[("Coaching", "true"), ("CallSidToCoach", b.as_str())])
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["coaching"], true);
    assert_eq!(body["call_sid_to_coach"], b.as_str());
    let (code, _) = h.post(&pa, &[("EndConferenceOnExit", "true")]).await;
    assert_eq!(code, 200);
    let hooks =
        h.rx.wait_for("two participant-modify events", |hs| {
            hs.iter()
                .filter(|x| x.get("StatusCallbackEvent") == Some("participant-modify"))
                .count()
                == 2
        })
        .await;
    let modified: Vec<&common::Hook> = hooks
        .iter()
        .filter(|x| x.get("StatusCallbackEvent") == Some("participant-modify"))
        .collect();
    assert_eq!(modified[0].param("Coaching"), "true");
    assert_eq!(modified[0].param("CallSidToCoach"), b);
    assert_eq!(modified[1].param("EndConferenceOnExit"), "true");
    // Now a's leaving ends the conference for b too.
    hang_up(&h, &[&a]).await;
    let ended = h
        .wait_conference("coach-room", "to end", |c| c["status"] == "completed")
        .await;
    assert_eq!(
        ended["reason_conference_ended"],
        "participant-with-end-conference-on-exit-left"
    );
    h.wait_final(&b).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn participants_create_checks_what_twilio_checks() {
    let h = Harness::start().await;
    let url = h.api("/Conferences/checks-room/Participants.json");
    let base = [("From", "+15005550006"), ("To", "+15550405001")];
    for (key, value) in [
        ("Beep", "loudly"),
        ("Timeout", "2"),
        ("Timeout", "601"),
        ("EarlyMedia", "maybe"),
        ("WaitUrl", "not a url"),
        ("Coaching", "true"),
    ] {
        let mut form = base.to_vec();
        form.push((key, value));
        let (code, body) = h.post(&url, &form).await;
        assert_eq!(code, 400, "{key}={value}: {body}");
    }
    let mut form = base.to_vec();
    form.extend([
        ("Label", "customer"),
        ("Beep", "onExit"),
        ("EarlyMedia", "true"),
        ("Timeout", "5"),
        ("WaitUrl", ""),
        ("EndConferenceOnExit", "true"),
    ]);
    let (code, body) = h.post(&url, &form).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["label"], "customer");
    assert_eq!(body["end_conference_on_exit"], true);
    let first = body["call_sid"].as_str().unwrap().to_owned();
    let mut again = vec![("From", "+15005550006"), ("To", "+15550405002")];
    again.push(("Label", "customer"));
    let (code, body) = h.post(&url, &again).await;
    assert_eq!(code, 400, "labels are unique in a conference: {body}");
    let (_, calls) = h.get(&h.api("/Calls.json")).await;
    assert_eq!(
        calls["calls"].as_array().unwrap().len(),
        1,
        "only one call placed"
    );
    hang_up(&h, &[&first]).await;
    h.sim.shutdown().await;
}

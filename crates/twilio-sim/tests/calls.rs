//! The call engine end to end: lifecycle, TwiML, conferences, recordings, errors, load.

mod common;

use common::{Harness, statuses_of};
use twilio_sim::{Answer, NumberBehaviour};

const ALL_EVENTS: [(&str, &str); 4] = [
    ("StatusCallbackEvent", "initiated"),
    ("StatusCallbackEvent", "ringing"),
    ("StatusCallbackEvent", "answered"),
    ("StatusCallbackEvent", "completed"),
];

fn behaviour(answer: Answer) -> NumberBehaviour {
    NumberBehaviour {
        answer,
        ring_ms: 2000,
        ..NumberBehaviour::default()
    }
}

async fn lifecycle(
    h: &Harness,
    number: &str,
    answer: Answer,
    extra: &[(&str, &str)],
) -> (String, Vec<common::Hook>) {
    h.set_number(number, &behaviour(answer)).await;
    let status_url = h.rx.url("/status");
    let mut form = vec![
        (
            "Twiml",
            "<Response><Say>Hello there.</Say><Pause length=\"2\"/></Response>",
        ),
        ("StatusCallback", status_url.as_str()),
    ];
    form.extend_from_slice(&ALL_EVENTS);
    form.extend_from_slice(extra);
    let sid = h.call(number, &form).await;
    h.wait_final(&sid).await;
    let hooks =
        h.rx.wait_for("the final status callback", |hs| {
            hs.iter().any(|x| {
                x.get("CallSid") == Some(sid.as_str())
                    && x.get("CallbackSource").is_some()
                    && x.get("CallDuration").is_some()
            })
        })
        .await;
    let mine: Vec<_> = hooks
        .into_iter()
        .filter(|x| x.get("CallSid") == Some(sid.as_str()))
        .collect();
    for (i, hook) in mine.iter().enumerate() {
        assert!(hook.signature_ok, "bad signature on {hook:?}");
        assert_eq!(hook.param("SequenceNumber"), i.to_string());
        assert_eq!(hook.param("CallbackSource"), "call-progress-events");
        assert_eq!(hook.param("Direction"), "outbound-api");
        assert_eq!(hook.param("To"), number);
        assert_eq!(hook.param("Called"), number);
        assert_eq!(hook.param("From"), "+15005550006");
        assert_eq!(hook.param("ApiVersion"), "2010-04-01");
        assert!(hook.param("Timestamp").ends_with("+0000"));
    }
    (sid, mine)
}

#[tokio::test]
async fn every_behaviour_walks_twilios_lifecycle() {
    let h = Harness::start().await;

    let (sid, hooks) = lifecycle(&h, "+15550000001", Answer::Human, &[]).await;
    assert_eq!(
        statuses_of(&hooks, "/status", &sid),
        ["initiated", "ringing", "in-progress", "completed"]
    );
    let done = hooks.last().unwrap();
    assert!(
        done.param("CallDuration").parse::<u64>().unwrap() >= 1,
        "Say takes simulated time: {done:?}"
    );
    assert!(done.get("AnsweredBy").is_none());

    let (_, hooks) = lifecycle(
        &h,
        "+15550000002",
        Answer::Machine,
        &[("MachineDetection", "Enable")],
    )
    .await;
    assert_eq!(hooks[2].param("AnsweredBy"), "machine_start");

    let (sid, hooks) = lifecycle(&h, "+15550000003", Answer::Busy, &[]).await;
    assert_eq!(
        statuses_of(&hooks, "/status", &sid),
        ["initiated", "ringing", "busy"]
    );
    assert_eq!(hooks.last().unwrap().param("CallDuration"), "0");

    let (sid, hooks) = lifecycle(&h, "+15550000004", Answer::NoAnswer, &[("Timeout", "5")]).await;
    assert_eq!(
        statuses_of(&hooks, "/status", &sid),
        ["initiated", "ringing", "no-answer"]
    );

    let (sid, hooks) = lifecycle(&h, "+15550000005", Answer::Failed, &[]).await;
    assert_eq!(
        statuses_of(&hooks, "/status", &sid),
        ["initiated", "failed"]
    );

    // A ring longer than the caller's Timeout is a no-answer even for a human.
    h.set_number(
        "+15550000006",
        &NumberBehaviour {
            ring_ms: 9000,
            ..NumberBehaviour::default()
        },
    )
    .await;
    let sid = h
        .call(
            "+15550000006",
            &[("Twiml", "<Response/>"), ("Timeout", "3")],
        )
        .await;
    assert_eq!(h.wait_final(&sid).await["status"], "no-answer");

    let (status, call) = h.get(&h.api(&format!("/Calls/{sid}.json"))).await;
    assert_eq!(status, 200);
    assert_eq!(call["status"], "no-answer");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn default_status_callback_is_completed_only() {
    let h = Harness::start().await;
    let url = h.rx.url("/only-completed");
    let sid = h
        .call(
            "+15550000010",
            &[
                ("Twiml", "<Response><Hangup/></Response>"),
                ("StatusCallback", &url),
            ],
        )
        .await;
    h.wait_final(&sid).await;
    let hooks = h.rx.wait_for("completed", |hs| !hs.is_empty()).await;
    assert_eq!(statuses_of(&hooks, "/only-completed", &sid), ["completed"]);
    assert_eq!(hooks[0].param("SequenceNumber"), "0");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn gather_action_then_conference_with_recording() {
    let h = Harness::start().await;
    let (agent, customer) = ("+15550001001", "+15550002002");
    h.set_number(
        agent,
        &NumberBehaviour {
            digits: Some("1".into()),
            digits_after_ms: 300,
            ..NumberBehaviour::default()
        },
    )
    .await;
    h.set_number(
        customer,
        &NumberBehaviour {
            talk_ms: Some(5000),
            ..NumberBehaviour::default()
        },
    )
    .await;
    let conf_cb = h.rx.url("/conf");
    let rec_cb = h.rx.url("/rec");
    h.rx.answer(
        "/agent",
        r#"<Response><Say>Hello.</Say><Gather action="/dial?leg=agent&amp;x=1" numDigits="1" timeout="10" finishOnKey=""><Say>Press any key.</Say></Gather><Say>Nothing pressed.</Say></Response>"#,
    );
    h.rx.answer(
        "/dial",
        &format!(
            r#"<Response><Dial><Conference startConferenceOnEnter="true" endConferenceOnExit="true" beep="false" statusCallback="{conf_cb}" statusCallbackEvent="start end join leave" record="record-from-start" recordingStatusCallback="{rec_cb}">room-1</Conference></Dial></Response>"#
        ),
    );
    let status = h.rx.url("/status?leg=agent");
    let mut form = vec![("Url", h.rx.url("/agent")), ("StatusCallback", status)];
    form.extend(ALL_EVENTS.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let form_ref: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let agent_sid = h.call(agent, &form_ref).await;

    // Alone, the agent waits on hold music: a conference needs two participants to start.
    let waiting = h
        .wait_conference("room-1", "to hold the agent", |c| {
            c["participants"].as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(waiting["status"], "init", "{waiting}");
    let cust_status = h.rx.url("/status?leg=customer");
    let (code, participant) = h
        .post(
            &h.api("/Conferences/room-1/Participants.json"),
            &[
                ("From", "+15005550006"),
                ("To", customer),
                ("EndConferenceOnExit", "true"),
                ("StatusCallback", &cust_status),
                ("StatusCallbackEvent", "initiated"),
                ("StatusCallbackEvent", "answered"),
                ("StatusCallbackEvent", "completed"),
            ],
        )
        .await;
    assert_eq!(code, 201, "{participant}");
    assert_eq!(participant["status"], "queued");
    assert!(
        participant["conference_sid"]
            .as_str()
            .unwrap()
            .starts_with("CF")
    );
    let customer_sid = participant["call_sid"].as_str().unwrap().to_owned();

    // The customer talks, then hangs up; with endConferenceOnExit that ends the conference and the
    // agent's Dial, and the agent's document has nothing after it.
    assert_eq!(h.wait_final(&customer_sid).await["status"], "completed");
    let agent_view = h.wait_final(&agent_sid).await;
    assert_eq!(agent_view["status"], "completed");
    assert_eq!(agent_view["conference"], "room-1");

    let hooks =
        h.rx.wait_for("conference end and recording", |hs| {
            hs.iter().any(|x| x.path == "/rec")
                && hs
                    .iter()
                    .any(|x| x.get("StatusCallbackEvent") == Some("conference-end"))
        })
        .await;
    assert!(hooks.iter().all(|x| x.signature_ok), "{hooks:#?}");

    let fetch = h.rx.at("/agent");
    assert_eq!(fetch.len(), 1);
    assert_eq!(fetch[0].param("CallStatus"), "in-progress");
    let action = h.rx.at("/dial");
    assert_eq!(action.len(), 1, "{action:?}");
    assert_eq!(action[0].param("Digits"), "1");
    assert_eq!(
        action[0].query.get("leg").map(String::as_str),
        Some("agent")
    );

    let conf: Vec<(String, Option<String>)> =
        h.rx.at("/conf")
            .iter()
            .map(|x| {
                (
                    x.param("StatusCallbackEvent").to_owned(),
                    x.get("CallSid").map(str::to_owned),
                )
            })
            .collect();
    let a = Some(agent_sid.clone());
    let c = Some(customer_sid.clone());
    assert_eq!(
        conf,
        vec![
            ("participant-join".into(), a.clone()),
            ("participant-join".into(), c.clone()),
            ("conference-start".into(), None),
            ("participant-leave".into(), c.clone()),
            ("participant-leave".into(), a.clone()),
            ("conference-end".into(), None),
        ]
    );
    let end = h.rx.at("/conf").pop().unwrap();
    assert_eq!(
        end.param("ReasonConferenceEnded"),
        "participant-with-end-conference-on-exit-left"
    );
    assert_eq!(end.param("CallSidEndingConference"), customer_sid);
    assert_eq!(end.param("FriendlyName"), "room-1");
    let reasons: Vec<(String, String)> =
        h.rx.at("/conf")
            .iter()
            .filter(|x| x.param("StatusCallbackEvent") == "participant-leave")
            .map(|x| {
                (
                    x.param("CallSid").to_owned(),
                    x.param("ReasonParticipantLeft").to_owned(),
                )
            })
            .collect();
    assert_eq!(
        reasons,
        [
            (customer_sid.clone(), "participant_hung_up".to_owned()),
            (agent_sid.clone(), "moderator_ended_conference".to_owned()),
        ]
    );
    let seqs: Vec<String> =
        h.rx.at("/conf")
            .iter()
            .map(|x| x.param("SequenceNumber").to_owned())
            .collect();
    assert_eq!(seqs, ["0", "1", "2", "3", "4", "5"]);

    let agent_statuses = statuses_of(&hooks, "/status", &agent_sid);
    assert_eq!(
        agent_statuses,
        ["initiated", "ringing", "in-progress", "completed"]
    );
    let cust_statuses = statuses_of(&hooks, "/status", &customer_sid);
    assert_eq!(cust_statuses, ["initiated", "in-progress", "completed"]);

    let rec = &h.rx.at("/rec")[0];
    assert_eq!(rec.param("RecordingStatus"), "completed");
    assert_eq!(rec.param("RecordingSource"), "Conference");
    assert_eq!(rec.param("RecordingChannels"), "1");
    // A conference recording is of the mix: no CallSid, no RecordingTrack.
    assert_eq!(rec.get("CallSid"), None, "{rec:?}");
    assert_eq!(rec.get("RecordingTrack"), None, "{rec:?}");
    let conf_sid = end.param("ConferenceSid");
    assert_eq!(rec.param("ConferenceSid"), conf_sid);
    assert!(
        rec.param("RecordingDuration").parse::<u64>().unwrap() >= 4,
        "{rec:?}"
    );
    let rec_sid = rec.param("RecordingSid");
    let (code, list) = h
        .get(&h.api(&format!("/Recordings.json?ConferenceSid={conf_sid}")))
        .await;
    assert_eq!(code, 200);
    assert_eq!(list["recordings"][0]["sid"], rec_sid);
    let (code, one) = h.get(&h.api(&format!("/Recordings/{rec_sid}.json"))).await;
    assert_eq!(code, 200);
    assert_eq!(one["status"], "completed");
    let media = h
        .http
        .get(rec.param("RecordingUrl").to_owned() + ".wav")
        .basic_auth(h.sim.account_sid(), Some(h.sim.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(media.status(), 200);

    let (_, conf_json) = h
        .get(&h.api(&format!("/Conferences/{conf_sid}.json")))
        .await;
    assert_eq!(conf_json["status"], "completed");
    assert_eq!(
        conf_json["reason_conference_ended"],
        "participant-with-end-conference-on-exit-left"
    );
    assert_eq!(conf_json["call_sid_ending_conference"], customer_sid);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn gather_without_input_falls_through_or_reports_empty() {
    let h = Harness::start().await;
    h.rx.answer(
        "/fallthrough",
        r#"<Response><Gather action="/never" timeout="2"/><Redirect>/next</Redirect></Response>"#,
    );
    h.rx.answer("/next", "<Response><Hangup/></Response>");
    let sid = h
        .call("+15550003001", &[("Url", &h.rx.url("/fallthrough"))])
        .await;
    h.wait_final(&sid).await;
    assert!(h.rx.at("/never").is_empty());
    assert_eq!(h.rx.at("/next").len(), 1);

    h.rx.answer(
        "/empty",
        r#"<Response><Gather action="/got" timeout="2" actionOnEmptyResult="true"/></Response>"#,
    );
    h.rx.answer("/got", "<Response/>");
    let sid = h
        .call("+15550003002", &[("Url", &h.rx.url("/empty"))])
        .await;
    h.wait_final(&sid).await;
    let got = h.rx.at("/got");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].param("Digits"), "");

    // Keys pressed through the control API; finishOnKey ends the input early.
    h.rx.answer(
        "/keys",
        r##"<Response><Gather action="/pressed" timeout="600" finishOnKey="#"/></Response>"##,
    );
    h.rx.answer("/pressed", "<Response/>");
    let sid = h.call("+15550003003", &[("Url", &h.rx.url("/keys"))]).await;
    h.wait_call(&sid, "to gather", |c| c["in_gather"] == true)
        .await;
    let r = h
        .http
        .post(h.url(&format!("/sim/calls/{sid}/digits")))
        .form(&[("digits", "42#")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    h.wait_final(&sid).await;
    let pressed = h.rx.at("/pressed");
    assert_eq!(pressed[0].param("Digits"), "42");
    assert_eq!(pressed[0].param("FinishedOnKey"), "#");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn conference_waits_for_a_starter_and_ends_with_the_last_participant() {
    let h = Harness::start().await;
    let cb = h.rx.url("/c");
    let doc = |start: bool| {
        format!(
            r#"<Response><Dial><Conference startConferenceOnEnter="{start}" statusCallback="{cb}" statusCallbackEvent="start end join leave">lobby</Conference></Dial><Say>after</Say></Response>"#
        )
    };
    let waiter = h.call("+15550004001", &[("Twiml", &doc(false))]).await;
    let conf = h
        .wait_conference("lobby", "to hold the waiter", |c| {
            c["participants"].as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(conf["status"], "init", "no starter yet: {conf}");
    let starter = h.call("+15550004002", &[("Twiml", &doc(true))]).await;
    h.wait_conference("lobby", "to start", |c| c["status"] == "in-progress")
        .await;

    let r = h
        .http
        .post(h.url(&format!("/sim/calls/{starter}/hangup")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    h.wait_final(&starter).await;
    let conf = h
        .wait_conference("lobby", "to keep the waiter", |c| {
            c["participants"].as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(conf["status"], "in-progress");

    h.http
        .post(h.url(&format!("/sim/calls/{waiter}/hangup")))
        .send()
        .await
        .unwrap();
    h.wait_final(&waiter).await;
    let end =
        h.rx.wait_for("conference-end", |hs| {
            hs.iter()
                .any(|x| x.get("StatusCallbackEvent") == Some("conference-end"))
        })
        .await;
    let end = end
        .iter()
        .find(|x| x.get("StatusCallbackEvent") == Some("conference-end"))
        .unwrap();
    assert_eq!(end.param("ReasonConferenceEnded"), "last-participant-left");
    assert_eq!(end.param("CallSidEndingConference"), waiter);
    let events: Vec<String> =
        h.rx.at("/c")
            .iter()
            .map(|x| x.param("StatusCallbackEvent").to_owned())
            .collect();
    assert_eq!(
        events,
        [
            "participant-join",
            "participant-join",
            "conference-start",
            "participant-leave",
            "participant-leave",
            "conference-end"
        ]
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn ending_a_conference_through_the_api_continues_each_call_after_its_dial() {
    let h = Harness::start().await;
    let cb = h.rx.url("/api-room");
    let twiml = format!(
        r#"<Response><Dial><Conference statusCallback="{cb}" statusCallbackEvent="leave end">api-room</Conference></Dial><Say>The conference is over.</Say></Response>"#
    );
    let twiml = twiml.as_str();
    let a = h.call("+15550005001", &[("Twiml", twiml)]).await;
    let b = h.call("+15550005002", &[("Twiml", twiml)]).await;
    let conf = h
        .wait_conference("api-room", "to hold both", |c| {
            c["participants"].as_array().unwrap().len() == 2
        })
        .await;
    let sid = conf["sid"].as_str().unwrap();
    let (code, body) = h
        .get(&h.api("/Conferences.json?FriendlyName=api-room&Status=in-progress"))
        .await;
    assert_eq!(code, 200);
    assert_eq!(body["conferences"][0]["sid"], sid);
    let (code, body) = h
        .get(&h.api(&format!("/Conferences/{sid}/Participants.json")))
        .await;
    assert_eq!(code, 200);
    assert_eq!(body["participants"].as_array().unwrap().len(), 2);

    let (code, body) = h
        .post(
            &h.api(&format!("/Conferences/{sid}.json")),
            &[("Status", "completed")],
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(body["status"], "completed");
    assert_eq!(body["reason_conference_ended"], "conference-ended-via-api");
    let hooks =
        h.rx.wait_for("the conference's end", |hs| {
            hs.iter()
                .any(|x| x.get("StatusCallbackEvent") == Some("conference-end"))
        })
        .await;
    let told: Vec<(String, String)> = hooks
        .iter()
        .map(|x| {
            let event = x.param("StatusCallbackEvent").to_owned();
            let detail = match event.as_str() {
                "participant-leave" => x.param("ReasonParticipantLeft"),
                _ => x.param("ReasonConferenceEnded"),
            };
            (event, detail.to_owned())
        })
        .collect();
    let leave = (
        "participant-leave".to_owned(),
        "conference_ended_via_api".to_owned(),
    );
    assert_eq!(
        told,
        [
            leave.clone(),
            leave,
            (
                "conference-end".to_owned(),
                "conference-ended-via-api".to_owned()
            )
        ]
    );
    assert!(
        hooks
            .last()
            .unwrap()
            .get("CallSidEndingConference")
            .is_none(),
        "no participant ended it"
    );
    for call in [a, b] {
        let view = h.wait_final(&call).await;
        let timeline: Vec<&str> = view["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect();
        assert!(
            timeline
                .iter()
                .any(|e| e.contains("The conference is over.")),
            "{timeline:?}"
        );
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn participants_can_be_muted_held_and_kicked() {
    let h = Harness::start().await;
    let cb = h.rx.url("/pc");
    let twiml = format!(
        r#"<Response><Dial><Conference statusCallback="{cb}" statusCallbackEvent="join leave mute hold">kick-room</Conference></Dial><Say>bye</Say></Response>"#
    );
    let a = h.call("+15550006001", &[("Twiml", &twiml)]).await;
    let b = h.call("+15550006002", &[("Twiml", &twiml)]).await;
    let conf = h
        .wait_conference("kick-room", "to hold both", |c| {
            c["participants"].as_array().unwrap().len() == 2
        })
        .await;
    let sid = conf["sid"].as_str().unwrap().to_owned();
    let p = h.api(&format!("/Conferences/{sid}/Participants/{a}.json"));
    let (code, body) = h.post(&p, &[("Muted", "true"), ("Hold", "true")]).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["muted"], true);
    assert_eq!(body["hold"], true);
    let resp = h
        .http
        .delete(&p)
        .basic_auth(h.sim.account_sid(), Some(h.sim.auth_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (code, _) = h.get(&p).await;
    assert_eq!(code, 404);
    h.wait_final(&a).await;
    let events: Vec<String> =
        h.rx.wait_for("leave", |hs| {
            hs.iter()
                .any(|x| x.get("StatusCallbackEvent") == Some("participant-leave"))
        })
        .await
        .iter()
        .filter(|x| x.path == "/pc")
        .map(|x| x.param("StatusCallbackEvent").to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "participant-join",
            "participant-join",
            "participant-mute",
            "participant-hold",
            "participant-leave"
        ]
    );
    let leave = h.rx.at("/pc").pop().unwrap();
    assert_eq!(
        leave.param("ReasonParticipantLeft"),
        "participant_updated_via_api"
    );
    h.http
        .post(h.url(&format!("/sim/calls/{b}/hangup")))
        .send()
        .await
        .unwrap();
    h.wait_final(&b).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn invalid_twiml_fails_the_call_with_12100() {
    let h = Harness::start().await;
    h.rx.answer("/bad", "<Response><Dance/></Response>");
    let status = h.rx.url("/s");
    let sid = h
        .call(
            "+15550007001",
            &[("Url", &h.rx.url("/bad")), ("StatusCallback", &status)],
        )
        .await;
    let view = h.wait_final(&sid).await;
    assert_eq!(view["status"], "completed");
    assert_eq!(view["error_code"], 12100);
    let hooks =
        h.rx.wait_for("completed", |hs| hs.iter().any(|x| x.path == "/s"))
            .await;
    let done = hooks.iter().find(|x| x.path == "/s").unwrap();
    assert_eq!(done.param("CallStatus"), "completed");
    assert_eq!(done.param("ErrorCode"), "12100");

    let sid = h
        .call(
            "+15550007002",
            &[("Twiml", "this is not xml"), ("StatusCallback", &status)],
        )
        .await;
    assert_eq!(h.wait_final(&sid).await["error_code"], 12100);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn dial_number_bridges_and_reports_to_the_action() {
    let h = Harness::start().await;
    h.set_number(
        "+15550008002",
        &NumberBehaviour {
            talk_ms: Some(3000),
            ..NumberBehaviour::default()
        },
    )
    .await;
    h.set_number("+15550008003", &behaviour(Answer::Busy)).await;
    h.rx.answer("/after", "<Response><Hangup/></Response>");
    let twiml = format!(
        r#"<Response><Dial action="{}" timeout="20"><Number>+15550008002</Number></Dial></Response>"#,
        h.rx.url("/after")
    );
    let sid = h.call("+15550008001", &[("Twiml", &twiml)]).await;
    h.wait_final(&sid).await;
    let after = h.rx.wait_for("dial action", |hs| !hs.is_empty()).await;
    assert_eq!(after[0].param("DialCallStatus"), "completed");
    assert!(after[0].param("DialCallDuration").parse::<u64>().unwrap() >= 2);
    let leg = after[0].param("DialCallSid").to_owned();
    let leg_view = h.sim_call(&leg).await;
    assert_eq!(leg_view["parent_call_sid"], sid.as_str());
    assert_eq!(leg_view["direction"], "outbound-dial");

    let twiml = format!(
        r#"<Response><Dial action="{}">+15550008003</Dial></Response>"#,
        h.rx.url("/after")
    );
    let sid = h.call("+15550008001", &[("Twiml", &twiml)]).await;
    h.wait_final(&sid).await;
    let after =
        h.rx.wait_for("second dial action", |hs| hs.len() == 2)
            .await;
    assert_eq!(after[1].param("DialCallStatus"), "busy");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn record_verb_creates_a_recording_and_posts_the_action() {
    let h = Harness::start().await;
    h.rx.answer("/recorded", "<Response/>");
    let twiml = format!(
        r#"<Response><Record action="{}" timeout="3" recordingStatusCallback="{}"/></Response>"#,
        h.rx.url("/recorded"),
        h.rx.url("/rs")
    );
    let sid = h
        .call(
            "+15550009001",
            &[
                ("Twiml", &twiml),
                ("Record", "true"),
                ("RecordingStatusCallback", &h.rx.url("/call-rec")),
                ("StatusCallback", &h.rx.url("/done")),
            ],
        )
        .await;
    h.wait_final(&sid).await;
    let hooks =
        h.rx.wait_for("recordings", |hs| {
            ["/call-rec", "/rs", "/done"]
                .iter()
                .all(|p| hs.iter().any(|x| x.path == *p))
        })
        .await;
    let call_rec = hooks.iter().find(|x| x.path == "/call-rec").unwrap();
    assert_eq!(call_rec.param("CallSid"), sid);
    assert_eq!(call_rec.param("RecordingTrack"), "both");
    // The completed event of a Record=true call names the call's recording.
    let done = hooks.iter().find(|x| x.path == "/done").unwrap();
    assert_eq!(done.param("CallStatus"), "completed");
    assert_eq!(done.param("RecordingSid"), call_rec.param("RecordingSid"));
    assert_eq!(done.param("RecordingUrl"), call_rec.param("RecordingUrl"));
    assert_eq!(
        done.param("RecordingDuration"),
        call_rec.param("RecordingDuration")
    );
    let action = hooks.iter().find(|x| x.path == "/recorded").unwrap();
    assert!(action.param("RecordingSid").starts_with("RE"));
    assert_eq!(action.param("RecordingDuration"), "3");
    assert_eq!(
        hooks
            .iter()
            .find(|x| x.path == "/rs")
            .unwrap()
            .param("RecordingSource"),
        "RecordVerb"
    );
    assert_eq!(
        hooks
            .iter()
            .find(|x| x.path == "/call-rec")
            .unwrap()
            .param("RecordingSource"),
        "OutboundAPI"
    );
    let (_, list) = h
        .get(&h.api(&format!("/Calls/{sid}/Recordings.json")))
        .await;
    assert_eq!(list["recordings"].as_array().unwrap().len(), 2);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn api_can_cancel_redirect_and_hang_up_calls() {
    let h = Harness::start().await;
    h.set_number(
        "+15550010001",
        &NumberBehaviour {
            ring_ms: 100_000,
            ..NumberBehaviour::default()
        },
    )
    .await;
    let sid = h
        .call(
            "+15550010001",
            &[("Twiml", "<Response/>"), ("Timeout", "600")],
        )
        .await;
    h.wait_call(&sid, "ringing", |c| c["status"] == "ringing")
        .await;
    let (code, body) = h
        .post(
            &h.api(&format!("/Calls/{sid}.json")),
            &[("Status", "canceled")],
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(body["status"], "canceled");

    h.rx.answer("/new", "<Response><Say>redirected</Say></Response>");
    let sid = h
        .call(
            "+15550010002",
            &[("Twiml", "<Response><Pause length=\"600\"/></Response>")],
        )
        .await;
    h.wait_call(&sid, "answer", |c| c["status"] == "in-progress")
        .await;
    let (code, _) = h
        .post(
            &h.api(&format!("/Calls/{sid}.json")),
            &[("Url", &h.rx.url("/new"))],
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(h.wait_final(&sid).await["status"], "completed");
    assert_eq!(h.rx.at("/new").len(), 1);

    let sid = h
        .call(
            "+15550010003",
            &[("Twiml", "<Response><Pause length=\"600\"/></Response>")],
        )
        .await;
    h.wait_call(&sid, "answer", |c| c["status"] == "in-progress")
        .await;
    let (code, body) = h
        .post(
            &h.api(&format!("/Calls/{sid}.json")),
            &[("Status", "completed")],
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(body["status"], "completed");
    let (code, body) = h
        .post(
            &h.api(&format!("/Calls/{sid}.json")),
            &[("Url", &h.rx.url("/new"))],
        )
        .await;
    assert_eq!(code, 400);
    assert_eq!(body["code"], 21220);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn two_hundred_concurrent_calls_lose_no_callback() {
    let h = Harness::start().await;
    let status = h.rx.url("/load");
    let mut form: Vec<(&str, &str)> = vec![
        ("Twiml", "<Response><Pause length=\"2\"/></Response>"),
        ("StatusCallback", &status),
    ];
    form.extend_from_slice(&ALL_EVENTS);
    let calls = futures::future::join_all((0..200).map(|i| {
        let to = format!("+1555100{i:04}");
        let form = form.clone();
        let h = &h;
        async move { h.call(&to, &form).await }
    }))
    .await;
    let hooks = h.rx.wait_for("800 callbacks", |hs| hs.len() >= 800).await;
    assert_eq!(hooks.len(), 800);
    assert!(hooks.iter().all(|x| x.signature_ok));
    for sid in &calls {
        let mine: Vec<_> = hooks
            .iter()
            .filter(|x| x.get("CallSid") == Some(sid.as_str()))
            .collect();
        let seq: Vec<&str> = mine.iter().map(|x| x.param("SequenceNumber")).collect();
        assert_eq!(seq, ["0", "1", "2", "3"], "{sid}");
        assert_eq!(
            statuses_of(&hooks, "/load", sid),
            ["initiated", "ringing", "in-progress", "completed"]
        );
    }
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_participant_whose_call_never_connects_is_reported_as_an_add_failure() {
    let h = Harness::start().await;
    let cb = h.rx.url("/room");
    let twiml = format!(
        r#"<Response><Dial><Conference statusCallback="{cb}" statusCallbackEvent="start end join leave">add-fail-room</Conference></Dial></Response>"#
    );
    let host = h.call("+15550007001", &[("Twiml", &twiml)]).await;
    h.wait_conference("add-fail-room", "to hold the host", |c| {
        c["participants"].as_array().unwrap().len() == 1
    })
    .await;
    for (number, answer, status) in [
        ("+15550007002", Answer::Busy, "busy"),
        ("+15550007003", Answer::NoAnswer, "no-answer"),
    ] {
        h.set_number(number, &behaviour(answer)).await;
        let leg_status = h.rx.url("/leg");
        let (code, body) = h
            .post(
                &h.api("/Conferences/add-fail-room/Participants.json"),
                &[
                    ("From", "+15005550006"),
                    ("To", number),
                    ("Timeout", "5"),
                    ("StatusCallback", &leg_status),
                ],
            )
            .await;
        assert_eq!(code, 201, "{body}");
        let sid = body["call_sid"].as_str().unwrap().to_owned();
        let hooks =
            h.rx.wait_for("the add failure", |hs| {
                hs.iter().any(|x| {
                    x.path == "/room"
                        && x.get("CallSid") == Some(sid.as_str())
                        && x.get("StatusCallbackEvent") == Some("participant-leave")
                })
            })
            .await;
        let about: Vec<&common::Hook> = hooks
            .iter()
            .filter(|x| x.path == "/room" && x.get("CallSid") == Some(sid.as_str()))
            .collect();
        assert_eq!(about.len(), 1, "a leave and no join: {about:#?}");
        assert_eq!(
            about[0].param("ReasonParticipantLeft"),
            "participant_add_failed"
        );
        assert_eq!(about[0].param("ParticipantCallStatus"), status);
        // The participant's own call reports its outcome to its StatusCallback (completed only).
        let leg =
            h.rx.wait_for("the leg's outcome", |hs| {
                hs.iter()
                    .any(|x| x.path == "/leg" && x.get("CallSid") == Some(sid.as_str()))
            })
            .await;
        assert_eq!(statuses_of(&leg, "/leg", &sid), [status]);
    }
    let conf = h
        .wait_conference("add-fail-room", "to keep its host", |c| {
            c["participants"].as_array().unwrap().len() == 1
        })
        .await;
    assert_eq!(conf["status"], "init", "nobody else ever joined: {conf}");
    h.http
        .post(h.url(&format!("/sim/calls/{host}/hangup")))
        .send()
        .await
        .unwrap();
    h.wait_final(&host).await;
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_person_at_the_page_answers_declines_or_lets_a_phone_ring_out() {
    let h = Harness::start().await;
    let person = NumberBehaviour {
        answer: Answer::Person,
        ..NumberBehaviour::default()
    };
    // The longest ring Twilio allows, so that the person, not the timeout, decides.
    let twiml = [
        ("Twiml", "<Response><Pause length=\"30\"/></Response>"),
        ("Timeout", "600"),
    ];
    for (number, action, status) in [
        ("+15550009001", "answer", "in-progress"),
        ("+15550009002", "decline", "busy"),
        ("+15550009003", "ignore", "no-answer"),
    ] {
        h.set_number(number, &person).await;
        let sid = h.call(number, &twiml).await;
        h.wait_call(&sid, "ringing for the person", |c| c["status"] == "ringing")
            .await;
        let (code, _) = h
            .post(&h.url(&format!("/sim/calls/{sid}/{action}")), &[])
            .await;
        assert_eq!(code, 202, "{action}");
        let call = h.wait_call(&sid, status, |c| c["status"] == status).await;
        assert_eq!(call["status"], status, "{action}");
        // Only a ringing phone can be answered.
        let (code, _) = h
            .post(&h.url(&format!("/sim/calls/{sid}/answer")), &[])
            .await;
        assert_eq!(code, 409, "{action} then answer");
        if status == "in-progress" {
            h.post(&h.url(&format!("/sim/calls/{sid}/hangup")), &[])
                .await;
            h.wait_final(&sid).await;
        }
    }
    let (code, page) = h.get(&h.url("/sim/")).await;
    assert_eq!(code, 200, "{page}");
}

//! Session campaigns: agents stay on the line while the campaign dials records for them, with
//! answering-machine detection, voicemail, wrap-ups, do-not-call and calling hours.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use airtable::fake::{FakeAirtable, FakeConfig};
use callbridge::store::testing::TestDatabase;
use chrono::{Timelike, Utc};
use serde_json::{Value, json};
use twilio_sim::{Answer, NumberBehaviour, Sim};

use crate::airtable_call::{Instance, eventually, talker, writes_settled};
use crate::helpers::{expect_error, expect_success, sim_config};

const DISPOSITIONS: [&str; 3] = ["Sale", "No interest", "Call back"];

async fn progress(app: &Instance, token: &str, id: &str) -> Value {
    expect_success(app.get(&format!("/airtable/campaigns/{id}"), token).await).await["data"].clone()
}

/// Hours open now in New York (where the `+1202` numbers ring) for the next two hours, and
/// closed in London, four or five hours ahead whatever the season.
fn hours_open_in_new_york() -> Value {
    let ny = Utc::now().with_timezone(&chrono_tz::America::New_York);
    let minute = ny.hour() * 60 + ny.minute();
    let start = minute.saturating_sub(60);
    let end = (minute + 120).min(23 * 60 + 59);
    let hh_mm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    json!({"start": hh_mm(start), "end": hh_mm(end)})
}

fn session_campaign(extra: Value) -> Value {
    let mut body = json!({
        "view": "To call",
        "agent": "ada@example.com",
        "mode": "session",
        "voicemail": {"say": "Sorry we missed you, we will call again."},
        "dispositions": DISPOSITIONS,
    });
    let Value::Object(extra) = extra else {
        panic!("extra settings are an object");
    };
    for (k, v) in extra {
        body[k] = v;
    }
    body
}

#[tokio::test]
async fn bad_session_settings_are_refused_and_change_nothing() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |_| {}).await;
    let (agent, token) = app.agent("ada@example.com", "+14155550101").await;
    fake.set_view(
        "To call",
        [fake.insert_record(json!({"Phone": "+12025550100"}))],
    );

    for (extra, says) in [
        (json!({"dispositions": []}), "dispositions must be a list"),
        (
            json!({"dispositions": ["Sale", "sale"]}),
            "dispositions lists \"sale\" twice",
        ),
        (json!({"voicemail": null}), "voicemail is required"),
        (
            json!({"voicemail": {"play": "http://example.com/a.mp3"}}),
            "voicemail must be",
        ),
        (json!({"wrap_up_secs": 0}), "wrap_up_secs must be"),
        (json!({"fax": "ignore"}), "fax must be"),
        (
            json!({"calling_hours": {"start": "22:00", "end": "09:00"}}),
            "calling_hours must be",
        ),
        (json!({"mode": "turbo"}), "mode must be"),
    ] {
        let (status, body) = expect_error(
            app.post(
                "/airtable/campaigns",
                &token,
                &session_campaign(extra.clone()),
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{extra}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{extra}: {message}");
    }
    let (status, body) = expect_error(
        app.post(
            "/airtable/campaigns",
            &token,
            &json!({"view": "To call", "agent": "ada@example.com", "dispositions": ["Sale"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("only apply to a campaign with"),
        "{body}"
    );
    assert!(
        app.store
            .campaigns_for_agent(agent, 10)
            .await
            .unwrap()
            .is_empty(),
        "a refused campaign is not stored"
    );

    // A per-record campaign cannot be joined, and a session needs an outcome from the list.
    let per_record = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &json!({"view": "To call", "agent": "ada@example.com"}),
        )
        .await,
    )
    .await;
    assert_eq!(per_record["data"]["mode"], "per_record");
    let id = per_record["data"]["id"].as_str().unwrap();
    let (status, _) = expect_error(
        app.post(
            &format!("/airtable/campaigns/{id}/join"),
            &token,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 409);
    app.kill().await;
}

/// Numbers of each kind in the campaign, ten of each but the kinds that are never dialled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Human,
    Machine,
    Busy,
    NoAnswer,
    Invalid,
    DoNotCall,
    OutOfHours,
}

impl Kind {
    fn of(i: usize) -> Self {
        match i % 10 {
            0..=2 => Self::Human,
            3 | 4 => Self::Machine,
            5 => Self::Busy,
            6 => Self::NoAnswer,
            7 => Self::Invalid,
            8 => Self::DoNotCall,
            _ => Self::OutOfHours,
        }
    }

    fn status(self) -> Option<&'static str> {
        match self {
            Self::Human => Some("completed"),
            Self::Machine => Some("voicemail"),
            Self::Busy => Some("failed: recipient_busy"),
            Self::NoAnswer => Some("failed: recipient_no_answer"),
            Self::Invalid => Some("failed: invalid phone number"),
            Self::DoNotCall => Some("skipped: do not call"),
            Self::OutOfHours => None,
        }
    }
}

#[tokio::test]
async fn two_agents_work_fifty_mixed_records_each_written_once() {
    work_fifty_records(TestDatabase::default_backend().await, 1).await;
}

/// Every instance steps the campaign, and Twilio's callbacks for one call reach one or the
/// other: still nobody is dialled twice and every record is written once.
#[tokio::test]
async fn two_instances_work_one_session_campaign_without_dialling_anyone_twice() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    work_fifty_records(db, 2).await;
}

async fn work_fifty_records(db: TestDatabase, instances: usize) {
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let mut apps = Vec::new();
    for _ in 0..instances {
        apps.push(
            Instance::start(&db, &sim, &fake, |raw| {
                raw.calls_per_second = Some("20".into());
                raw.allowed_destinations = Some("US,GB".into());
            })
            .await,
        );
    }
    let app = &apps[0];
    let other = apps.last().unwrap();
    let (_, ada) = app.agent("ada@example.com", "+14155550101").await;
    let (_, bob) = app.agent("bob@example.com", "+14155550102").await;

    let mut records: Vec<(String, Kind, String)> = Vec::new();
    for i in 0..50 {
        let kind = Kind::of(i);
        let phone = match kind {
            Kind::OutOfHours => format!("+44207946{:04}", 100 + i),
            Kind::Invalid => "call me".to_owned(),
            _ => format!("+1202555{:04}", 100 + i),
        };
        match kind {
            Kind::Human | Kind::DoNotCall => sim.set_number(&phone, talker(20_000)),
            Kind::Machine => sim.set_number(
                &phone,
                NumberBehaviour {
                    answer: Answer::Machine,
                    ..NumberBehaviour::default()
                },
            ),
            Kind::Busy => sim.set_number(
                &phone,
                NumberBehaviour {
                    answer: Answer::Busy,
                    ..NumberBehaviour::default()
                },
            ),
            Kind::NoAnswer => sim.set_number(
                &phone,
                NumberBehaviour {
                    answer: Answer::NoAnswer,
                    ..NumberBehaviour::default()
                },
            ),
            Kind::Invalid | Kind::OutOfHours => {}
        }
        let fields = if kind == Kind::DoNotCall {
            json!({"Phone": phone, "Do Not Call": true})
        } else {
            json!({"Phone": phone})
        };
        records.push((fake.insert_record(fields), kind, phone));
    }
    fake.set_view("To call", records.iter().map(|(id, _, _)| id.clone()));

    let created = expect_success(
        app.post(
            "/airtable/campaigns",
            &ada,
            &session_campaign(json!({
                "wrap_up_secs": 600,
                "calling_hours": hours_open_in_new_york(),
            })),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["mode"], "session");
    assert_eq!(created["data"]["total"], 50);
    assert_eq!(
        created["data"]["settings"]["dispositions"],
        json!(DISPOSITIONS)
    );

    let joined = expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/join"),
            &ada,
            &json!({"mode": "phone"}),
        )
        .await,
    )
    .await;
    assert_eq!(joined["data"]["dispositions"], json!(DISPOSITIONS));
    let again = expect_success(
        app.post(&format!("/airtable/campaigns/{id}/join"), &ada, &json!({}))
            .await,
    )
    .await;
    assert_eq!(
        again["data"]["id"], joined["data"]["id"],
        "joining twice is one session"
    );
    // A team works one list: Bob joins Ada's campaign with his own session.
    let bobs = expect_success(
        other
            .post(&format!("/airtable/campaigns/{id}/join"), &bob, &json!({}))
            .await,
    )
    .await;
    assert_ne!(bobs["data"]["id"], joined["data"]["id"]);
    let tokens: HashMap<&str, &str> = HashMap::from([
        ("ada@example.com", ada.as_str()),
        ("bob@example.com", bob.as_str()),
    ]);

    let in_hours = records
        .iter()
        .filter(|(_, kind, _)| *kind != Kind::OutOfHours)
        .count();
    let wrapped = AtomicUsize::new(0);
    eventually("every record in its hours to be written", || {
        let (ada, id, tokens) = (&ada, &id, &tokens);
        let wrapped = &wrapped;
        async move {
            let now = progress(app, ada, id).await;
            for session in now["dialer"]["sessions"].as_array().unwrap() {
                if session["state"] == "wrap_up" {
                    let token = tokens[session["agent"].as_str().unwrap()];
                    let n = wrapped.load(Ordering::Relaxed);
                    let outcome = DISPOSITIONS[n % DISPOSITIONS.len()];
                    let body = json!({"outcome": outcome, "notes": format!("note {n}")});
                    let answer = app
                        .post(&format!("/airtable/campaigns/{id}/wrap-up"), token, &body)
                        .await;
                    if answer.status() == 200 {
                        wrapped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            let written = app
                .store
                .item_outcomes(id)
                .await
                .unwrap()
                .iter()
                .filter(|o| o.written)
                .count();
            written == in_hours
        }
    })
    .await;

    let done = progress(app, &ada, &id).await;
    let counts = &done["dialer"]["counts"];
    assert_eq!(counts["human"], 15, "{done}");
    assert_eq!(counts["voicemail"], 10, "{done}");
    assert_eq!(counts["busy"], 5, "{done}");
    assert_eq!(counts["no_answer"], 5, "{done}");
    assert_eq!(counts["invalid"], 5, "{done}");
    assert_eq!(counts["dnc"], 5, "{done}");
    assert_eq!(counts["abandoned"], 0, "{done}");
    assert_eq!(counts["out_of_hours"], 5, "{done}");
    assert_eq!(counts["dialled"], 35, "{done}");
    assert_eq!(done["dialer"]["abandon_rate"], 0.0);
    assert_eq!(done["dialer"]["pace"], "normal");
    assert_eq!(done["status"], "running", "out-of-hours records still wait");
    assert_eq!(wrapped.load(Ordering::Relaxed), 15);

    for (record, kind, _) in &records {
        if *kind != Kind::OutOfHours {
            eventually("the record's write to reach Airtable", || async {
                writes_settled(&app.store, record).await
            })
            .await;
        }
    }
    let mut seen: BTreeMap<Kind, usize> = BTreeMap::new();
    for (record, kind, _) in &records {
        let statuses = fake.field_history(record, "Call Status");
        let Some(want) = kind.status() else {
            assert!(
                statuses.is_empty(),
                "{record} waits for its hours: {statuses:?}"
            );
            continue;
        };
        assert_eq!(statuses, [json!(want)], "{record} ({kind:?}) written once");
        let fields = fake.record(record).unwrap();
        match kind {
            Kind::Human => {
                assert_eq!(fields["Answered By"], "human", "{fields:?}");
                let disposition = fields["Disposition"].as_str().unwrap();
                assert!(DISPOSITIONS.contains(&disposition), "{fields:?}");
                assert!(fields["Notes"].as_str().unwrap().starts_with("note "));
                assert_eq!(fake.field_history(record, "Disposition").len(), 1);
            }
            Kind::Machine => {
                assert_eq!(fields["Answered By"], "machine_end_beep", "{fields:?}");
                assert!(!fields.contains_key("Disposition"), "{fields:?}");
            }
            _ => assert!(!fields.contains_key("Disposition"), "{fields:?}"),
        }
        *seen.entry(*kind).or_default() += 1;
    }
    assert_eq!(seen.values().sum::<usize>(), in_hours);

    // What the simulator saw: nobody dialled twice, nobody dialled who should not be, no
    // machine ever in an agent's conference, every person in one.
    let calls: Value = reqwest::get(sim.base_url().join("/sim/calls").unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut dialled: HashMap<String, Vec<Value>> = HashMap::new();
    for call in calls["calls"].as_array().unwrap() {
        dialled
            .entry(call["to"].as_str().unwrap().to_owned())
            .or_default()
            .push(call.clone());
    }
    assert_eq!(
        dialled["+14155550101"].len(),
        1,
        "Ada's phone was dialled once"
    );
    assert_eq!(
        dialled["+14155550102"].len(),
        1,
        "Bob's phone was dialled once"
    );
    let per_agent: Vec<u64> = done["dialer"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["counts"]["human"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(per_agent.iter().sum::<u64>(), 15, "{done}");
    for (_, kind, phone) in &records {
        let legs = dialled.get(phone).cloned().unwrap_or_default();
        match kind {
            Kind::Invalid | Kind::DoNotCall | Kind::OutOfHours => {
                assert!(legs.is_empty(), "{phone} ({kind:?}) was dialled");
            }
            _ => assert_eq!(legs.len(), 1, "{phone} ({kind:?}): {legs:?}"),
        }
        if let [leg] = legs.as_slice() {
            let in_room = leg["timeline"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"].as_str().unwrap().contains("conference"));
            assert_eq!(in_room, *kind == Kind::Human, "{phone} ({kind:?}): {leg}");
            let message_left = !leg["voicemail"].as_array().unwrap().is_empty();
            assert_eq!(
                message_left,
                *kind == Kind::Machine,
                "{phone} ({kind:?}): {leg}"
            );
        }
    }

    let left = expect_success(
        app.post(&format!("/airtable/campaigns/{id}/leave"), &ada, &json!({}))
            .await,
    )
    .await;
    assert_eq!(left["data"]["state"], "left");
    for app in apps {
        app.kill().await;
    }
}

async fn sim_calls_to(sim: &Sim, number: &str) -> Vec<Value> {
    let calls: Value = reqwest::get(sim.base_url().join("/sim/calls").unwrap())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    calls["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["to"] == number)
        .cloned()
        .collect()
}

async fn session_state(app: &Instance, token: &str, id: &str) -> Value {
    progress(app, token, id).await["dialer"]["sessions"][0].clone()
}

#[tokio::test]
async fn a_session_survives_its_agent_dropping_and_nobody_is_left_waiting() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |raw| {
        raw.calls_per_second = Some("20".into());
    })
    .await;
    let agent_phone = "+14155550101";
    let (_, token) = app.agent("ada@example.com", agent_phone).await;
    // The first talks briefly and is not wrapped up; the second rings long enough for the
    // agent to drop meanwhile; the third talks until the agent leaves.
    let numbers = ["+12025550301", "+12025550302", "+12025550303"];
    sim.set_number(numbers[0], talker(20_000));
    sim.set_number(
        numbers[1],
        NumberBehaviour {
            // Just under Twilio's 60 s ring timeout, so that it answers after all.
            ring_ms: 55_000,
            ..NumberBehaviour::default()
        },
    );
    sim.set_number(numbers[2], NumberBehaviour::default());
    let records: Vec<String> = numbers
        .iter()
        .map(|n| fake.insert_record(json!({"Phone": n})))
        .collect();
    fake.set_view("To call", records.clone());
    let created = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &session_campaign(json!({
                "wrap_up_secs": 5,
                "calling_hours": hours_open_in_new_york(),
            })),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let wrap_up = format!("/airtable/campaigns/{id}/wrap-up");
    expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/join"),
            &token,
            &json!({}),
        )
        .await,
    )
    .await;

    eventually("the first customer to talk", || async {
        session_state(&app, &token, &id).await["state"] == "talking"
    })
    .await;
    let (status, body) = expect_error(
        app.post(&wrap_up, &token, &json!({"outcome": "Sale"}))
            .await,
    )
    .await;
    assert_eq!(status, 409, "nothing to wrap up while talking: {body}");
    let (status, body) = expect_error(
        app.post(&wrap_up, &token, &json!({"outcome": "Maybe"}))
            .await,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Sale, No interest, Call back")
    );

    // Left unanswered, the wrap-up runs out: the record is written without a disposition.
    eventually("the first record's write", || async {
        writes_settled(&app.store, &records[0]).await
    })
    .await;
    let first = fake.record(&records[0]).unwrap();
    assert_eq!(first["Call Status"], "completed", "{first:?}");
    assert_eq!(first["Answered By"], "human");
    assert!(!first.contains_key("Disposition"), "{first:?}");

    // The agent's phone drops while the second customer rings: that person is abandoned
    // (an apology, not silence) and the session waits for its agent.
    eventually("the second customer to ring", || async {
        let now = session_state(&app, &token, &id).await;
        now["state"] == "ringing"
            && now["current"] == records[1].as_str()
            && !sim_calls_to(&sim, numbers[1]).await.is_empty()
    })
    .await;
    let agent_leg = sim_calls_to(&sim, agent_phone).await[0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let hung = reqwest::Client::new()
        .post(
            sim.base_url()
                .join(&format!("/sim/calls/{agent_leg}/hangup"))
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert!(hung.status().is_success());
    eventually("the second record's write", || async {
        writes_settled(&app.store, &records[1]).await
    })
    .await;
    assert_eq!(
        fake.field_history(&records[1], "Call Status"),
        [json!("abandoned")]
    );
    let second = &sim_calls_to(&sim, numbers[1]).await[0];
    assert!(
        second["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"].as_str().unwrap().starts_with("say")),
        "the abandoned person heard the apology: {second}"
    );
    let now = progress(&app, &token, &id).await;
    assert_eq!(now["dialer"]["sessions"][0]["state"], "joining", "{now}");
    assert_eq!(now["dialer"]["counts"]["abandoned"], 1, "{now}");
    assert_eq!(now["dialer"]["abandon_rate"], 0.5, "{now}");
    assert_eq!(now["dialer"]["pace"], "slowed", "{now}");
    assert!(
        sim_calls_to(&sim, numbers[2]).await.is_empty(),
        "nobody is dialled while the agent is away"
    );

    // Joining again brings the agent back to the same session, and the list goes on.
    let rejoined = expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/join"),
            &token,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(rejoined["data"]["id"], now["dialer"]["sessions"][0]["id"]);
    eventually("the third customer to talk", || async {
        let now = session_state(&app, &token, &id).await;
        now["state"] == "talking" && now["current"] == records[2].as_str()
    })
    .await;
    assert_eq!(sim_calls_to(&sim, agent_phone).await.len(), 2);

    // Leaving mid-call hangs the agent up; the call ends and is written without an outcome.
    let left = expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/leave"),
            &token,
            &json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(left["data"]["state"], "left");
    eventually("the third record's write", || async {
        writes_settled(&app.store, &records[2]).await
    })
    .await;
    assert_eq!(
        fake.field_history(&records[2], "Call Status"),
        [json!("completed")]
    );
    eventually("the campaign to complete", || async {
        progress(&app, &token, &id).await["status"] == "completed"
    })
    .await;
    app.kill().await;
}

#[tokio::test]
async fn a_ready_agent_pauses_and_resumes() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |raw| {
        raw.allowed_destinations = Some("US,GB".into());
    })
    .await;
    let (_, token) = app.agent("ada@example.com", "+14155550101").await;
    // Only a London number, outside the hours open in New York: the agent stays ready.
    let record = fake.insert_record(json!({"Phone": "+442079460999"}));
    fake.set_view("To call", [record.clone()]);
    let created = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &session_campaign(json!({"calling_hours": hours_open_in_new_york()})),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let act = |what: &'static str| {
        let (app, token, id) = (&app, &token, &id);
        async move {
            app.post(
                &format!("/airtable/campaigns/{id}/{what}"),
                token,
                &json!({}),
            )
            .await
        }
    };
    let (status, _) = expect_error(act("pause-session").await).await;
    assert_eq!(status, 404, "not in the session yet");
    expect_success(act("join").await).await;
    eventually("the agent to be ready", || async {
        let now = progress(&app, &token, &id).await;
        now["dialer"]["sessions"][0]["state"] == "ready"
            && now["dialer"]["counts"]["out_of_hours"] == 1
    })
    .await;
    assert_eq!(
        expect_success(act("pause-session").await).await["data"]["state"],
        "paused"
    );
    let (status, body) = expect_error(act("pause-session").await).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        expect_success(act("resume-session").await).await["data"]["state"],
        "ready"
    );
    let (status, _) = expect_error(act("resume-session").await).await;
    assert_eq!(status, 409);
    // Canceling the campaign lets its agents go.
    let canceled = expect_success(act("cancel").await).await;
    assert_eq!(
        canceled["data"]["dialer"]["sessions"][0]["state"], "left",
        "{canceled}"
    );
    eventually("the agent's phone to be hung up", || async {
        sim_calls_to(&sim, "+14155550101").await[0]["status"] == "completed"
    })
    .await;
    let (status, _) = expect_error(act("leave").await).await;
    assert_eq!(status, 404, "a session left is gone");
    assert!(
        fake.field_history(&record, "Call Status").is_empty(),
        "a record outside its hours is not written"
    );
    app.kill().await;
}

/// The next frame of a Server-Sent Events stream; `None` once the server closed it.
async fn next_frame(
    response: &mut reqwest::Response,
    parser: &mut callbridge::demo::sse::SseParser,
    pending: &mut std::collections::VecDeque<callbridge::demo::sse::SseFrame>,
) -> Option<callbridge::demo::sse::SseFrame> {
    let deadline = std::time::Duration::from_secs(60);
    tokio::time::timeout(deadline, async {
        loop {
            if let Some(frame) = pending.pop_front() {
                return Some(frame);
            }
            let chunk = response.chunk().await.unwrap()?;
            pending.extend(parser.feed(&chunk));
        }
    })
    .await
    .expect("a frame within the deadline")
}

#[tokio::test]
async fn the_campaign_stream_sends_progress_as_it_changes_and_resumes_after_its_last_frame() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |raw| {
        raw.allowed_destinations = Some("US,GB".into());
    })
    .await;
    let (_, token) = app.agent("ada@example.com", "+14155550101").await;
    let record = fake.insert_record(json!({"Phone": "+442079460998"}));
    fake.set_view("To call", [record]);
    let created = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &session_campaign(json!({"calling_hours": hours_open_in_new_york()})),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let open = |last: Option<String>| {
        let mut request = client
            .get(app.url(&format!("/airtable/campaigns/{id}/events")))
            .bearer_auth(&token);
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        request.send()
    };
    let action = |what: &'static str| {
        let (app, token, id) = (&app, &token, &id);
        async move {
            expect_success(
                app.post(
                    &format!("/airtable/campaigns/{id}/{what}"),
                    token,
                    &json!({}),
                )
                .await,
            )
            .await
        }
    };
    let parse = |frame: &callbridge::demo::sse::SseFrame| -> Value {
        assert_eq!(frame.event, "progress", "{frame:?}");
        serde_json::from_str(&frame.data).unwrap()
    };

    let (mut parser, mut pending) = Default::default();
    let mut stream = open(None).await.unwrap();
    assert_eq!(stream.status(), 200);
    let first = next_frame(&mut stream, &mut parser, &mut pending)
        .await
        .unwrap();
    assert_eq!(parse(&first)["status"], "running");
    assert_eq!(parse(&first)["mode"], "session");
    action("pause").await;
    let paused = loop {
        let frame = next_frame(&mut stream, &mut parser, &mut pending)
            .await
            .unwrap();
        if parse(&frame)["status"] == "paused" {
            break frame;
        }
    };
    drop(stream);

    // Reconnecting after the paused frame: nothing is repeated, the next change comes.
    let (mut parser, mut pending) = Default::default();
    let mut stream = open(paused.id.clone()).await.unwrap();
    action("resume").await;
    let resumed = next_frame(&mut stream, &mut parser, &mut pending)
        .await
        .unwrap();
    assert_eq!(parse(&resumed)["status"], "running", "{resumed:?}");
    assert_ne!(resumed.id, paused.id);
    action("cancel").await;
    let mut last = resumed;
    while let Some(frame) = next_frame(&mut stream, &mut parser, &mut pending).await {
        last = frame;
    }
    assert_eq!(
        parse(&last)["status"],
        "canceled",
        "the stream ends after the last state"
    );

    let (status, _) = expect_error(
        reqwest::get(app.url(&format!("/airtable/campaigns/{id}/events")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    app.kill().await;
}

#[tokio::test]
async fn leaving_while_a_customer_rings_lets_them_go_before_they_answer_to_nobody() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |_| {}).await;
    let (_, token) = app.agent("ada@example.com", "+14155550101").await;
    let number = "+12025550401";
    sim.set_number(
        number,
        NumberBehaviour {
            ring_ms: 55_000,
            ..NumberBehaviour::default()
        },
    );
    let record = fake.insert_record(json!({"Phone": number}));
    fake.set_view("To call", [record.clone()]);
    let created = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &session_campaign(json!({"calling_hours": hours_open_in_new_york()})),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/join"),
            &token,
            &json!({}),
        )
        .await,
    )
    .await;
    eventually("the customer to ring", || async {
        !sim_calls_to(&sim, number).await.is_empty()
    })
    .await;
    expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/leave"),
            &token,
            &json!({}),
        )
        .await,
    )
    .await;
    eventually("the record's write", || async {
        writes_settled(&app.store, &record).await
    })
    .await;
    assert_eq!(
        fake.field_history(&record, "Call Status"),
        [json!("failed: recipient_no_answer")]
    );
    let leg = &sim_calls_to(&sim, number).await[0];
    assert!(
        !leg["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "in-progress"),
        "the customer never answered: {leg}"
    );
    let done = progress(&app, &token, &id).await;
    assert_eq!(done["dialer"]["counts"]["abandoned"], 0, "{done}");
    app.kill().await;
}

/// A POST to the simulator's control API, as the Voice SDK script in a page sends it.
async fn sim_post(sim: &Sim, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(sim.base_url().join(path).unwrap())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_agent_works_a_session_from_the_browser() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start_with_browser(&db, &sim, &fake).await;
    let (_, token) = app.agent("ada@example.com", "+14155550101").await;
    let (_, bob_token) = app.agent("bob@example.com", "+14155550102").await;
    let customer = "+12025550160";
    sim.set_number(customer, talker(30_000));
    let record = fake.insert_record(json!({"Phone": customer}));
    fake.set_view("To call", [record.clone()]);
    let created = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &session_campaign(json!({"calling_hours": hours_open_in_new_york()})),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    // A teammate follows a session campaign they may join, named by its creator.
    let seen_by_bob = progress(&app, &bob_token, &id).await;
    assert_eq!(seen_by_bob["agent"], "ada@example.com", "{seen_by_bob}");

    let joined = expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/join"),
            &token,
            &json!({"mode": "browser"}),
        )
        .await,
    )
    .await["data"]
        .clone();
    assert_eq!(joined["mode"], "browser", "{joined}");
    assert_eq!(joined["state"], "joining", "{joined}");
    let session = joined["id"].as_str().unwrap().to_owned();
    assert_eq!(joined["connect"], json!({"params": {"Session": session}}));
    assert!(
        sim_calls_to(&sim, "+14155550101").await.is_empty(),
        "a browser session dials no phone"
    );

    let browser_of = |call_token: String| {
        let app = &app;
        let sim = &sim;
        async move {
            let minted = expect_success(app.get("/browser/token", &call_token).await).await;
            let (status, device) = sim_post(
                sim,
                "sim/devices",
                &json!({"token": minted["data"]["token"], "register": false}),
            )
            .await;
            assert_eq!(status, 201, "{device}");
            device["id"].as_str().unwrap().to_owned()
        }
    };
    // Another agent's browser cannot take Ada's place in her session.
    let bobs = browser_of(bob_token.clone()).await;
    let (status, call) = sim_post(
        &sim,
        &format!("sim/devices/{bobs}/connect"),
        &joined["connect"],
    )
    .await;
    assert_eq!(status, 201, "{call}");
    eventually("Bob's call to be refused", || async {
        let call: Value = reqwest::get(
            sim.base_url()
                .join(&format!("sim/calls/{}", call["call_sid"].as_str().unwrap()))
                .unwrap(),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        call["status"] == "completed"
    })
    .await;
    assert_eq!(
        progress(&app, &token, &id).await["dialer"]["sessions"][0]["state"],
        "joining"
    );

    let adas = browser_of(token.clone()).await;
    let (status, call) = sim_post(
        &sim,
        &format!("sim/devices/{adas}/connect"),
        &joined["connect"],
    )
    .await;
    assert_eq!(status, 201, "{call}");
    let browser_call = call["call_sid"].as_str().unwrap().to_owned();
    // The customer is dialled, talks to Ada, hangs up; Ada wraps up from the page.
    eventually("the customer's call to end and Ada to wrap up", || async {
        let now = progress(&app, &token, &id).await;
        now["dialer"]["sessions"][0]["state"] == "wrap_up"
    })
    .await;
    let customer_calls = sim_calls_to(&sim, customer).await;
    assert_eq!(customer_calls.len(), 1, "dialled once: {customer_calls:?}");
    let wrapped = expect_success(
        app.post(
            &format!("/airtable/campaigns/{id}/wrap-up"),
            &token,
            &json!({"outcome": "Sale", "notes": "From the browser"}),
        )
        .await,
    )
    .await;
    // Ready for the next record, or already let go: that was the campaign's last.
    assert!(
        ["ready", "left"].contains(&wrapped["data"]["state"].as_str().unwrap()),
        "{wrapped}"
    );
    eventually("the record to be written", || async {
        writes_settled(&app.store, &record).await
    })
    .await;
    assert_eq!(
        fake.field_history(&record, "Disposition"),
        vec![json!("Sale")]
    );
    assert_eq!(
        fake.field_history(&record, "Notes"),
        vec![json!("From the browser")]
    );

    // The campaign is done: the browser's call, the session's agent leg, is hung up.
    eventually("the browser's call to be hung up", || async {
        let call: Value = reqwest::get(
            sim.base_url()
                .join(&format!("sim/calls/{browser_call}"))
                .unwrap(),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        call["status"] == "completed"
    })
    .await;
    let done = progress(&app, &token, &id).await;
    assert_eq!(done["dialer"]["sessions"][0]["state"], "left", "{done}");
    assert_eq!(done["dialer"]["counts"]["human"], 1, "{done}");
    app.kill().await;
}

#[tokio::test]
async fn two_joins_at_once_ring_the_agents_phone_once() {
    let db = TestDatabase::default_backend().await;
    let sim = Sim::start(sim_config()).await.unwrap();
    let fake = FakeAirtable::start(FakeConfig::default()).await;
    let app = Instance::start(&db, &sim, &fake, |raw| {
        raw.allowed_destinations = Some("US,GB".into());
    })
    .await;
    let (_, token) = app.agent("ada@example.com", "+14155550101").await;
    // A London number outside the hours open in New York: nobody but the agent is dialled.
    fake.set_view(
        "To call",
        [fake.insert_record(json!({"Phone": "+442079460999"}))],
    );
    let created = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &session_campaign(json!({"calling_hours": hours_open_in_new_york()})),
        )
        .await,
    )
    .await;
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    let join = format!("/airtable/campaigns/{id}/join");
    let body = json!({"mode": "phone"});
    let (first, second) = tokio::join!(
        app.post(&join, &token, &body),
        app.post(&join, &token, &body)
    );
    let first = expect_success(first).await;
    let second = expect_success(second).await;
    assert_eq!(first["data"]["id"], second["data"]["id"], "one session");
    eventually("the agent to be ready", || async {
        progress(&app, &token, &id).await["dialer"]["sessions"][0]["state"] == "ready"
    })
    .await;
    assert_eq!(sim_calls_to(&sim, "+14155550101").await.len(), 1);
    // Another agent's per-record campaign is not theirs to see.
    let (_, bob_token) = app.agent("bob@example.com", "+14155550102").await;
    let per_record = expect_success(
        app.post(
            "/airtable/campaigns",
            &token,
            &json!({"view": "To call", "agent": "ada@example.com"}),
        )
        .await,
    )
    .await;
    let (status, _) = expect_error(
        app.get(
            &format!(
                "/airtable/campaigns/{}",
                per_record["data"]["id"].as_str().unwrap()
            ),
            &bob_token,
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    app.kill().await;
}

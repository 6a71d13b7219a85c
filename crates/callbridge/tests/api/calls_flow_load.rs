//! Many calls at once: each must end the way its customer's phone decides, with its whole event
//! log, and no customer may be dialled twice.

use serde_json::{Value, json};
use twilio_sim::Answer;

use crate::calls_flow::{
    agent, connected_log, customer_who_answers, event_counts, keen_agent,
    talk_then_customer_hangs_up, unreachable, wait_settled,
};
use crate::helpers::{
    TestApp, backends, expect_started, expect_success, one_heavy_test_at_a_time, sim_calls_to,
    spawn_app_on,
};

const AGENTS: usize = 10;
const CALLS_PER_AGENT: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Completed,
    Busy,
    NoAnswer,
}

/// One customer per call: `+1202555` then `01xx`, `02xx`, … so every number is distinct.
fn customer(n: usize) -> String {
    format!("+1202555{:04}", 100 + n)
}

fn expectation(n: usize) -> Expect {
    match n % 10 {
        3 => Expect::Busy,
        7 => Expect::NoAnswer,
        _ => Expect::Completed,
    }
}

async fn start_one(app: &TestApp, token: &str, to: &str) -> String {
    let response = app
        .client
        .post(app.url("/phone-to-phone/start"))
        .bearer_auth(token)
        .form(&[("RecipientNumber", to)])
        .send()
        .await
        .unwrap();
    expect_started(response).await["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_hundred_concurrent_calls_from_ten_agents_each_end_right() {
    let _turn = one_heavy_test_at_a_time().await;
    for db in backends().await {
        let app = spawn_app_on(db).await;
        let mut tokens = Vec::new();
        for a in 0..AGENTS {
            let phone = format!("+1415555{:04}", 150 + a);
            app.sim.set_number(&phone, keen_agent());
            tokens.push(
                agent(&app, &format!("load{a}@example.com"), &phone, false)
                    .await
                    .1,
            );
        }
        for n in 0..AGENTS * CALLS_PER_AGENT {
            let behaviour = match expectation(n) {
                Expect::Completed => customer_who_answers(),
                Expect::Busy => unreachable(Answer::Busy),
                Expect::NoAnswer => unreachable(Answer::NoAnswer),
            };
            app.sim.set_number(&customer(n), behaviour);
        }

        let starts = (0..AGENTS * CALLS_PER_AGENT).map(|n| {
            let token = &tokens[n % AGENTS];
            let to = customer(n);
            let app = &app;
            async move { (n, start_one(app, token, &to).await) }
        });
        let started: Vec<(usize, String)> = futures::future::join_all(starts).await;

        for (n, id) in &started {
            let token = &tokens[n % AGENTS];
            let done: Value = match expectation(*n) {
                Expect::Completed => talk_then_customer_hangs_up(&app, token, id).await,
                _ => wait_settled(&app, token, id).await,
            };
            match expectation(*n) {
                Expect::Completed => {
                    assert_eq!(done["state"], "completed", "{done:#}");
                    // The agent's key races the Gather's timeout on the simulator's clock; on a
                    // busy machine the timeout can win, and the call connects all the same.
                    let gather = if event_counts(&done).contains_key("agent:silence") {
                        "silence"
                    } else {
                        "key-pressed"
                    };
                    assert_eq!(event_counts(&done), connected_log(gather), "{done:#}");
                    assert!(done["duration_secs"].as_i64().is_some(), "{done:#}");
                }
                Expect::Busy => {
                    assert_eq!(done["state"], "failed", "{done:#}");
                    assert_eq!(done["reason"], "recipient_busy");
                }
                Expect::NoAnswer => {
                    assert_eq!(done["state"], "failed", "{done:#}");
                    assert_eq!(done["reason"], "recipient_no_answer");
                }
            }
            assert_eq!(
                sim_calls_to(&app.sim, &customer(*n)).await.len(),
                1,
                "{} dialled other than once",
                customer(*n)
            );
        }
        // Every agent sees exactly their ten calls.
        for token in &tokens {
            let page = expect_success(
                app.client
                    .get(app.url("/calls?limit=100"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(
                page["data"]["calls"].as_array().unwrap().len(),
                CALLS_PER_AGENT,
                "{}",
                json!(page["data"]["calls"].as_array().unwrap().len())
            );
        }
        app.stop().await;
    }
}

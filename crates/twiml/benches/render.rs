//! Rendering the two documents every call serves: the agent leg's greeting and key prompt, and
//! the conference join. Built and serialized per iteration, as a webhook handler does.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use twiml::{Beep, Conference, ConferenceEvent, Dial, Gather, GatherInput, Method, Response};

const DIAL_RECIPIENT_URL: &str = "https://callbridge.example.com/phone-to-phone/dial-recipient?call=0192d1f4-7a8b-7c3d-9e0f-123456789abc";
const STATUS_URL: &str = "https://callbridge.example.com/phone-to-phone/status?call=0192d1f4-7a8b-7c3d-9e0f-123456789abc&leg=agent";
const CONFERENCE: &str = "cb-0192d1f4-7a8b-7c3d-9e0f-123456789abc";

fn agent_leg(action: &str) -> Response {
    Response::new().say("Hello.").gather(
        Gather::new()
            .action(action)
            .action_on_empty_result(true)
            .method(Method::Post)
            .finish_on_key("")
            .timeout(10)
            .num_digits(1)
            .input([GatherInput::Dtmf])
            .say("Please press any key to dial the customer. Or, wait till we connect you."),
    )
}

fn conference(name: &str, status_url: &str) -> Response {
    Response::new().dial(
        Dial::new().conference(
            Conference::new(name)
                .start_conference_on_enter(true)
                .end_conference_on_exit(true)
                .beep(Beep::False)
                .status_callback(status_url)
                .status_callback_method(Method::Post)
                .status_callback_event([
                    ConferenceEvent::Start,
                    ConferenceEvent::End,
                    ConferenceEvent::Join,
                    ConferenceEvent::Leave,
                ]),
        ),
    )
}

fn render(c: &mut Criterion) {
    let mut group = c.benchmark_group("twiml");
    group.bench_function("agent_leg_say_gather", |b| {
        b.iter(|| agent_leg(black_box(DIAL_RECIPIENT_URL)).to_xml().unwrap());
    });
    group.bench_function("conference_dial", |b| {
        b.iter(|| {
            conference(black_box(CONFERENCE), black_box(STATUS_URL))
                .to_xml()
                .unwrap()
        });
    });
    group.finish();
}

fn config() -> Criterion {
    // Small on purpose: the whole `cargo bench` should finish in a couple of minutes on 2 cores.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = render
}
criterion_main!(benches);

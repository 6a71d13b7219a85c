//! Webhook signatures: what every request from Twilio costs before any other work is done.

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use twilio::signature::{sign, sign_body, validate, validate_body};

const AUTH_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const STATUS_URL: &str = "https://callbridge.example.com/phone-to-phone/status?call=0192d1f4-7a8b-7c3d-9e0f-123456789abc&leg=agent";
const JSON_URL: &str = "https://callbridge.example.com/hooks/event?source=bench";

/// A call status callback as Twilio posts it: 15 parameters.
fn status_callback() -> Vec<(String, String)> {
    [
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("CallStatus", "in-progress"),
        ("CallbackSource", "call-progress-events"),
        ("Called", "+14155550123"),
        ("CalledCountry", "US"),
        ("Caller", "+15005550006"),
        ("CallerCountry", "US"),
        ("Direction", "outbound-api"),
        ("From", "+15005550006"),
        ("SequenceNumber", "2"),
        ("Timestamp", "Fri, 14 Mar 2025 09:26:53 +0000"),
        ("To", "+14155550123"),
        ("ToCountry", "US"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A JSON body of 2 KiB, the size of a typical event notification.
fn json_body() -> Vec<u8> {
    let mut body = String::from(r#"{"events":["#);
    let mut n = 0;
    while body.len() < 2048 - 96 {
        if n > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"sequence":{n},"type":"participant-join","sid":"CA{n:032}"}}"#
        ));
        n += 1;
    }
    body.push_str(r#"],"account":"AC0123456789abcdef0123456789abcdef"}"#);
    while body.len() < 2048 {
        body.insert(body.len() - 1, ' ');
    }
    body.into_bytes()
}

fn form_signatures(c: &mut Criterion) {
    let params = status_callback();
    assert_eq!(params.len(), 15);
    let signature = sign(AUTH_TOKEN, STATUS_URL, &params);
    let wrong = sign("another-token", STATUS_URL, &params);

    let mut group = c.benchmark_group("signature");
    group.bench_function("sign_status_callback_15_params", |b| {
        b.iter(|| {
            sign(
                black_box(AUTH_TOKEN),
                black_box(STATUS_URL),
                black_box(&params),
            )
        });
    });
    group.bench_function("validate_status_callback_15_params", |b| {
        b.iter(|| {
            assert!(validate(
                black_box(AUTH_TOKEN),
                black_box(&signature),
                black_box(STATUS_URL),
                black_box(&params),
            ));
        });
    });
    // A refused request tries every URL variant before giving up: the slowest path.
    group.bench_function("validate_status_callback_15_params_refused", |b| {
        b.iter(|| {
            assert!(!validate(
                black_box(AUTH_TOKEN),
                black_box(&wrong),
                black_box(STATUS_URL),
                black_box(&params),
            ));
        });
    });
    group.finish();
}

fn body_signatures(c: &mut Criterion) {
    let body = json_body();
    assert_eq!(body.len(), 2048);
    let (url, signature) = sign_body(AUTH_TOKEN, JSON_URL, &body);

    let mut group = c.benchmark_group("signature");
    group.bench_function("validate_body_json_2KiB", |b| {
        b.iter(|| {
            assert!(validate_body(
                black_box(AUTH_TOKEN),
                black_box(&signature),
                black_box(&url),
                black_box(&body),
            ));
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = form_signatures, body_signatures
}
criterion_main!(benches);

//! Minting the Access Token a browser agent connects with (`GET /browser/token`).

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use twilio::SecretString;
use twilio::access_token::{AccessToken, VoiceGrant};

fn mint(c: &mut Criterion) {
    let token = AccessToken::new(
        "AC0123456789abcdef0123456789abcdef",
        "SK0123456789abcdef0123456789abcdef",
        SecretString::from("an-api-key-secret-of-32-characters!"),
        "agent-0192d1f4-7a8b-7c3d-9e0f-123456789abc",
    )
    .with_voice(VoiceGrant {
        incoming_allow: true,
        outgoing_application_sid: Some("AP0123456789abcdef0123456789abcdef".to_owned()),
        outgoing_application_params: Default::default(),
    });

    let mut group = c.benchmark_group("access_token");
    group.bench_function("mint_voice_grant", |b| {
        b.iter(|| {
            black_box(&token)
                .to_jwt_at(black_box(1_741_944_413))
                .unwrap()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = mint
}
criterion_main!(benches);

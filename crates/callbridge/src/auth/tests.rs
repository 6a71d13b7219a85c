use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::config::{RawSettings, Settings};
use crate::domain::{AgentId, EmailAddress, PhoneNumber};
use crate::store::Agent;

const SECRET: &str = "an-example-secret-of-at-least-32-bytes";

fn settings_with(secret: &str) -> Settings {
    Settings::from_raw(RawSettings {
        twilio_account_sid: Some("AC00000000000000000000000000000000".into()),
        twilio_auth_token: Some("token".into()),
        caller_id: Some("+14155550100".into()),
        jwt_secret: Some(secret.into()),
        call_token_ttl: Some("2h".into()),
        ..RawSettings::default()
    })
    .unwrap()
}

fn settings() -> Settings {
    settings_with(SECRET)
}

fn agent() -> Agent {
    let now = Utc::now();
    Agent {
        default_mode: crate::domain::CallMode::Phone,
        id: AgentId::new(),
        email: EmailAddress::parse("ada@example.com").unwrap(),
        email_verified_at: Some(now),
        phone: Some(PhoneNumber::parse("+14155550100").unwrap()),
        phone_verified_at: Some(now),
        token_version: 2,
        revoked_at: None,
        record_by_default: false,
        created_at: now,
        updated_at: now,
    }
}

fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn setup_tokens_carry_exactly_the_seeds_claims() {
    let email = EmailAddress::parse("user@twilio.com").unwrap();
    let token = issue_setup_token(&settings(), &email, Utc::now()).unwrap();
    let claims = payload(&token);
    let mut keys: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["aud", "email", "exp", "iat", "iss", "verifiedAt"]);
    assert_eq!(claims["iss"], "outbound-conference-setup");
    assert_eq!(claims["aud"], "setup/phone");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    let verified_at = claims["verifiedAt"].as_str().unwrap();
    assert!(
        verified_at.ends_with('Z') && verified_at.len() == "2025-06-24T10:30:00.000Z".len(),
        "{verified_at}"
    );
    assert_eq!(verify_setup_token(&settings(), &token).unwrap(), email);
}

#[test]
fn call_tokens_round_trip_and_last_the_configured_ttl() {
    let agent = agent();
    let token = issue_call_token(&settings(), &agent).unwrap();
    let claims = verify_call_token(&settings(), &token).unwrap();
    assert_eq!(claims.sub, agent.id.to_string());
    assert_eq!(claims.email, "ada@example.com");
    assert_eq!(claims.phone, "+14155550100");
    assert_eq!(claims.ver, 2);
    assert_eq!(claims.iss, "callbridge");
    assert_eq!(claims.aud, "callbridge/call");
    assert_eq!(
        claims.exp - claims.iat,
        i64::try_from(Duration::from_secs(2 * 3600).as_secs()).unwrap()
    );
}

#[test]
fn a_call_token_needs_a_verified_phone() {
    let mut agent = agent();
    agent.phone_verified_at = None;
    let err = issue_call_token(&settings(), &agent).unwrap_err();
    assert!(!err.is_refusal(), "{err}");
}

#[test]
fn one_kind_of_token_is_not_accepted_as_the_other() {
    let email = EmailAddress::parse("user@twilio.com").unwrap();
    let setup = issue_setup_token(&settings(), &email, Utc::now()).unwrap();
    let err = verify_call_token(&settings(), &setup).unwrap_err();
    assert!(err.to_string().contains("not a call token"), "{err}");
    let call = issue_call_token(&settings(), &agent()).unwrap();
    let err = verify_setup_token(&settings(), &call).unwrap_err();
    assert!(err.to_string().contains("not a setup token"), "{err}");
}

#[test]
fn expired_tokens_say_so() {
    let now = Utc::now().timestamp();
    let expired = sign(
        &json!({"email": "user@twilio.com", "verifiedAt": "2025-06-24T10:30:00.000Z",
                "iat": now - 600, "exp": now - 300,
                "iss": SETUP_ISSUER, "aud": SETUP_AUDIENCE}),
        SECRET,
    );
    let err = verify_setup_token(&settings(), &expired).unwrap_err();
    assert!(matches!(err, AuthError::SetupTokenExpired), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");

    let expired_call = sign(
        &json!({"sub": AgentId::new().to_string(), "email": "a@b.co", "phone": "+14155550100",
                "ver": 0, "iat": now - 600, "exp": now - 60,
                "iss": CALL_ISSUER, "aud": CALL_AUDIENCE}),
        SECRET,
    );
    let err = verify_call_token(&settings(), &expired_call).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
}

#[test]
fn another_secret_or_a_tampered_token_is_refused() {
    let token = issue_call_token(&settings(), &agent()).unwrap();
    let other = settings_with("another-secret-that-is-32-bytes-long!!");
    assert!(verify_call_token(&other, &token).is_err());
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(verify_call_token(&settings(), &tampered).is_err());
    assert!(verify_call_token(&settings(), "not.a.jwt").is_err());
}

#[test]
fn a_token_signed_with_none_is_refused() {
    use base64::Engine as _;
    let enc = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let now = Utc::now().timestamp();
    let unsigned = format!(
        "{}.{}.",
        enc(&json!({"alg": "none", "typ": "JWT"})),
        enc(
            &json!({"sub": AgentId::new().to_string(), "email": "a@b.co",
                    "phone": "+14155550100", "ver": 0, "iat": now, "exp": now + 60,
                    "iss": CALL_ISSUER, "aud": CALL_AUDIENCE})
        )
    );
    assert!(verify_call_token(&settings(), &unsigned).is_err());
}

//! Access Tokens as Twilio's Voice signaling checks them: an HS256 JWT with header
//! `cty: twilio-fpa;v=1`, signed with the secret of the API key named by `iss`, for the account named
//! by `sub`, valid from `nbf` until `exp`, at most 24 hours after `iat`, carrying `grants.identity`
//! and `grants.voice`.
//!
//! Failures carry the codes the Voice SDK reports:
//! - 31204 the token is not a JWT (segments, base64url, JSON), or lacks the identity or the Voice
//!   grant (both listed among 31204's causes);
//! - 20102 its header is not Twilio's (`alg` HS256, `cty` twilio-fpa;v=1);
//! - 20101 it cannot be validated: unknown API key, or a signature the key's secret does not make;
//! - 20103 its issuer or subject is wrong: `sub` is another account, `iss` is not an API key SID;
//! - 20157 its lifetime (`exp - iat`) exceeds 24 hours;
//! - 20105 it is not valid yet (`nbf` in the future);
//! - 20104 it has expired when presented. A token that expires while its device is registered is
//!   reported by the signaling connection as 31205 instead (see [`expired_while_registered`]);
//! - 20106 its Voice grant lacks what is asked of it: `incoming.allow` to receive calls, or
//!   `outgoing.application_sid` to place them.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The `cty` Twilio requires.
pub(crate) const CONTENT_TYPE: &str = "twilio-fpa;v=1";
/// The longest lifetime Twilio accepts.
pub(crate) const MAX_TTL_SECS: i64 = 24 * 60 * 60;

/// Why a token was refused, with the Voice SDK's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenError {
    pub(crate) code: u32,
    pub(crate) message: String,
}

impl TokenError {
    fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// What a valid token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) key_sid: String,
    pub(crate) identity: String,
    pub(crate) exp: i64,
    pub(crate) incoming_allow: bool,
    pub(crate) outgoing_application_sid: Option<String>,
    /// `grants.voice.outgoing.params`, passed to the application with every outgoing call.
    pub(crate) outgoing_params: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    cty: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    grants: Option<Grants>,
}

#[derive(Deserialize)]
struct Grants {
    identity: Option<String>,
    voice: Option<Voice>,
}

#[derive(Deserialize)]
struct Voice {
    incoming: Option<Incoming>,
    outgoing: Option<Outgoing>,
}

#[derive(Deserialize)]
struct Incoming {
    allow: Option<bool>,
}

#[derive(Deserialize)]
struct Outgoing {
    application_sid: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, serde_json::Value>,
}

fn not_a_jwt(why: &str) -> TokenError {
    TokenError::new(31204, format!("Invalid JWT token: {why}"))
}

fn segment<T: for<'de> Deserialize<'de>>(part: &str, what: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| not_a_jwt(&format!("its {what} is not base64url")))?;
    serde_json::from_slice(&bytes).map_err(|_| not_a_jwt(&format!("its {what} is not JSON")))
}

/// Checks `jwt` for `account_sid` at Unix time `now`; `secret_of` gives an API key's secret.
pub(crate) fn verify(
    jwt: &str,
    account_sid: &str,
    now: i64,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Grant, TokenError> {
    let parts: Vec<&str> = jwt.trim().split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return Err(not_a_jwt("it does not have three segments"));
    };
    let head: Header = segment(header, "header")?;
    let body: Claims = segment(claims, "payload")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .map_err(|_| not_a_jwt("its signature is not base64url"))?;
    if head.alg.as_deref() != Some("HS256") {
        return Err(TokenError::new(
            20102,
            format!(
                "Invalid Access Token header: alg {:?}, not HS256",
                head.alg.unwrap_or_default()
            ),
        ));
    }
    if head.cty.as_deref() != Some(CONTENT_TYPE) {
        return Err(TokenError::new(
            20102,
            format!(
                "Invalid Access Token header: cty {:?}, not {CONTENT_TYPE}",
                head.cty.unwrap_or_default()
            ),
        ));
    }
    let iss = body.iss.unwrap_or_default();
    if !crate::sid::is_sid(&iss, "SK") {
        return Err(TokenError::new(
            20103,
            format!("Invalid Access Token issuer/subject: iss {iss:?} is not an API key SID"),
        ));
    }
    let sub = body.sub.unwrap_or_default();
    if sub != account_sid {
        return Err(TokenError::new(
            20103,
            format!("Invalid Access Token issuer/subject: sub {sub:?} is not this account"),
        ));
    }
    let Some(secret) = secret_of(&iss) else {
        return Err(TokenError::new(
            20101,
            format!("Invalid Access Token: API key {iss} is unknown"),
        ));
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(header.as_bytes());
    mac.update(b".");
    mac.update(claims.as_bytes());
    if mac.verify_slice(&signature).is_err() {
        return Err(TokenError::new(
            20101,
            format!("Invalid Access Token: the signature is not made with the secret of {iss}"),
        ));
    }
    let Some(exp) = body.exp else {
        return Err(TokenError::new(
            20104,
            "Access Token expired or expiration date invalid: no exp",
        ));
    };
    let iat = body.iat.unwrap_or(now);
    if exp.saturating_sub(iat) > MAX_TTL_SECS {
        return Err(TokenError::new(
            20157,
            format!(
                "Expiration Time Exceeds Maximum Time Allowed: {} s after iat, at most {MAX_TTL_SECS}",
                exp.saturating_sub(iat)
            ),
        ));
    }
    if let Some(nbf) = body.nbf
        && nbf > now
    {
        return Err(TokenError::new(
            20105,
            format!("Access Token not yet valid: nbf {nbf} is after {now}"),
        ));
    }
    if exp <= now {
        return Err(TokenError::new(
            20104,
            format!(
                "Access Token expired or expiration date invalid: exp {exp} is not after {now}"
            ),
        ));
    }
    let grants = body.grants.ok_or_else(|| not_a_jwt("it has no grants"))?;
    let identity = grants
        .identity
        .filter(|i| !i.is_empty())
        .ok_or_else(|| not_a_jwt("it has no identity"))?;
    let voice = grants
        .voice
        .ok_or_else(|| not_a_jwt("it has no Voice grant"))?;
    let (outgoing_application_sid, outgoing_params) = match voice.outgoing {
        Some(o) => (
            o.application_sid.filter(|s| !s.is_empty()),
            o.params
                .into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        ),
        None => (None, BTreeMap::new()),
    };
    Ok(Grant {
        key_sid: iss,
        identity,
        exp,
        incoming_allow: voice.incoming.and_then(|i| i.allow).unwrap_or(false),
        outgoing_application_sid,
        outgoing_params,
    })
}

/// The signaling's answer to a registered device whose token has since expired.
pub(crate) fn expired_while_registered(exp: i64) -> TokenError {
    TokenError::new(
        31205,
        format!("JWT token expired at {exp}: the device must register again with a new token"),
    )
}

/// Twilio refuses to register a device for incoming calls without `incoming.allow`.
pub(crate) fn require_incoming(grant: &Grant) -> Result<(), TokenError> {
    if grant.incoming_allow {
        Ok(())
    } else {
        Err(TokenError::new(
            20106,
            "Invalid Access Token grants: the Voice grant does not allow incoming calls",
        ))
    }
}

/// An outgoing call needs the TwiML App the Voice grant names.
pub(crate) fn require_outgoing(grant: &Grant) -> Result<&str, TokenError> {
    grant.outgoing_application_sid.as_deref().ok_or_else(|| {
        TokenError::new(
            20106,
            "Invalid Access Token grants: the Voice grant has no outgoing application_sid",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use twilio::SecretString;
    use twilio::access_token::{AccessToken, VoiceGrant};

    const ACCOUNT: &str = "AC00000000000000000000000000000000";
    const KEY: &str = "SK00000000000000000000000000000001";
    const SECRET: &str = "a-secret-the-simulator-knows";
    const NOW: i64 = 1_700_000_000;

    fn minted(voice: Option<VoiceGrant>, ttl: u64, iat: i64) -> String {
        let mut t =
            AccessToken::new(ACCOUNT, KEY, SecretString::from(SECRET), "alice").with_ttl_secs(ttl);
        t.voice = voice;
        t.to_jwt_at(iat).unwrap()
    }

    fn both() -> VoiceGrant {
        VoiceGrant {
            incoming_allow: true,
            outgoing_application_sid: Some("AP00000000000000000000000000000001".to_owned()),
            outgoing_application_params: BTreeMap::from([("team".to_owned(), "red".to_owned())]),
        }
    }

    fn check(jwt: &str) -> Result<Grant, TokenError> {
        verify(jwt, ACCOUNT, NOW, |k| (k == KEY).then(|| SECRET.to_owned()))
    }

    fn code(jwt: &str) -> u32 {
        check(jwt).unwrap_err().code
    }

    /// A token signed with `SECRET` whose header and claims are given as JSON.
    fn forged(header: &str, claims: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(header);
        let c = URL_SAFE_NO_PAD.encode(claims);
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{h}.{c}").as_bytes());
        let s = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{h}.{c}.{s}")
    }

    const HEADER: &str = r#"{"alg":"HS256","typ":"JWT","cty":"twilio-fpa;v=1"}"#;

    #[test]
    fn a_token_the_service_mints_is_accepted_with_its_grants() {
        let g = check(&minted(Some(both()), 3600, NOW - 10)).unwrap();
        assert_eq!(g.identity, "alice");
        assert_eq!(g.key_sid, KEY);
        assert!(g.incoming_allow);
        assert_eq!(
            g.outgoing_application_sid.as_deref(),
            Some("AP00000000000000000000000000000001")
        );
        assert_eq!(g.outgoing_params["team"], "red");
        assert_eq!(g.exp, NOW - 10 + 3600);
        assert!(require_incoming(&g).is_ok());
        assert!(require_outgoing(&g).is_ok());
    }

    #[test]
    fn what_is_not_a_jwt_is_31204() {
        for bad in ["", "abc", "a.b", "a.b.c.d", "!!.??.**", "e30.e30"] {
            assert_eq!(code(bad), 31204, "{bad:?}");
        }
        let not_json = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode("not json")
        );
        assert_eq!(code(&not_json), 31204);
    }

    #[test]
    fn a_wrong_signature_or_unknown_key_is_20101() {
        let jwt = minted(Some(both()), 3600, NOW);
        let (rest, _) = jwt.rsplit_once('.').unwrap();
        let tampered = format!("{rest}.{}", URL_SAFE_NO_PAD.encode([0u8; 32]));
        assert_eq!(code(&tampered), 20101);
        let other_secret = AccessToken::new(ACCOUNT, KEY, SecretString::from("other"), "alice")
            .with_voice(both())
            .to_jwt_at(NOW)
            .unwrap();
        assert_eq!(code(&other_secret), 20101);
        let unknown = AccessToken::new(
            ACCOUNT,
            "SK0000000000000000000000000000dead",
            SecretString::from(SECRET),
            "alice",
        )
        .with_voice(both())
        .to_jwt_at(NOW)
        .unwrap();
        assert_eq!(code(&unknown), 20101);
    }

    #[test]
    fn another_account_or_a_non_key_issuer_is_20103() {
        let other = AccessToken::new(
            "AC11111111111111111111111111111111",
            KEY,
            SecretString::from(SECRET),
            "alice",
        )
        .with_voice(both())
        .to_jwt_at(NOW)
        .unwrap();
        assert_eq!(code(&other), 20103);
        let iss = forged(
            HEADER,
            &format!(
                r#"{{"iss":"{ACCOUNT}","sub":"{ACCOUNT}","exp":{},"grants":{{"identity":"a","voice":{{}}}}}}"#,
                NOW + 60
            ),
        );
        assert_eq!(code(&iss), 20103);
    }

    #[test]
    fn a_header_that_is_not_twilios_is_20102() {
        let claims = format!(
            r#"{{"iss":"{KEY}","sub":"{ACCOUNT}","iat":{NOW},"exp":{},"grants":{{"identity":"a","voice":{{}}}}}}"#,
            NOW + 60
        );
        assert_eq!(
            code(&forged(r#"{"alg":"HS256","typ":"JWT"}"#, &claims)),
            20102
        );
        assert_eq!(
            code(&forged(r#"{"alg":"none","cty":"twilio-fpa;v=1"}"#, &claims)),
            20102
        );
        assert!(check(&forged(HEADER, &claims)).is_ok());
    }

    #[test]
    fn lifetimes_expiry_and_not_before() {
        assert_eq!(code(&minted(Some(both()), 86_401, NOW)), 20157);
        assert!(check(&minted(Some(both()), 86_400, NOW - 1)).is_ok());
        assert_eq!(code(&minted(Some(both()), 60, NOW - 60)), 20104);
        assert_eq!(code(&minted(Some(both()), 60, NOW - 3600)), 20104);
        let mut early =
            AccessToken::new(ACCOUNT, KEY, SecretString::from(SECRET), "alice").with_voice(both());
        early.nbf = Some(NOW + 30);
        assert_eq!(code(&early.to_jwt_at(NOW).unwrap()), 20105);
        assert_eq!(expired_while_registered(NOW).code, 31205);
    }

    #[test]
    fn missing_identity_or_voice_grant_is_31204_and_missing_voice_rights_20106() {
        assert_eq!(code(&minted(None, 3600, NOW)), 31204);
        let no_identity = forged(
            HEADER,
            &format!(
                r#"{{"iss":"{KEY}","sub":"{ACCOUNT}","iat":{NOW},"exp":{},"grants":{{"voice":{{}}}}}}"#,
                NOW + 60
            ),
        );
        assert_eq!(code(&no_identity), 31204);
        let outgoing_only = check(&minted(
            Some(VoiceGrant {
                incoming_allow: false,
                ..both()
            }),
            3600,
            NOW,
        ))
        .unwrap();
        assert_eq!(require_incoming(&outgoing_only).unwrap_err().code, 20106);
        let incoming_only = check(&minted(
            Some(VoiceGrant {
                outgoing_application_sid: None,
                ..both()
            }),
            3600,
            NOW,
        ))
        .unwrap();
        assert_eq!(require_outgoing(&incoming_only).unwrap_err().code, 20106);
    }
}

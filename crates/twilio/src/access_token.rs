//! Twilio Access Tokens (the JWTs the Voice JavaScript SDK connects with), minted as Twilio's
//! helper libraries mint them: HS256 with the API key secret, header `cty: twilio-fpa;v=1`,
//! `jti = {api_key_sid}-{iat}`, `iss` = API key SID, `sub` = account SID.

use std::collections::BTreeMap;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::Error;

/// Content type Twilio requires in the token header.
pub const CONTENT_TYPE: &str = "twilio-fpa;v=1";

/// Default lifetime, as in the helper libraries.
pub const DEFAULT_TTL_SECS: u64 = 3600;

/// What a token lets its holder do with Voice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceGrant {
    /// Accept incoming calls addressed to the token's identity.
    pub incoming_allow: bool,
    /// TwiML App whose Voice URL handles the holder's outgoing calls.
    pub outgoing_application_sid: Option<String>,
    /// Parameters passed to that application.
    pub outgoing_application_params: BTreeMap<String, String>,
}

/// A token to be minted; see [`AccessToken::to_jwt`].
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// Account the token is scoped to.
    pub account_sid: String,
    /// API key SID (`SK…`) whose secret signs the token.
    pub api_key_sid: String,
    /// The API key's secret.
    pub api_key_secret: SecretString,
    /// Who the holder is (the client name calls are addressed to).
    pub identity: String,
    /// Seconds the token stays valid.
    pub ttl_secs: u64,
    /// Not valid before this Unix time, if set.
    pub nbf: Option<i64>,
    /// The Voice grant, if any.
    pub voice: Option<VoiceGrant>,
}

/// The claims of a minted token, as they appear in the JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `{api_key_sid}-{iat}`.
    pub jti: String,
    /// API key SID.
    pub iss: String,
    /// Account SID.
    pub sub: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Not before (Unix seconds), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// What the token allows.
    pub grants: Grants,
}

/// The `grants` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// The holder's identity.
    pub identity: String,
    /// The Voice grant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<VoicePayload>,
}

/// The `grants.voice` claim.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoicePayload {
    /// Present (and `allow: true`) when incoming calls are allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incoming: Option<Incoming>,
    /// Present when outgoing calls go to a TwiML App.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<Outgoing>,
}

/// `grants.voice.incoming`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incoming {
    /// Always true when present.
    pub allow: bool,
}

/// `grants.voice.outgoing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The TwiML App SID.
    pub application_sid: String,
    /// Parameters for the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<BTreeMap<String, String>>,
}

impl AccessToken {
    /// A token for `identity` with the default lifetime and no grant yet.
    pub fn new(
        account_sid: impl Into<String>,
        api_key_sid: impl Into<String>,
        api_key_secret: SecretString,
        identity: impl Into<String>,
    ) -> Self {
        Self {
            account_sid: account_sid.into(),
            api_key_sid: api_key_sid.into(),
            api_key_secret,
            identity: identity.into(),
            ttl_secs: DEFAULT_TTL_SECS,
            nbf: None,
            voice: None,
        }
    }

    /// Adds a Voice grant.
    #[must_use]
    pub fn with_voice(mut self, grant: VoiceGrant) -> Self {
        self.voice = Some(grant);
        self
    }

    /// Sets the lifetime.
    #[must_use]
    pub fn with_ttl_secs(mut self, ttl_secs: u64) -> Self {
        self.ttl_secs = ttl_secs;
        self
    }

    /// The claims this token carries if issued at `iat` (Unix seconds).
    pub fn claims(&self, iat: i64) -> Claims {
        let voice = self.voice.as_ref().map(|g| VoicePayload {
            incoming: g.incoming_allow.then_some(Incoming { allow: true }),
            outgoing: g.outgoing_application_sid.as_ref().map(|sid| Outgoing {
                application_sid: sid.clone(),
                params: (!g.outgoing_application_params.is_empty())
                    .then(|| g.outgoing_application_params.clone()),
            }),
        });
        Claims {
            jti: format!("{}-{iat}", self.api_key_sid),
            iss: self.api_key_sid.clone(),
            sub: self.account_sid.clone(),
            iat,
            nbf: self.nbf,
            exp: iat.saturating_add(i64::try_from(self.ttl_secs).unwrap_or(i64::MAX)),
            grants: Grants {
                identity: self.identity.clone(),
                voice,
            },
        }
    }

    /// Signs the token, issued now.
    pub fn to_jwt(&self) -> Result<String, Error> {
        self.to_jwt_at(chrono::Utc::now().timestamp())
    }

    /// Signs the token as issued at `iat` (Unix seconds).
    pub fn to_jwt_at(&self, iat: i64) -> Result<String, Error> {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("JWT".to_owned());
        header.cty = Some(CONTENT_TYPE.to_owned());
        let key = EncodingKey::from_secret(self.api_key_secret.expose_secret().as_bytes());
        jsonwebtoken::encode(&header, &self.claims(iat), &key).map_err(Error::Token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation};

    const SECRET: &str = "api-key-secret-of-at-least-some-length";

    fn token() -> AccessToken {
        AccessToken::new(
            "AC00000000000000000000000000000000",
            "SK00000000000000000000000000000000",
            SecretString::from(SECRET),
            "agent-42",
        )
    }

    fn decode(jwt: &str) -> (jsonwebtoken::Header, Claims) {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(
            jwt,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &validation,
        )
        .unwrap();
        (data.header, data.claims)
    }

    #[test]
    fn header_and_claims_are_twilios() {
        let grant = VoiceGrant {
            incoming_allow: true,
            outgoing_application_sid: Some("AP00000000000000000000000000000000".to_owned()),
            outgoing_application_params: BTreeMap::from([("call".to_owned(), "7".to_owned())]),
        };
        let jwt = token().with_voice(grant).to_jwt_at(1_700_000_000).unwrap();
        let (header, claims) = decode(&jwt);
        assert_eq!(header.alg, Algorithm::HS256);
        assert_eq!(header.typ.as_deref(), Some("JWT"));
        assert_eq!(header.cty.as_deref(), Some("twilio-fpa;v=1"));
        assert_eq!(claims.jti, "SK00000000000000000000000000000000-1700000000");
        assert_eq!(claims.iss, "SK00000000000000000000000000000000");
        assert_eq!(claims.sub, "AC00000000000000000000000000000000");
        assert_eq!(claims.iat, 1_700_000_000);
        assert_eq!(claims.exp, 1_700_003_600);
        assert_eq!(claims.nbf, None);
        let json = serde_json::to_value(&claims.grants).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "identity": "agent-42",
                "voice": {
                    "incoming": {"allow": true},
                    "outgoing": {
                        "application_sid": "AP00000000000000000000000000000000",
                        "params": {"call": "7"}
                    }
                }
            })
        );
    }

    #[test]
    fn a_token_without_grants_carries_only_the_identity() {
        let jwt = token().with_ttl_secs(60).to_jwt_at(10).unwrap();
        let (_, claims) = decode(&jwt);
        assert_eq!(claims.exp, 70);
        assert_eq!(
            serde_json::to_value(&claims.grants).unwrap(),
            serde_json::json!({"identity": "agent-42"})
        );
    }

    #[test]
    fn incoming_only_grant_has_no_outgoing() {
        let grant = VoiceGrant {
            incoming_allow: true,
            ..VoiceGrant::default()
        };
        let claims = token().with_voice(grant).claims(0);
        assert_eq!(
            serde_json::to_value(claims.grants.voice).unwrap(),
            serde_json::json!({"incoming": {"allow": true}})
        );
    }

    #[test]
    fn a_token_signed_with_another_secret_does_not_verify() {
        let mut other = token();
        other.api_key_secret = SecretString::from("another-secret");
        let jwt = other.to_jwt().unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        assert!(
            jsonwebtoken::decode::<Claims>(
                &jwt,
                &DecodingKey::from_secret(SECRET.as_bytes()),
                &validation
            )
            .is_err()
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        assert!(!format!("{:?}", token()).contains(SECRET));
    }
}

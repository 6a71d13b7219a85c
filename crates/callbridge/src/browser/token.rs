//! `GET /browser/token`: the Twilio Access Token a browser agent's Voice SDK connects with.

use chrono::{DateTime, Utc};
use serde::Serialize;
use twilio::access_token::{AccessToken, VoiceGrant};

use crate::auth::AuthAgent;
use crate::config::Settings;
use crate::domain::ClientIdentity;
use crate::http::{ApiError, ErrorBody, Success, SuccessBody, success};
use crate::state::AppState;
use crate::store::Agent;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrowserToken {
    /// The Access Token (a JWT) for `new Twilio.Device(token)`.
    pub token: String,
    /// The agent's client name at Twilio: calls from the browser come `From=client:<identity>`.
    pub identity: String,
    pub expires_at: DateTime<Utc>,
    /// For `new Twilio.Device(token, {edge})`; absent leaves the choice to the SDK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edge: Option<String>,
    /// Where to load the Voice SDK from.
    pub voice_sdk_url: String,
}

/// Why no token can be minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("browser calling is not set up: set {}", .0.join(", "))]
    NotConfigured(Vec<&'static str>),
    #[error("the token could not be signed: {0}")]
    Signing(String),
}

/// The variables browser calling needs that are not set.
pub fn missing_settings(settings: &Settings) -> Vec<&'static str> {
    let mut missing = Vec::new();
    if settings.twilio.api_key.is_none() {
        missing.extend(["TWILIO_API_KEY", "TWILIO_API_SECRET"]);
    }
    if settings.twilio.twiml_app_sid.is_none() {
        missing.push("TWIML_APP_SID");
    }
    missing
}

/// A token for `agent`, issued at `now`: its identity, a Voice grant for our TwiML App and
/// for incoming calls, and the configured lifetime.
pub fn mint(
    settings: &Settings,
    agent: &Agent,
    now: DateTime<Utc>,
) -> Result<BrowserToken, TokenError> {
    let (Some(key), Some(app)) = (&settings.twilio.api_key, &settings.twilio.twiml_app_sid) else {
        return Err(TokenError::NotConfigured(missing_settings(settings)));
    };
    let identity = ClientIdentity::for_agent(agent.id);
    let ttl_secs = settings.browser.token_ttl.as_secs();
    let iat = now.timestamp();
    let jwt = AccessToken::new(
        settings.twilio.account_sid.as_str(),
        key.sid.as_str(),
        key.secret.clone(),
        identity.as_str(),
    )
    .with_ttl_secs(ttl_secs)
    .with_voice(VoiceGrant {
        incoming_allow: true,
        outgoing_application_sid: Some(app.clone()),
        outgoing_application_params: Default::default(),
    })
    .to_jwt_at(iat)
    .map_err(|e| TokenError::Signing(e.to_string()))?;
    // The token says `exp = iat + ttl` in whole seconds; the answer says the same.
    let expires_at = i64::try_from(ttl_secs)
        .ok()
        .and_then(|ttl| DateTime::from_timestamp(iat + ttl, 0))
        .ok_or_else(|| TokenError::Signing("the expiry is out of range".into()))?;
    Ok(BrowserToken {
        token: jwt,
        identity: identity.to_string(),
        expires_at,
        edge: settings.browser.edge.clone(),
        voice_sdk_url: settings.browser.voice_sdk_url.clone(),
    })
}

/// A Twilio Access Token for the Voice SDK, bound to the agent.
///
/// The token's Voice grant lets the browser call through `TWIML_APP_SID` and receive calls as
/// its identity (`agent_<id>`); it lasts `BROWSER_TOKEN_TTL`.
#[utoipa::path(
    get,
    path = super::TOKEN_PATH,
    tag = crate::http::openapi::BROWSER_TAG,
    security(("callToken" = [])),
    responses(
        (status = 200, description = "The token and what the page needs to use it.", body = SuccessBody<BrowserToken>),
        (status = 503, description = "Browser calling is not configured; the message names the missing settings.", body = ErrorBody),
    )
)]
pub(super) async fn token(
    axum::extract::State(state): axum::extract::State<AppState>,
    AuthAgent(agent): AuthAgent,
) -> Result<Success<BrowserToken>, ApiError> {
    let token = mint(&state.settings, &agent, Utc::now())?;
    Ok(success("Browser token issued", token))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    use super::*;
    use crate::config::RawSettings;
    use crate::domain::{AgentId, CallMode, EmailAddress};

    const SECRET: &str = "an-api-key-secret-for-the-tests-0";

    fn settings(with_key: bool, with_app: bool) -> Settings {
        Settings::from_raw(RawSettings {
            twilio_account_sid: Some("AC00000000000000000000000000000000".into()),
            twilio_auth_token: Some("token".into()),
            twilio_api_key: with_key.then(|| "SK00000000000000000000000000000001".into()),
            twilio_api_secret: with_key.then(|| SECRET.into()),
            twiml_app_sid: with_app.then(|| "AP00000000000000000000000000000002".into()),
            caller_id: Some("+14155550100".into()),
            jwt_secret: Some("an-example-secret-of-at-least-32-bytes".into()),
            browser_token_ttl: Some("2h".into()),
            twilio_edge: Some("dublin".into()),
            ..RawSettings::default()
        })
        .unwrap()
    }

    fn agent() -> Agent {
        let now = Utc::now();
        Agent {
            id: AgentId::new(),
            email: EmailAddress::parse("ada@example.com").unwrap(),
            email_verified_at: Some(now),
            phone: None,
            phone_verified_at: None,
            token_version: 0,
            revoked_at: None,
            record_by_default: false,
            default_mode: CallMode::Browser,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn the_token_is_twilios_for_the_agents_identity_and_our_app() {
        let agent = agent();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let minted = mint(&settings(true, true), &agent, now).unwrap();
        assert_eq!(
            minted.identity,
            ClientIdentity::for_agent(agent.id).as_str()
        );
        assert!(!minted.identity.contains("ada"));
        assert_eq!(minted.expires_at.timestamp(), 1_800_000_000 + 7200);
        assert_eq!(minted.edge.as_deref(), Some("dublin"));

        let header = jsonwebtoken::decode_header(&minted.token).unwrap();
        assert_eq!(header.cty.as_deref(), Some("twilio-fpa;v=1"));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        let claims: serde_json::Value = jsonwebtoken::decode(
            &minted.token,
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["iss"], "SK00000000000000000000000000000001");
        assert_eq!(claims["sub"], "AC00000000000000000000000000000000");
        assert_eq!(claims["exp"], 1_800_000_000_i64 + 7200);
        assert_eq!(claims["grants"]["identity"], minted.identity.as_str());
        assert_eq!(
            claims["grants"]["voice"]["outgoing"]["application_sid"],
            "AP00000000000000000000000000000002"
        );
        assert_eq!(claims["grants"]["voice"]["incoming"]["allow"], true);
    }

    #[test]
    fn without_the_key_or_the_app_the_error_names_what_to_set() {
        let err = mint(&settings(false, true), &agent(), Utc::now()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "browser calling is not set up: set TWILIO_API_KEY, TWILIO_API_SECRET"
        );
        let err = mint(&settings(false, false), &agent(), Utc::now()).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("TWILIO_API_SECRET, TWIML_APP_SID"),
            "{err}"
        );
        assert_eq!(missing_settings(&settings(true, true)), Vec::<&str>::new());
    }
}

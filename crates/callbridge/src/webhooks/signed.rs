//! Only Twilio may call our webhooks: every request must carry the `X-Twilio-Signature` Twilio
//! computes over the URL it requested and the form it posted, keyed with our auth token.

use axum::body::Bytes;
use axum::extract::{FromRequest, OriginalUri, Request};
use secrecy::ExposeSecret;

use crate::domain::{CallId, LegRole};
use crate::http::{ApiError, TWILIO_SIGNATURE_HEADER};
use crate::state::AppState;

/// A webhook's query and form parameters, once its signature checked out. Refused with 403 (in
/// the error envelope, before anything is read or stored) when the signature is missing or wrong.
#[derive(Debug, Clone)]
pub struct SignedForm {
    pub query: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
}

impl FromRequest<AppState> for SignedForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let signature = req
            .headers()
            .get(TWILIO_SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Forbidden("missing X-Twilio-Signature".into()))?;
        // Twilio signed the public URL it was given, whatever proxy or router path we see now.
        let uri = req
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| req.uri().clone(), |original| original.0.clone());
        let path_and_query = uri.path_and_query().map_or("/", |pq| pq.as_str());
        let url = state.settings.public_url(path_and_query);
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
            .map_err(|e| ApiError::BadRequest(format!("the form body is malformed: {e}")))?;
        let auth_token = state.settings.twilio.auth_token.expose_secret();
        if let Err(why) = twilio::signature::check(auth_token, &signature, &url, &params) {
            tracing::warn!(%why, "webhook refused: bad signature");
            return Err(ApiError::Forbidden("invalid X-Twilio-Signature".into()));
        }
        let query = uri
            .query()
            .map(serde_urlencoded::from_str)
            .transpose()
            .map_err(|e| ApiError::BadRequest(format!("the query string is malformed: {e}")))?
            .unwrap_or_default();
        Ok(Self { query, params })
    }
}

fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

impl SignedForm {
    /// A form parameter Twilio sent, if present and not empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        find(&self.params, name)
    }

    pub fn require(&self, name: &str) -> Result<&str, ApiError> {
        self.param(name)
            .ok_or_else(|| ApiError::BadRequest(format!("{name} is missing")))
    }

    /// The call our callback URL names (`?call=<id>`).
    pub fn call_id(&self) -> Result<CallId, ApiError> {
        find(&self.query, "call")
            .ok_or_else(|| ApiError::BadRequest("the URL names no call (?call=…)".into()))?
            .parse()
            .map_err(|_| ApiError::BadRequest("the URL's call id is not valid".into()))
    }

    /// The leg our callback URL names (`&leg=agent|recipient`); the seed's `CallerType` also works.
    pub fn leg(&self) -> Result<Option<LegRole>, ApiError> {
        let Some(raw) = find(&self.query, "leg").or_else(|| find(&self.query, "CallerType")) else {
            return Ok(None);
        };
        raw.to_ascii_lowercase()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("unknown leg {raw:?}")))
    }

    /// Every form parameter, as the JSON payload stored with the event.
    pub fn payload(&self) -> serde_json::Value {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

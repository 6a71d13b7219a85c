//! `GET /setup/me`: whether a call token works, and for whom (a client's check after setup).

use serde_json::{Value, json};

use crate::auth::{AuthAgent, iso_millis};
use crate::http::{Success, success};

pub(super) async fn me(AuthAgent(agent): AuthAgent) -> Success<Value> {
    success(
        "Call token is valid",
        json!({
            "id": agent.id,
            "email": agent.email.as_str(),
            "phone": agent.phone.as_ref().map(|p| p.as_str()),
            "phoneVerifiedAt": agent.phone_verified_at.map(iso_millis),
        }),
    )
}

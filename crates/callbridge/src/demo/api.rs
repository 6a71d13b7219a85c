//! The demo's two HTTP counterparts: callbridge's public API, used exactly as a client would,
//! and the simulator's control API, used as the people on the phones would.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::DemoError;
use super::scenario::{AGENT_EMAIL, AGENT_PHONE};
use crate::calls::view::CallView;

#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    service: String,
    sim: String,
}

impl Api {
    /// `service` and `sim` without a trailing slash.
    pub fn new(service: &str, sim: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            service: service.trim_end_matches('/').to_owned(),
            sim: sim.trim_end_matches('/').to_owned(),
        }
    }

    pub fn service_url(&self, path: &str) -> String {
        format!("{}{path}", self.service)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A `POST` to the service, returning `data` of the success envelope.
    async fn post(
        &self,
        step: &'static str,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Value, DemoError> {
        let mut request = self.http.post(self.service_url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        envelope_data(step, request.send().await).await
    }

    pub async fn get_call(&self, token: &str, id: &str) -> Result<CallView, DemoError> {
        let response = self
            .http
            .get(self.service_url(&format!("/calls/{id}")))
            .bearer_auth(token)
            .send()
            .await;
        let data = envelope_data("read the call", response).await?;
        parse("read the call", data)
    }

    /// Email OTP, then phone OTP, each read from the simulator as the agent would read their
    /// inbox and their texts. Returns the call token.
    pub async fn onboard(&self) -> Result<String, DemoError> {
        self.post(
            "send the email code",
            "/setup/email/init",
            None,
            &json!({"email": AGENT_EMAIL}),
        )
        .await?;
        let code = self.otp("read the email code", AGENT_EMAIL).await?;
        let data = self
            .post(
                "check the email code",
                "/setup/email/validate",
                None,
                &json!({"email": AGENT_EMAIL, "code": code}),
            )
            .await?;
        let setup_token = token_in("check the email code", &data)?;
        self.post(
            "send the phone code",
            "/setup/phone/init",
            None,
            &json!({"token": setup_token, "phone": AGENT_PHONE}),
        )
        .await?;
        let code = self.otp("read the phone code", AGENT_PHONE).await?;
        let data = self
            .post(
                "check the phone code",
                "/setup/phone/validate",
                None,
                &json!({"token": setup_token, "phone": AGENT_PHONE, "code": code}),
            )
            .await?;
        token_in("check the phone code", &data)
    }

    pub async fn start_call(
        &self,
        token: &str,
        recipient: &str,
        record: bool,
    ) -> Result<CallView, DemoError> {
        let data = self
            .post(
                "start the call",
                "/phone-to-phone/start",
                Some(token),
                &json!({"RecipientNumber": recipient, "Record": record}),
            )
            .await?;
        parse("start the call", data)
    }

    pub async fn hangup(&self, token: &str, id: &str) -> Result<(), DemoError> {
        self.post(
            "hang up",
            &format!("/calls/{id}/hangup"),
            Some(token),
            &json!({}),
        )
        .await
        .map(drop)
    }

    /// `GET /browser/token`, as the web app asks for it: the Voice SDK token and the agent's
    /// client identity.
    pub async fn browser_token(&self, token: &str) -> Result<(String, String), DemoError> {
        let step = "get a browser token";
        let response = self
            .http
            .get(self.service_url("/browser/token"))
            .bearer_auth(token)
            .send()
            .await;
        let data = envelope_data(step, response).await?;
        let text = |key: &str| {
            data[key]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| step_error(step, format!("no {key} in {data}")))
        };
        Ok((text("token")?, text("identity")?))
    }

    /// `new Twilio.Device(token)` in the agent's browser, played by the simulator.
    pub async fn open_device(&self, jwt: &str) -> Result<String, DemoError> {
        let step = "open the browser's device";
        let response = self
            .http
            .post(format!("{}/sim/devices", self.sim))
            .json(&json!({"token": jwt, "register": false}))
            .send()
            .await;
        let body: Value = json_body(step, response).await?;
        body["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| step_error(step, format!("no id in {body}")))
    }

    /// `device.connect({params: {To}})`: the browser's call SID.
    pub async fn connect(&self, device: &str, to: &str) -> Result<String, DemoError> {
        let step = "call from the browser";
        let response = self
            .http
            .post(format!("{}/sim/devices/{device}/connect", self.sim))
            .json(&json!({"params": {"To": to}}))
            .send()
            .await;
        let body: Value = json_body(step, response).await?;
        body["call_sid"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| step_error(step, format!("no call_sid in {body}")))
    }

    /// `call.disconnect()` in the browser.
    pub async fn disconnect(&self, device: &str, call_sid: &str) -> Result<(), DemoError> {
        let response = self
            .http
            .post(format!(
                "{}/sim/devices/{device}/calls/{call_sid}/hangup",
                self.sim
            ))
            .send()
            .await;
        json_body::<Value>("hang up in the browser", response)
            .await
            .map(drop)
    }

    /// The agent's newest calls, as the call log lists them.
    pub async fn calls(&self, token: &str) -> Result<Vec<CallView>, DemoError> {
        let response = self
            .http
            .get(self.service_url("/calls"))
            .bearer_auth(token)
            .send()
            .await;
        let mut data = envelope_data("read the call log", response).await?;
        parse("read the call log", data["calls"].take())
    }

    async fn otp(&self, step: &'static str, to: &str) -> Result<String, DemoError> {
        let response = self
            .http
            .get(format!("{}/sim/verifications", self.sim))
            .query(&[("to", to)])
            .send()
            .await;
        let body: Value = json_body(step, response).await?;
        body["code"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| step_error(step, format!("no code in {body}")))
    }

    pub async fn set_number(&self, number: &str, behaviour: &Value) -> Result<(), DemoError> {
        let response = self
            .http
            .put(format!("{}/sim/numbers/{number}", self.sim))
            .json(behaviour)
            .send()
            .await;
        json_body::<Value>("set the phones' behaviour", response)
            .await
            .map(drop)
    }

    /// The simulated call to `number` that is waiting in a `<Gather>`, if there is one yet.
    pub async fn call_in_gather(&self, number: &str) -> Result<Option<String>, DemoError> {
        let response = self
            .http
            .get(format!("{}/sim/calls", self.sim))
            .send()
            .await;
        let body: Value = json_body("look at the phones", response).await?;
        let calls = body["calls"].as_array().cloned().unwrap_or_default();
        Ok(calls
            .iter()
            .rev()
            .find(|c| c["to"] == number && c["in_gather"] == true)
            .and_then(|c| c["sid"].as_str().map(str::to_owned)))
    }

    pub async fn press(&self, call_sid: &str, digits: &str) -> Result<(), DemoError> {
        let response = self
            .http
            .post(format!("{}/sim/calls/{call_sid}/digits", self.sim))
            .form(&[("digits", digits)])
            .send()
            .await;
        json_body::<Value>("press a key", response).await.map(drop)
    }
}

/// A TwiML App at the simulator sending browsers' calls to the service at `service`, as the
/// README says to create one at Twilio. Returns its SID.
pub async fn create_twiml_app(sim: &twilio_sim::Sim, service: &str) -> Result<String, DemoError> {
    let step = "create the TwiML App";
    let url = format!(
        "{}/2010-04-01/Accounts/{}/Applications.json",
        sim.base_url().as_str().trim_end_matches('/'),
        sim.account_sid()
    );
    let response = reqwest::Client::new()
        .post(url)
        .basic_auth(sim.account_sid(), Some(sim.auth_token()))
        .form(&[
            ("FriendlyName", "callbridge demo"),
            ("VoiceUrl", &format!("{service}/browser/voice")),
            ("VoiceMethod", "POST"),
            ("StatusCallback", &format!("{service}/browser/status")),
            ("StatusCallbackMethod", "POST"),
        ])
        .send()
        .await;
    let app: Value = json_body(step, response).await?;
    app["sid"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| step_error(step, format!("no sid in {app}")))
}

fn step_error(step: &'static str, detail: impl Into<String>) -> DemoError {
    DemoError::Step {
        step,
        detail: detail.into(),
    }
}

fn parse<T: DeserializeOwned>(step: &'static str, data: Value) -> Result<T, DemoError> {
    serde_json::from_value(data).map_err(|e| step_error(step, format!("unexpected reply: {e}")))
}

/// The setup endpoints hand their token over as `data.token`.
fn token_in(step: &'static str, data: &Value) -> Result<String, DemoError> {
    data["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| step_error(step, format!("no token in {data}")))
}

async fn json_body<T: DeserializeOwned>(
    step: &'static str,
    response: reqwest::Result<reqwest::Response>,
) -> Result<T, DemoError> {
    let response = response.map_err(|e| step_error(step, e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| step_error(step, e.to_string()))?;
    if !status.is_success() {
        return Err(step_error(step, format!("HTTP {status}: {text}")));
    }
    serde_json::from_str(&text).map_err(|e| step_error(step, format!("{e}: {text}")))
}

async fn envelope_data(
    step: &'static str,
    response: reqwest::Result<reqwest::Response>,
) -> Result<Value, DemoError> {
    let mut body: Value = json_body(step, response).await?;
    if body["status"] != "success" {
        return Err(step_error(step, body.to_string()));
    }
    Ok(body["data"].take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_data_token() {
        assert_eq!(
            token_in("x", &json!({"token": "abc", "email": "a@b.c"})).unwrap(),
            "abc"
        );
        let err = token_in("check the phone code", &json!({"email": "a@b.c"})).unwrap_err();
        assert!(err.to_string().contains("check the phone code"), "{err}");
    }
}

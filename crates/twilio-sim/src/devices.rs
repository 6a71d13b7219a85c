//! Browser devices, as the Voice SDK would be one: registered with an Access Token to receive calls
//! to `client:<identity>`, and placing calls to the TwiML App their token names. Tests play the
//! browser through the control API (`/sim/devices`) or the [`crate::Sim`] methods.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::engine::{self, NewCall, Signal, Start, TwimlSource};
use crate::model::Model;
use crate::state::Shared;
use crate::token::{self, Grant, TokenError};

/// Why the simulator refused a device's request, with the Voice SDK's error code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{code}: {message}")]
pub struct DeviceError {
    /// The Voice SDK's code (20101, 20104, 31204, 31205, 31001, …); 0 when the request names no
    /// such device or call, or the call is not in a state that allows it.
    pub code: u32,
    /// What was wrong.
    pub message: String,
    /// The call is not in a state that allows the action.
    #[serde(skip)]
    pub(crate) conflict: bool,
}

impl From<TokenError> for DeviceError {
    fn from(e: TokenError) -> Self {
        Self {
            code: e.code,
            message: e.message,
            conflict: false,
        }
    }
}

impl DeviceError {
    fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            conflict: false,
        }
    }

    /// Neither a device nor a call of it: not a Voice SDK error, so no Voice SDK code.
    fn unknown(what: impl Into<String>) -> Self {
        Self::new(0, what)
    }
}

/// Something that happened to a device, for tests to wait on (`Sim::subscribe_devices`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceEvent {
    /// RFC 3339 time of the event.
    pub at: String,
    /// The device's id.
    pub device: String,
    /// Its token's identity.
    pub identity: String,
    /// registered | created | unregistered | incoming | accepted | rejected | canceled |
    /// connected | ended | error | token-updated
    pub event: String,
    /// The call concerned, if any.
    pub call_sid: Option<String>,
    /// The Voice SDK error code the device would see (31205 when its token expired).
    pub code: Option<u32>,
}

/// A device as the control API lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    /// The simulator's id for it.
    pub id: String,
    /// The token's `grants.identity`.
    pub identity: String,
    /// RFC 3339 time of registration.
    pub registered_at: String,
    /// Whether it receives calls to `client:<identity>`; a device created without registering can
    /// only place calls.
    pub registered: bool,
}

/// A call of a device, incoming or placed by it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeviceCall {
    /// The call's SID.
    pub call_sid: String,
    /// incoming | outgoing
    pub direction: String,
    /// Who calls: a phone number, or `client:<identity>`.
    pub from: String,
    /// Who is called.
    pub to: String,
    /// The call's custom parameters (`<Parameter>`, `client:…?k=v`, or those given to connect).
    pub params: BTreeMap<String, String>,
    /// ringing | accepted | rejected | canceled | connected | ended
    pub status: String,
}

#[derive(Clone, Debug)]
pub(crate) struct DeviceRec {
    pub(crate) id: String,
    pub(crate) registered: bool,
    pub(crate) registered_at: DateTime<Utc>,
    pub(crate) grant: Grant,
    /// The JWT itself: what a browser page must present to act as this device.
    pub(crate) token: String,
    pub(crate) calls: Vec<DeviceCall>,
}

impl DeviceRec {
    fn view(&self) -> Device {
        Device {
            id: self.id.clone(),
            identity: self.grant.identity.clone(),
            registered_at: self
                .registered_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            registered: self.registered,
        }
    }
}

fn event(shared: &Shared, d: &DeviceRec, what: &str, call_sid: Option<&str>, code: Option<u32>) {
    tracing::info!(target: "twilio_sim::device", "{} ({}) {what} {}", d.id, d.grant.identity, call_sid.unwrap_or(""));
    let _ = shared.device_events.send(DeviceEvent {
        at: shared.now_rfc3339(),
        device: d.id.clone(),
        identity: d.grant.identity.clone(),
        event: what.to_owned(),
        call_sid: call_sid.map(str::to_owned),
        code,
    });
}

fn now_unix(shared: &Shared) -> i64 {
    shared.clock.now().timestamp()
}

fn check(shared: &Shared, jwt: &str) -> Result<Grant, TokenError> {
    token::verify(jwt, &shared.config.account_sid, now_unix(shared), |k| {
        shared.key_secret(k)
    })
}

/// Checks the token and creates the device; `register` asks to receive calls, which needs
/// `incoming.allow`.
pub(crate) fn register(shared: &Shared, jwt: &str, register: bool) -> Result<Device, DeviceError> {
    let grant = check(shared, jwt)?;
    if register {
        token::require_incoming(&grant)?;
    }
    let d = DeviceRec {
        id: crate::sid::new_sid("DV"),
        registered: register,
        registered_at: shared.clock.now(),
        grant,
        token: jwt.to_owned(),
        calls: Vec::new(),
    };
    let view = d.view();
    event(
        shared,
        &d,
        if register { "registered" } else { "created" },
        None,
        None,
    );
    let mut model = shared.model();
    model.device_order.push(d.id.clone());
    model.devices.insert(d.id.clone(), d);
    Ok(view)
}

/// Removes the device; calls ringing on it stop ringing there.
pub(crate) fn unregister(shared: &Shared, id: &str) -> bool {
    let mut model = shared.model();
    let Some(d) = model.devices.remove(id) else {
        return false;
    };
    model.device_order.retain(|i| i != id);
    for c in d.calls.iter().filter(|c| c.status == "ringing") {
        if let Some(call) = model.calls.get(&c.call_sid) {
            let _ = call.signals.send(Signal::Reject(id.to_owned()));
        }
    }
    event(shared, &d, "unregistered", None, None);
    true
}

/// Starts (`on`) or stops receiving calls to `client:<identity>`, keeping the device for the calls
/// it places, as the SDK's `register()` and `unregister()` do.
pub(crate) fn set_registered(shared: &Shared, id: &str, on: bool) -> Result<Device, DeviceError> {
    let mut model = shared.model();
    let d = model
        .devices
        .get_mut(id)
        .ok_or_else(|| DeviceError::unknown(format!("no device {id}")))?;
    if on {
        if d.grant.exp <= now_unix(shared) {
            return Err(token::expired_while_registered(d.grant.exp).into());
        }
        token::require_incoming(&d.grant)?;
        d.registered_at = shared.clock.now();
    }
    d.registered = on;
    event(
        shared,
        d,
        if on { "registered" } else { "unregistered" },
        None,
        None,
    );
    Ok(d.view())
}

/// Gives the device a fresh token (the SDK's `updateToken`); it must name the same identity.
pub(crate) fn update_token(shared: &Shared, id: &str, jwt: &str) -> Result<Device, DeviceError> {
    let grant = check(shared, jwt)?;
    let mut model = shared.model();
    let d = model
        .devices
        .get_mut(id)
        .ok_or_else(|| DeviceError::unknown(format!("no device {id}")))?;
    if grant.identity != d.grant.identity {
        return Err(DeviceError::new(
            20101,
            format!(
                "Invalid Access Token: identity {:?} is not the device's {:?}",
                grant.identity, d.grant.identity
            ),
        ));
    }
    d.grant = grant;
    d.token = jwt.to_owned();
    event(shared, d, "token-updated", None, None);
    Ok(d.view())
}

/// Whether `jwt` is the token the device currently holds: the proof a browser page gives that it
/// is this device, since the control API itself has no auth.
pub(crate) fn holds_token(shared: &Shared, id: &str, jwt: &str) -> Result<(), DeviceError> {
    let model = shared.model();
    let d = model
        .devices
        .get(id)
        .ok_or_else(|| DeviceError::unknown(format!("no device {id}")))?;
    if d.token == jwt {
        Ok(())
    } else {
        Err(DeviceError::new(
            20101,
            format!("Invalid Access Token: not the token of device {id}"),
        ))
    }
}

/// Seconds until the device's token expires (negative once it has), by the simulator's clock.
pub(crate) fn token_ttl(shared: &Shared, id: &str) -> Option<i64> {
    let model = shared.model();
    model
        .devices
        .get(id)
        .map(|d| d.grant.exp - now_unix(shared))
}

/// The signaling's word to a device whose token has just run out: 31205, and no more calls to its
/// identity until it registers again with a new token.
pub(crate) fn expire(shared: &Shared, id: &str) {
    let mut model = shared.model();
    let Some(d) = model.devices.get_mut(id) else {
        return;
    };
    if d.grant.exp > now_unix(shared) {
        return;
    }
    let code = token::expired_while_registered(d.grant.exp).code;
    let what = if d.registered {
        "unregistered"
    } else {
        "error"
    };
    d.registered = false;
    event(shared, d, what, None, Some(code));
}

pub(crate) fn list(shared: &Shared) -> Vec<Device> {
    let model = shared.model();
    model
        .device_order
        .iter()
        .filter_map(|id| model.devices.get(id))
        .map(DeviceRec::view)
        .collect()
}

pub(crate) fn get(shared: &Shared, id: &str) -> Option<(Device, Vec<DeviceCall>)> {
    let model = shared.model();
    model.devices.get(id).map(|d| (d.view(), d.calls.clone()))
}

/// Places the device's outgoing call: an inbound call from `client:<identity>` to its token's TwiML
/// App, whose VoiceUrl is asked with the call's parameters, the token's outgoing params and
/// `params` (the SDK's `connect({params})`). `params.To` becomes the call's `To`.
pub(crate) fn connect(
    shared: &Arc<Shared>,
    id: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, DeviceError> {
    let mut model = shared.model();
    let d = model
        .devices
        .get(id)
        .ok_or_else(|| DeviceError::unknown(format!("no device {id}")))?;
    if d.grant.exp <= now_unix(shared) {
        let e = token::expired_while_registered(d.grant.exp);
        event(shared, d, "error", None, Some(e.code));
        return Err(e.into());
    }
    let app_sid = token::require_outgoing(&d.grant)?.to_owned();
    let app = model.applications.get(&app_sid).cloned().ok_or_else(|| {
        DeviceError::new(31001, format!("TwiML application not found: {app_sid}"))
    })?;
    let from = format!("client:{}", d.grant.identity);
    let to = params.get("To").cloned().unwrap_or_default();
    let mut extra = vec![("ApplicationSid".to_owned(), app_sid)];
    let mut custom: BTreeMap<String, String> = d.grant.outgoing_params.clone();
    custom.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
    extra.extend(
        custom
            .iter()
            .filter(|(k, _)| *k != "To")
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    let spec = NewCall {
        from: from.clone(),
        to: to.clone(),
        parent: None,
        direction: "inbound",
        status_callback: app
            .status_callback
            .clone()
            .map(|url| engine::twiml::Callback {
                url,
                method: app.status_callback_method.clone(),
                events: vec!["completed".to_owned()],
            }),
        timeout_s: 60,
        amd: None,
        fallback: app
            .voice_fallback_url
            .clone()
            .map(|u| (u, app.voice_fallback_method.clone())),
        record: None,
        client_params: Vec::new(),
        start: Start::Twiml(TwimlSource::Fetch {
            url: app.voice_url.clone().unwrap_or_default(),
            method: app.voice_method,
            extra,
            kind: "twiml",
        }),
    };
    let sid = engine::place_call(shared, &mut model, spec);
    if let Some(d) = model.devices.get_mut(id) {
        d.calls.push(DeviceCall {
            call_sid: sid.clone(),
            direction: "outgoing".to_owned(),
            from,
            to,
            params: custom,
            status: "connected".to_owned(),
        });
        event(shared, d, "connected", Some(&sid), None);
    }
    Ok(sid)
}

/// Tells a call what a device did with it (accept, reject, hang up, press keys).
pub(crate) fn act(
    shared: &Shared,
    id: &str,
    call_sid: &str,
    signal: Signal,
) -> Result<DeviceCall, DeviceError> {
    let model = shared.model();
    let d = model
        .devices
        .get(id)
        .ok_or_else(|| DeviceError::unknown(format!("no device {id}")))?;
    let c = d
        .calls
        .iter()
        .find(|c| c.call_sid == call_sid)
        .ok_or_else(|| DeviceError::unknown(format!("device {id} has no call {call_sid}")))?;
    let allowed = match &signal {
        Signal::Accept(_) | Signal::Reject(_) => c.status == "ringing",
        Signal::Digits(_) => matches!(c.status.as_str(), "accepted" | "connected"),
        _ => matches!(c.status.as_str(), "ringing" | "accepted" | "connected"),
    };
    if !allowed {
        return Err(DeviceError {
            conflict: true,
            ..DeviceError::unknown(format!("call {call_sid} is {} on device {id}", c.status))
        });
    }
    let signal = match signal {
        Signal::Hangup if c.status == "ringing" => Signal::Reject(id.to_owned()),
        other => other,
    };
    if let Some(call) = model.calls.get(call_sid) {
        let _ = call.signals.send(signal);
    }
    Ok(c.clone())
}

// ---- from the call engine ----

/// Rings every registered device of `identity` for the call, skipping (and unregistering) those
/// whose token has expired, as the signaling would. Returns the devices rung.
pub(crate) fn ring(
    shared: &Shared,
    model: &mut Model,
    call_sid: &str,
    identity: &str,
    params: &[(String, String)],
) -> Vec<String> {
    let now = now_unix(shared);
    let from = model
        .calls
        .get(call_sid)
        .map(|c| c.from.clone())
        .unwrap_or_default();
    let mut rung = Vec::new();
    let ids: Vec<String> = model.device_order.clone();
    for id in ids {
        let Some(d) = model.devices.get_mut(&id) else {
            continue;
        };
        if !d.registered || d.grant.identity != identity {
            continue;
        }
        if d.grant.exp <= now {
            d.registered = false;
            let code = token::expired_while_registered(d.grant.exp).code;
            event(shared, d, "unregistered", None, Some(code));
            continue;
        }
        d.calls.push(DeviceCall {
            call_sid: call_sid.to_owned(),
            direction: "incoming".to_owned(),
            from: from.clone(),
            to: format!("client:{identity}"),
            params: params.iter().cloned().collect(),
            status: "ringing".to_owned(),
        });
        event(shared, d, "incoming", Some(call_sid), None);
        rung.push(id);
    }
    rung
}

/// Moves a device's call to `status`, telling the device.
pub(crate) fn set_status(
    shared: &Shared,
    model: &mut Model,
    id: &str,
    call_sid: &str,
    status: &str,
) {
    let Some(d) = model.devices.get_mut(id) else {
        return;
    };
    if let Some(c) = d.calls.iter_mut().find(|c| c.call_sid == call_sid) {
        c.status = status.to_owned();
    }
    event(shared, d, status, Some(call_sid), None);
}

/// The call is over: whatever still rang is canceled, whatever was up has ended.
pub(crate) fn call_over(shared: &Shared, model: &mut Model, call_sid: &str) {
    let ids: Vec<String> = model.device_order.clone();
    for id in ids {
        let Some(d) = model.devices.get_mut(&id) else {
            continue;
        };
        let Some(c) = d.calls.iter_mut().find(|c| c.call_sid == call_sid) else {
            continue;
        };
        let next = match c.status.as_str() {
            "ringing" => "canceled",
            "accepted" | "connected" => "ended",
            _ => continue,
        };
        c.status = next.to_owned();
        event(shared, d, next, Some(call_sid), None);
    }
}

//! An offline Twilio for tests and demos.
//!
//! [`Sim`] serves the subset of Twilio's REST API that callbridge uses (Calls, Conferences,
//! Participants, Recordings, IncomingPhoneNumbers, Applications, Keys, Verify v2 Services and
//! Verifications, Sync v1 Services and Documents) with Twilio's paths, auth, JSON shapes and error
//! bodies; places simulated calls that ring, answer (or not) per the called number's
//! [`NumberBehaviour`], execute TwiML and send signed webhooks; plays
//! browser devices that register with Access Tokens, place calls to their TwiML App and receive
//! calls to `client:<identity>`, whether driven by tests or by web pages through the simulated
//! Voice SDK it serves at `/sim/voice-sdk.js`; and offers a control API under `/sim/`.
#![forbid(unsafe_code)]

mod clock;
mod config;
mod control;
mod devices;
mod engine;
mod fault;
mod model;
mod people;
mod rest;
mod sdk;
mod sid;
mod state;
mod token;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;
use url::Url;

pub use config::{
    Answer, AnsweredBy, DEFAULT_ACCOUNT_SID, DEFAULT_API_KEY_SECRET, DEFAULT_API_KEY_SID,
    DEFAULT_AUTH_TOKEN, DEFAULT_WEBHOOK_LOG_LIMIT, NumberBehaviour, SimConfig,
};
pub use devices::{Device, DeviceCall, DeviceError, DeviceEvent};
pub use fault::{CallsCreateFault, FaultError};
pub use state::SimEvent;

use state::Shared;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Binding or reading the listener failed.
    #[error("simulator listener: {0}")]
    Io(#[from] std::io::Error),
    /// The configuration cannot work.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
}

/// A running simulator. Dropping it leaves the server running until the runtime ends; call
/// [`Sim::shutdown`] to stop it.
#[derive(Debug)]
pub struct Sim {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl Sim {
    /// Starts a simulator on `127.0.0.1` and a free port.
    pub async fn start(config: SimConfig) -> Result<Sim, Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Self::serve(config, listener).await
    }

    /// Starts a simulator on a listener the caller bound.
    pub async fn serve(config: SimConfig, listener: TcpListener) -> Result<Sim, Error> {
        validate(&config)?;
        let mut addr: SocketAddr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let base_url =
            Url::parse(&format!("http://{addr}/")).map_err(|e| Error::Config(e.to_string()))?;
        let (stop, stopped) = watch::channel(false);
        let shared =
            Arc::new_cyclic(|me| Shared::new(config, base_url, me.clone(), stopped.clone()));
        let app = Router::new()
            // The people's page, at the control API's own root.
            .route("/sim/", axum::routing::get(people::page))
            .nest("/sim", control::router())
            .fallback(rest::handle)
            .with_state(Arc::clone(&shared));
        let mut until = stopped;
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = until.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::error!(target: "twilio_sim", "server stopped: {e}");
            }
        });
        tracing::info!(target: "twilio_sim", "simulated Twilio at {} (account {})", shared.base_url, shared.config.account_sid);
        Ok(Sim {
            shared,
            stop,
            server,
        })
    }

    /// Where every Twilio product is served (`…/2010-04-01/…`, `…/v2/…`, `…/v1/…`, `…/sim/…`).
    pub fn base_url(&self) -> Url {
        self.shared.base_url.clone()
    }

    /// The account SID REST requests must use.
    pub fn account_sid(&self) -> &str {
        &self.shared.config.account_sid
    }

    /// The auth token REST requests use and webhooks are signed with.
    pub fn auth_token(&self) -> &str {
        &self.shared.config.auth_token
    }

    /// Live call, conference, webhook and verification events.
    pub fn subscribe(&self) -> broadcast::Receiver<SimEvent> {
        self.shared.events.subscribe()
    }

    /// What happens to browser devices: registrations, calls ringing, answered, declined, ended.
    /// A feed of its own, apart from [`Sim::subscribe`]: a new [`SimEvent`] variant would break
    /// every exhaustive match on it.
    pub fn subscribe_devices(&self) -> broadcast::Receiver<DeviceEvent> {
        self.shared.device_events.subscribe()
    }

    /// Sets how a number behaves for calls placed from now on (same as `PUT /sim/numbers/{e164}`).
    pub fn set_number(&self, e164: &str, behaviour: NumberBehaviour) {
        self.shared
            .model()
            .numbers
            .insert(e164.to_owned(), behaviour);
    }

    /// Makes `Calls.create` slow or failing from now on (same as `PUT /sim/faults/calls-create`);
    /// [`CallsCreateFault::default`] makes it healthy again.
    pub fn set_calls_create_fault(&self, fault: CallsCreateFault) {
        self.shared.set_calls_create_fault(fault);
    }

    /// Moves the simulator's wall clock forward (Verify code expiry, Sync TTLs) without waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.shared
            .clock
            .advance(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }

    /// Registers a browser device for incoming calls to its token's identity (same as
    /// `POST /sim/devices`); the token is checked as Twilio checks it.
    pub fn register_device(&self, token: &str) -> Result<Device, DeviceError> {
        devices::register(&self.shared, token, true)
    }

    /// A device that only places calls (a Voice SDK device that never registers).
    pub fn create_device(&self, token: &str) -> Result<Device, DeviceError> {
        devices::register(&self.shared, token, false)
    }

    /// Unregisters and forgets a device; `false` if there was none.
    pub fn unregister_device(&self, id: &str) -> bool {
        devices::unregister(&self.shared, id)
    }

    /// Every device, oldest first.
    pub fn devices(&self) -> Vec<Device> {
        devices::list(&self.shared)
    }

    /// A device's calls, incoming and outgoing, oldest first.
    pub fn device_calls(&self, id: &str) -> Option<Vec<DeviceCall>> {
        devices::get(&self.shared, id).map(|(_, calls)| calls)
    }

    /// The device calls its token's TwiML App with custom `params` (the SDK's `connect`); returns
    /// the call's SID.
    pub fn connect_device(&self, id: &str, params: &[(&str, &str)]) -> Result<String, DeviceError> {
        let params = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        devices::connect(&self.shared, id, &params)
    }

    /// The device answers a call ringing on it.
    pub fn accept_call(&self, id: &str, call_sid: &str) -> Result<(), DeviceError> {
        devices::act(
            &self.shared,
            id,
            call_sid,
            engine::Signal::Accept(id.to_owned()),
        )
        .map(drop)
    }

    /// The device declines a call ringing on it.
    pub fn reject_call(&self, id: &str, call_sid: &str) -> Result<(), DeviceError> {
        devices::act(
            &self.shared,
            id,
            call_sid,
            engine::Signal::Reject(id.to_owned()),
        )
        .map(drop)
    }

    /// The device's user presses keys during a call.
    pub fn device_digits(&self, id: &str, call_sid: &str, digits: &str) -> Result<(), DeviceError> {
        devices::act(
            &self.shared,
            id,
            call_sid,
            engine::Signal::Digits(digits.to_owned()),
        )
        .map(drop)
    }

    /// The device hangs up (or, while it rings, the call is declined there).
    pub fn device_hangup(&self, id: &str, call_sid: &str) -> Result<(), DeviceError> {
        devices::act(&self.shared, id, call_sid, engine::Signal::Hangup).map(drop)
    }

    /// Stops the server and every simulated call.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(2), &mut server)
            .await
            .is_err()
        {
            server.abort();
        }
    }
}

fn validate(config: &SimConfig) -> Result<(), Error> {
    if !config.account_sid.starts_with("AC") || config.account_sid.len() != 34 {
        return Err(Error::Config(format!(
            "account SID {:?} is not AC followed by 32 hex digits",
            config.account_sid
        )));
    }
    if config.auth_token.is_empty() {
        return Err(Error::Config("auth token is empty".to_owned()));
    }
    if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
        return Err(Error::Config(format!(
            "time_scale must be positive, not {}",
            config.time_scale
        )));
    }
    if let Some(cps) = config.calls_per_second
        && !(cps.is_finite() && cps > 0.0)
    {
        return Err(Error::Config(format!(
            "calls_per_second must be positive, not {cps}"
        )));
    }
    if !(0.0..=1.0).contains(&config.webhook_duplicate_rate) {
        return Err(Error::Config(
            "webhook_duplicate_rate must be within 0..=1".to_owned(),
        ));
    }
    if !(0.0..=1.0).contains(&config.webhook_reorder_rate) {
        return Err(Error::Config(
            "webhook_reorder_rate must be within 0..=1".to_owned(),
        ));
    }
    Ok(())
}

//! Calls: starting one and driving it through its flow, the JSON view of a call, the call log,
//! its live stream and hangup. The use cases take typed inputs and answer with [`CallError`];
//! `http` holds the routes that read requests into them.

pub(crate) mod advance;
pub(crate) mod agent_leg;
pub(crate) mod browser;
pub(crate) mod callback;
pub(crate) mod control;
pub(crate) mod effects;
mod error;
pub(crate) mod flow;
pub(crate) mod gather;
mod hangup;
pub(crate) mod http;
pub mod live;
mod live_relay;
pub(crate) mod lookup;
pub use live_relay::run as run_live_relay;
pub(crate) mod outcome;
pub(crate) mod progress;
pub(crate) mod reconcile;
pub mod start;
mod starting;
pub(crate) mod twiml;
pub mod view;

pub use error::CallError;
pub use http::router;

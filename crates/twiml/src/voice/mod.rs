//! The verbs and nouns of TwiML Voice that callbridge uses.

mod client;
mod conference;
mod dial;
mod gather;
mod hangup;
mod number;
mod pause;
mod play;
mod record;
mod redirect;
mod reject;
mod say;

pub use client::Client;
pub use conference::Conference;
pub use dial::{Dial, DialNoun};
pub use gather::{Gather, GatherChild};
pub use hangup::Hangup;
pub use number::Number;
pub use pause::Pause;
pub use play::Play;
pub use record::Record;
pub use redirect::Redirect;
pub use reject::Reject;
pub use say::Say;

/// The whole document for one verb, as the snapshot tests show it.
#[cfg(test)]
pub(crate) fn render(verb: impl Into<crate::Verb>) -> String {
    crate::Response::new().push(verb).to_xml().unwrap()
}

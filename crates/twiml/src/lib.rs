//! Typed TwiML for Twilio Voice: build a [`Response`] from typed verbs and render it as the XML
//! Twilio's helper libraries write, with every user-supplied string escaped.
//!
//! ```
//! use twiml::{Conference, ConferenceEvent, Dial, Method, Response};
//!
//! let xml = Response::new()
//!     .dial(
//!         Dial::new().conference(
//!             Conference::new("cb-42")
//!                 .start_conference_on_enter(true)
//!                 .end_conference_on_exit(true)
//!                 .status_callback("https://example.com/status?call=42&leg=agent")
//!                 .status_callback_method(Method::Post)
//!                 .status_callback_event([ConferenceEvent::Start, ConferenceEvent::End]),
//!         ),
//!     )
//!     .to_xml()?;
//! assert_eq!(
//!     xml,
//!     r#"<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Conference startConferenceOnEnter="true" endConferenceOnExit="true" statusCallback="https://example.com/status?call=42&amp;leg=agent" statusCallbackMethod="POST" statusCallbackEvent="start end">cb-42</Conference></Dial></Response>"#
//! );
//! # Ok::<(), twiml::Error>(())
//! ```
//!
//! Output rules, chosen to match `twilio-node`'s `VoiceResponse.toString()`:
//! - one line, starting with `<?xml version="1.0" encoding="UTF-8"?>`;
//! - attributes in the order their setters were first called (setting one again replaces the value
//!   in place), lowerCamelCase names, booleans as `true`/`false`, lists space-separated;
//! - an element with neither text nor children is self-closed (`<Hangup/>`);
//! - `& < > " '` are escaped in text and attributes alike, and so are the whitespace characters an
//!   XML parser would otherwise normalise away (`\r` everywhere; `\t` and `\n` in attributes), so
//!   any string a parser reads back is exactly the string that was set. Characters XML 1.0 cannot
//!   carry at all (most C0 controls, U+FFFE, U+FFFF) make [`Response::to_xml`] fail instead of
//!   producing a document Twilio would reject.
//!
//! [`xml::equivalent`] compares two documents as trees, for tests that hold our TwiML against
//! another implementation's.
#![forbid(unsafe_code)]

#[macro_use]
mod attrs;
mod error;
mod escape;
mod response;
mod values;
mod voice;
mod writer;
pub mod xml;

pub use error::{Error, Place};
pub use response::{Response, Verb};
pub use values::{
    Beep, CallEvent, ConferenceEvent, ConferenceRecord, DialRecord, GatherInput, JitterBufferSize,
    Method, RecordingEvent, Region, RejectReason, SpeechTimeout, Trim,
};
pub use voice::{
    Client, Conference, Dial, DialNoun, Gather, GatherChild, Hangup, Number, Pause, Play, Record,
    Redirect, Reject, Say,
};

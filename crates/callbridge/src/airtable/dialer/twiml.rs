//! The TwiML of a session: the agent's room, a customer's wait while detection listens, and what
//! a customer hears next (the agent, a voicemail message, a short apology). Every callback URL
//! names the session (and the record), since Twilio names neither.

use twiml::{Conference, Dial, Pause, Play, Response, Say};

use super::settings::Voicemail;
use crate::config::Settings;

pub const AGENT_STATUS_PATH: &str = "/airtable/dialer/agent-status";
pub const CUSTOMER_STATUS_PATH: &str = "/airtable/dialer/customer-status";
pub const DETECTION_PATH: &str = "/airtable/dialer/detection";

const WELCOME: &str = "You are in the campaign session. Customers are connected as they answer.";
const APOLOGY: &str = "Sorry, nobody is free to take your call right now. We will call you back.";
/// Seconds a customer waits in silence for detection's verdict, past Twilio's longest.
const DETECTION_WAIT_SECS: u32 = 60;

/// Where one of the dialer's webhooks lives, for this session (and record).
pub fn session_url(settings: &Settings, path: &str, session: &str, item: Option<&str>) -> String {
    let query = match item {
        Some(item) => format!("session={session}&item={item}"),
        None => format!("session={session}"),
    };
    settings.public_url(&format!("{path}?{query}"))
}

/// The agent's TwiML: into the session's conference, which goes on between customers. Without
/// its agent it ends, so no customer is ever left alone in it.
pub fn agent_room(conference: &str) -> Result<String, twiml::Error> {
    let room = Conference::new(conference)
        .start_conference_on_enter(true)
        .end_conference_on_exit(true)
        .beep(twiml::Beep::False);
    Response::new()
        .say(Say::new(WELCOME))
        .dial(Dial::new().conference(room))
        .to_xml()
}

/// A customer who answered, while detection decides; replaced as soon as it has.
pub fn awaiting_detection() -> Result<String, twiml::Error> {
    Response::new()
        .pause(Pause::new().length(DETECTION_WAIT_SECS))
        .hangup()
        .to_xml()
}

/// A person, joined to the agent. Their leaving does not end the agent's room.
pub fn to_agent(conference: &str) -> Result<String, twiml::Error> {
    let room = Conference::new(conference)
        .start_conference_on_enter(true)
        .end_conference_on_exit(false)
        .beep(twiml::Beep::False);
    Response::new().dial(Dial::new().conference(room)).to_xml()
}

/// An answering machine, after its beep: the campaign's message.
pub fn voicemail(message: &Voicemail) -> Result<String, twiml::Error> {
    let response = match message {
        Voicemail::Say(text) => Response::new().say(Say::new(text.as_str())),
        Voicemail::Play(url) => Response::new().play(Play::new(url.as_str())),
    };
    response.hangup().to_xml()
}

/// A person who answered when their agent was gone.
pub fn apology() -> Result<String, twiml::Error> {
    Response::new().say(Say::new(APOLOGY)).hangup().to_xml()
}

pub fn hang_up() -> Result<String, twiml::Error> {
    Response::new().hangup().to_xml()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agent_stays_in_the_room_and_customers_come_and_go() {
        let agent = agent_room("cb-s-1").unwrap();
        assert!(
            agent.contains(r#"startConferenceOnEnter="true""#),
            "{agent}"
        );
        assert!(agent.contains(r#"endConferenceOnExit="true""#), "{agent}");
        assert!(agent.contains(r#"beep="false""#), "{agent}");
        let customer = to_agent("cb-s-1").unwrap();
        assert!(
            customer.contains(r#"endConferenceOnExit="false""#),
            "{customer}"
        );
        assert!(customer.contains(">cb-s-1</Conference>"), "{customer}");
    }

    #[test]
    fn a_machine_hears_the_message_then_the_call_ends() {
        let said = voicemail(&Voicemail::Say("Call us <back> & soon".into())).unwrap();
        assert!(
            said.ends_with("<Say>Call us &lt;back&gt; &amp; soon</Say><Hangup/></Response>"),
            "{said}"
        );
        let played = voicemail(&Voicemail::Play("https://example.com/vm.mp3".into())).unwrap();
        assert!(
            played.contains("<Play>https://example.com/vm.mp3</Play><Hangup/>"),
            "{played}"
        );
    }
}

use crate::{
    CallEvent, Error, Method,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Number>` inside `<Dial>`: a phone number to ring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Number {
    number: String,
    attrs: Attrs,
}

impl Number {
    /// Rings `number` (E.164, e.g. `+15558675310`).
    pub fn new(number: impl Into<String>) -> Self {
        Self {
            number: number.into(),
            attrs: Attrs::default(),
        }
    }

    /// The number rung.
    pub fn number(&self) -> &str {
        &self.number
    }

    attribute_setters! {
        /// URL told about this leg's progress.
        status_callback: text = "statusCallback";
        /// Which progress events are reported.
        status_callback_event: list<CallEvent> = "statusCallbackEvent";
        /// Method for `statusCallback`.
        status_callback_method: value<Method> = "statusCallbackMethod";
        /// DTMF tones sent once the number answers (`w` waits half a second).
        send_digits: text = "sendDigits";
        /// TwiML played to the called party before the call is bridged.
        url: text = "url";
        /// Method for `url`.
        method: value<Method> = "method";
    }
}

impl WriteXml for Number {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Number", &self.attrs, &self.number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dial, voice::render};

    #[test]
    fn number_with_every_attribute() {
        insta::assert_snapshot!(render(
            Dial::new().number(
                Number::new("+15558675310")
                    .status_callback("https://example.com/status?leg=recipient&call=1")
                    .status_callback_event(CallEvent::ALL.iter().copied())
                    .status_callback_method(Method::Post)
                    .send_digits("ww1234")
                    .url("https://example.com/whisper")
                    .method(Method::Get)
            )
        ));
    }
}

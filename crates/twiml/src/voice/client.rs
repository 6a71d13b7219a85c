use crate::{
    CallEvent, Error, Method,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Client>` inside `<Dial>`: a Voice SDK client (a browser agent) to ring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Client {
    identity: String,
    parameters: Vec<Parameter>,
    attrs: Attrs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Parameter {
    attrs: Attrs,
}

impl Client {
    /// Rings the client registered as `identity`.
    pub fn new(identity: impl Into<String>) -> Self {
        Self {
            identity: identity.into(),
            parameters: Vec::new(),
            attrs: Attrs::default(),
        }
    }

    /// The identity rung.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Adds a `<Parameter name value/>` the client receives with the incoming call. With any
    /// parameter the identity moves into an `<Identity>` child, as Twilio requires.
    #[must_use]
    pub fn parameter(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let mut attrs = Attrs::default();
        attrs.set("name", name.into());
        attrs.set("value", value.into());
        self.parameters.push(Parameter { attrs });
        self
    }

    attribute_setters! {
        /// TwiML played to the client before the call is bridged.
        url: text = "url";
        /// Method for `url`.
        method: value<Method> = "method";
        /// URL told about this leg's progress.
        status_callback: text = "statusCallback";
        /// Which progress events are reported.
        status_callback_event: list<CallEvent> = "statusCallbackEvent";
        /// Method for `statusCallback`.
        status_callback_method: value<Method> = "statusCallbackMethod";
    }
}

impl WriteXml for Parameter {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Parameter", &self.attrs, "")
    }
}

impl WriteXml for Client {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.element("Client", &self.attrs, |w| {
            if self.parameters.is_empty() {
                return w.text("Client", &self.identity);
            }
            w.leaf("Identity", &Attrs::default(), &self.identity)?;
            w.children(&self.parameters)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dial, voice::render};

    #[test]
    fn client_identity_as_text() {
        insta::assert_snapshot!(render(
            Dial::new().client(
                Client::new("agent-7")
                    .status_callback("https://example.com/status")
                    .status_callback_event([CallEvent::Answered, CallEvent::Completed])
                    .status_callback_method(Method::Post)
            )
        ));
    }

    #[test]
    fn client_with_parameters_uses_an_identity_child() {
        insta::assert_snapshot!(render(
            Dial::new().client(
                Client::new("agent-7")
                    .url("https://example.com/whisper")
                    .method(Method::Post)
                    .parameter("callId", "42")
                    .parameter("label", "Tuvok & Spock")
            )
        ));
    }
}

use crate::{
    Error, Method,
    attrs::Attrs,
    writer::{WriteXml, XmlWriter},
};

/// `<Redirect>`: continues the call with the TwiML at another URL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redirect {
    url: String,
    attrs: Attrs,
}

impl Redirect {
    /// Redirects to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            attrs: Attrs::default(),
        }
    }

    /// The URL the call is sent to.
    pub fn url(&self) -> &str {
        &self.url
    }

    attribute_setters! {
        /// How Twilio requests the URL (Twilio's default is POST).
        method: value<Method> = "method";
    }
}

impl From<&str> for Redirect {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for Redirect {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

impl WriteXml for Redirect {
    fn write_xml(&self, w: &mut XmlWriter) -> Result<(), Error> {
        w.leaf("Redirect", &self.attrs, &self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::render;

    #[test]
    fn redirect_with_method_and_query_string() {
        insta::assert_snapshot!(render(
            Redirect::new(
                "https://example.com/phone-to-phone/conference-twiml?ConferenceName=cb-1&CallerType=Agent"
            )
            .method(Method::Post)
        ));
    }
}

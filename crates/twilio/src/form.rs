//! Twilio's request encoding: PascalCase form fields, lists as repeated keys, lowercase booleans.
//!
//! Written out by hand rather than derived, because serde_urlencoded cannot turn a struct's list
//! field into repeated keys, and Twilio needs exactly that
//! (`StatusCallbackEvent=initiated&StatusCallbackEvent=ringing`).

/// Form fields in the order they were added.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Form(Vec<(&'static str, String)>);

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a field.
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        self.0.push((key, value.into()));
        self
    }

    /// Adds a field if there is a value.
    pub fn opt<V: ToString>(&mut self, key: &'static str, value: Option<V>) -> &mut Self {
        if let Some(v) = value {
            self.0.push((key, v.to_string()));
        }
        self
    }

    /// Adds the key once per value.
    pub fn list<V: ToString>(
        &mut self,
        key: &'static str,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        for v in values {
            self.0.push((key, v.to_string()));
        }
        self
    }

    /// The fields.
    pub fn fields(&self) -> &[(&'static str, String)] {
        &self.0
    }

    /// The value of the first field named `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the fields named `key`, in order.
    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// One encoded `Key=Value` per line, for snapshots a person can review.
    #[cfg(test)]
    pub(crate) fn encoded_lines(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| {
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(k, v)
                    .finish()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `application/x-www-form-urlencoded` text.
    pub fn encode(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.0.iter().map(|(k, v)| (*k, v.as_str())))
            .finish()
    }
}

/// Types that become a Twilio form body or query string.
pub trait ToForm {
    /// The fields, named as Twilio names them.
    fn to_form(&self) -> Form;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_keys_and_escapes_values() {
        let mut form = Form::new();
        form.set("To", "+15551230000")
            .opt("Timeout", Some(20))
            .opt::<bool>("Record", None)
            .list("StatusCallbackEvent", ["initiated", "ringing"]);
        assert_eq!(
            form.encode(),
            "To=%2B15551230000&Timeout=20&StatusCallbackEvent=initiated&StatusCallbackEvent=ringing"
        );
        assert_eq!(
            form.get_all("StatusCallbackEvent"),
            ["initiated", "ringing"]
        );
        assert_eq!(form.get("Record"), None);
    }
}

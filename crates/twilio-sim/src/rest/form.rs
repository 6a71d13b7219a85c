//! Form and query parameters with repeated keys (`StatusCallbackEvent=ringing&StatusCallbackEvent=answered`).

use super::ApiError;

#[derive(Clone, Debug, Default)]
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    pub(crate) fn parse(bytes: &[u8]) -> Self {
        Self(url::form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// Every pair, in the order given.
    pub(crate) fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The last value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key, each also split on spaces and commas.
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| crate::engine::twiml::split_events(v))
            .collect()
    }

    pub(crate) fn non_empty(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad_request(
                20001,
                format!("Invalid value for {key}: {v} must be true or false"),
            )),
        }
    }

    pub(crate) fn uint(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                ApiError::bad_request(
                    20001,
                    format!("Invalid value for {key}: {v} is not an integer"),
                )
            }),
        }
    }

    /// `GET` or `POST` (default) from a `…Method` parameter.
    pub(crate) fn method(&self, key: &str) -> String {
        match self.get(key) {
            Some(m) if m.eq_ignore_ascii_case("GET") => "GET".to_owned(),
            _ => "POST".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_lists() {
        let f = Form::parse(b"StatusCallbackEvent=initiated&StatusCallbackEvent=ringing+answered&To=%2B1555&B=true&N=x");
        assert_eq!(
            f.list("StatusCallbackEvent"),
            ["initiated", "ringing", "answered"]
        );
        assert_eq!(f.get("To"), Some("+1555"));
        assert_eq!(f.bool("B").unwrap(), Some(true));
        assert!(f.uint("N").is_err());
        assert_eq!(f.uint("Missing").unwrap(), None);
    }
}

//! The `Idempotency-Key` header's value, and the fingerprint of what a request asks for.

use sha2::{Digest, Sha256};

pub const MAX_LEN: usize = 255;

/// A client's name for one intended action: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let key = raw.trim();
        if key.is_empty() || key.len() > MAX_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "Idempotency-Key must be 1 to {MAX_LEN} visible ASCII characters, e.g. a UUID"
            ));
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// SHA-256 (hex) of the endpoint and the request's fields, as JSON: equal for the same request
/// sent as JSON or as a form, different as soon as one field differs.
pub fn fingerprint(endpoint: &str, fields: &serde_json::Value) -> String {
    let canonical = serde_json::json!([endpoint, fields]).to_string();
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_long_or_spaced_keys_are_refused() {
        for bad in ["", "  ", "a b", &"k".repeat(MAX_LEN + 1), "é"] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fingerprint_names_the_endpoint_and_every_field() {
        let body = json!({"to": "+12025550123", "record": null});
        let same = fingerprint("/call/start", &body);
        assert_eq!(same, fingerprint("/call/start", &body));
        assert_eq!(same.len(), 64);
        assert_ne!(same, fingerprint("/phone-to-phone/start", &body));
        assert_ne!(
            same,
            fingerprint(
                "/call/start",
                &json!({"to": "+12025550124", "record": null})
            )
        );
        assert_ne!(
            same,
            fingerprint(
                "/call/start",
                &json!({"to": "+12025550123", "record": true})
            )
        );
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_accepts_only_visible_ascii(raw in "\\PC{0,300}") {
            if let Ok(key) = IdempotencyKey::parse(&raw) {
                prop_assert!(key.as_str().bytes().all(|b| b.is_ascii_graphic()));
                prop_assert!(!key.as_str().is_empty() && key.as_str().len() <= MAX_LEN);
            }
        }
    }
}

//! Twilio resource identifiers: a two-letter prefix and 32 lowercase hex digits.

use rand::Rng as _;

/// A fresh SID with `prefix` (`CA`, `CF`, `RE`, `VE`, `ET`, …).
pub(crate) fn new_sid(prefix: &str) -> String {
    let n: u128 = rand::rng().random();
    format!("{prefix}{n:032x}")
}

/// Whether `s` looks like a SID with `prefix`.
pub(crate) fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_are_prefixed_hex() {
        let s = new_sid("CA");
        assert!(is_sid(&s, "CA"), "{s}");
        assert!(!is_sid(&s, "CF"));
        assert!(!is_sid("CAxyz", "CA"));
        assert_ne!(new_sid("CA"), new_sid("CA"));
    }
}

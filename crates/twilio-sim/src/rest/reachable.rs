//! Numbers Twilio will not call even though they are well-formed E.164: the magic numbers of
//! Twilio's test credentials, each refused with the error Twilio documents for it. (Malformed
//! numbers are refused earlier, with 21211 and 21212.)

use super::ApiError;

/// `Err` is Twilio's answer to a call from `from` to `to`; client and SIP addresses pass.
pub(crate) fn check(to: &str, from: &str) -> Result<(), ApiError> {
    if from == "+15005550001" {
        return Err(ApiError::bad_request(
            21212,
            format!("The 'From' number {from} is not a valid phone number"),
        ));
    }
    let refused = match to {
        "+15005550001" => Some((21217, "is not a valid phone number")),
        "+15005550002" => Some((21214, "cannot be reached")),
        "+15005550003" => Some((
            21215,
            "is in a region this account has no geographic permission to call",
        )),
        "+15005550004" => Some((21216, "is blocked for this account")),
        _ => None,
    };
    match refused {
        Some((code, why)) => Err(ApiError::bad_request(
            code,
            format!("The 'To' number {to} {why}"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_credential_magic_numbers_get_their_codes() {
        let code = |to: &str, from: &str| check(to, from).map_err(|e| e.code);
        assert_eq!(code("+15005550001", "+15005550006"), Err(21217));
        assert_eq!(code("+15005550002", "+15005550006"), Err(21214));
        assert_eq!(code("+15005550003", "+15005550006"), Err(21215));
        assert_eq!(code("+15005550004", "+15005550006"), Err(21216));
        assert_eq!(code("+14155550100", "+15005550001"), Err(21212));
        assert_eq!(code("+15005550006", "+15005550006"), Ok(()));
        assert_eq!(code("+14155550100", "+15005550006"), Ok(()));
    }
}

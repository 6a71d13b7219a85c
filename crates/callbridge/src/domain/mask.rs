//! Shortened forms of emails and phone numbers for log lines: enough to tell two apart while
//! debugging, not enough to contact anyone.

/// `ada@example.com` → `a***@example.com`.
pub fn email(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// `+14155550123` → `+1415***0123`: the country and area code, and the last four digits.
pub fn phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 8 {
        return "+***".to_owned();
    }
    let head: String = digits[..4].iter().collect();
    let tail: String = digits[digits.len() - 4..].iter().collect();
    format!("+{head}***{tail}")
}

/// `text` with every email and every `+`-prefixed phone number in it masked, for free text
/// that may quote one (an upstream error message, a rate-limit key).
pub fn text(text: &str) -> String {
    let emails_masked = mask_emails(text);
    mask_phones(&emails_masked)
}

fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || "._%+-'".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '-'
}

fn mask_emails(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let (before, after) = rest.split_at(at);
        let after = &after[1..];
        let local_start = before
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_local_char(*c))
            .last()
            .map_or(before.len(), |(i, _)| i);
        let domain_len: usize = after
            .chars()
            .take_while(|c| is_domain_char(*c))
            .map(char::len_utf8)
            .sum();
        let domain = after[..domain_len].trim_end_matches(['.', '-']);
        let local = &before[local_start..];
        if local.is_empty() || !domain.contains('.') {
            out.push_str(before);
            out.push('@');
            rest = after;
            continue;
        }
        out.push_str(&before[..local_start]);
        out.push_str(&email(&format!("{local}@{domain}")));
        rest = &after[domain.len()..];
    }
    out.push_str(rest);
    out
}

fn mask_phones(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(plus) = rest.find(['+', '%']) {
        let (before, from_plus) = rest.split_at(plus);
        out.push_str(before);
        // A URL-encoded `+` is `%2B`.
        let marker_len = if from_plus.starts_with('+') {
            1
        } else if from_plus
            .as_bytes()
            .get(..3)
            .is_some_and(|b| b.eq_ignore_ascii_case(b"%2B"))
        {
            3
        } else {
            out.push_str(&from_plus[..1]);
            rest = &from_plus[1..];
            continue;
        };
        let after = &from_plus[marker_len..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if (8..=15).contains(&digits) {
            out.push_str(&phone(&after[..digits]));
        } else {
            out.push_str(&from_plus[..marker_len + digits]);
        }
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn emails_keep_their_first_letter_and_domain() {
        assert_eq!(email("ada@example.com"), "a***@example.com");
        assert_eq!(email("nobody"), "***");
    }

    #[test]
    fn phones_keep_country_area_and_last_four() {
        assert_eq!(phone("+14155550123"), "+1415***0123");
        assert_eq!(phone("+442079460958"), "+4420***0958");
        assert_eq!(phone("+1415"), "+***");
    }

    #[test]
    fn free_text_is_masked_wherever_an_address_appears() {
        assert_eq!(
            text("otp-send:to:ada.l+x@example.com@600s"),
            "otp-send:to:a***@example.com@600s"
        );
        assert_eq!(
            text("The 'To' number +14155550123 is not valid, nor %2B12025550123."),
            "The 'To' number +1415***0123 is not valid, nor +1202***0123."
        );
        assert_eq!(
            text("retry in 5 s, +3 more, a@b, user@localhost"),
            "retry in 5 s, +3 more, a@b, user@localhost"
        );
        assert_eq!(text("ünïcode@exämple.org!"), "ü***@exämple.org!");
    }

    proptest! {
        #[test]
        fn no_full_address_survives(
            local in "[a-z0-9]{2,12}",
            domain in "[a-z]{2,10}\\.(com|org)",
            digits in "[2-9][0-9]{10}",
            prefix in "\\PC{0,20}",
            suffix in "[ ,;)]\\PC{0,20}",
        ) {
            let address = format!("{local}@{domain}");
            let number = format!("+{digits}");
            let masked = text(&format!("{prefix} {address} {number}{suffix}"));
            prop_assert!(!masked.contains(&address), "{}", masked);
            prop_assert!(!masked.contains(&number), "{}", masked);
        }

        #[test]
        fn masking_never_panics(input in "\\PC{0,60}") {
            let _ = text(&input);
        }
    }
}

//! The limits of the public onboarding endpoints. Twilio Verify itself allows five sends to one
//! address in ten minutes and five wrong checks per code; ours refuse first, per address and
//! per client, so a flood never reaches Twilio (nor its bill).

use std::time::Duration;

/// A named fixed-window limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// The key prefix; the subject (address, client IP) follows it.
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

const TEN_MINUTES: Duration = Duration::from_secs(10 * 60);

/// Codes sent to one email or phone.
pub const OTP_SENDS_PER_ADDRESS: Limit = Limit {
    name: "otp-send:to",
    max: 3,
    window: TEN_MINUTES,
};

/// Codes sent on behalf of one client address, to any recipient.
pub const OTP_SENDS_PER_IP: Limit = Limit {
    name: "otp-send:ip",
    max: 10,
    window: TEN_MINUTES,
};

/// Codes checked for one email or phone.
pub const OTP_CHECKS_PER_ADDRESS: Limit = Limit {
    name: "otp-check:to",
    max: 5,
    window: TEN_MINUTES,
};

/// Codes checked by one client address.
pub const OTP_CHECKS_PER_IP: Limit = Limit {
    name: "otp-check:ip",
    max: 20,
    window: TEN_MINUTES,
};

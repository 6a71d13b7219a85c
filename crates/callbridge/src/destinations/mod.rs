//! Which numbers the service may ring or text: one policy for every call leg and every code it
//! sends, so that no path (a call start, Airtable, a campaign, an SMS code) can reach a number
//! another path would refuse. Toll fraud pays out on premium and far-away numbers, so a number
//! is judged by its region and its kind of line, not by how its digits begin.

use std::collections::BTreeSet;

use phonenumber::metadata::DATABASE;

use crate::domain::{LineKind, PhoneNumber};

mod calling_hours;
mod regions;
#[cfg(test)]
mod tests;
mod time_zones;

pub use calling_hours::{CallingHours, Window};

/// What the service is about to do with a number; it names the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Call,
    Sms,
}

impl Use {
    fn done(self) -> &'static str {
        match self {
            Self::Call => "dialled",
            Self::Sms => "texted",
        }
    }
}

/// Why a number is refused; the message is meant for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{kind} numbers are never {done}")]
    Kind {
        kind: &'static str,
        done: &'static str,
    },
    #[error("{place} is not in {setting} (allowed: {allowed})")]
    Region {
        place: String,
        setting: &'static str,
        allowed: String,
    },
}

/// The regions and prefixes one setting (`ALLOWED_DESTINATIONS`, `ALLOWED_SMS_REGIONS`) allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    setting: &'static str,
    regions: BTreeSet<String>,
    prefixes: Vec<String>,
}

/// Kinds of line that cost no more than an ordinary call or text. Everything else (premium-rate,
/// shared-cost, UAN, voicemail access, pager, special services, unknown) is refused whatever
/// the setting says: those are where toll fraud pays out.
fn kind_allowed(kind: LineKind) -> bool {
    matches!(
        kind,
        LineKind::FixedLine
            | LineKind::Mobile
            | LineKind::FixedLineOrMobile
            | LineKind::TollFree
            | LineKind::Personal
            | LineKind::Voip
    )
}

impl Policy {
    /// Reads a comma-separated list of ISO regions (`US,CA,GB`) and E.164 prefixes (`+1415`).
    /// A prefix that is a whole calling code shared by several regions (`+1`, `+44`, `+7`) is
    /// refused: it would let in every region of that code, the Caribbean ones behind `+1`
    /// included, so the regions must be named instead. The error says what to write.
    pub fn parse(setting: &'static str, raw: &str) -> Result<Self, String> {
        let mut regions = BTreeSet::new();
        let mut prefixes = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(digits) = part.strip_prefix('+') {
                prefixes.push(prefix(part, digits)?);
            } else {
                regions.insert(region(part)?);
            }
        }
        if regions.is_empty() && prefixes.is_empty() {
            return Err(
                "lists nothing: name regions like US,CA or E.164 prefixes like +1415".into(),
            );
        }
        Ok(Self {
            setting,
            regions,
            prefixes,
        })
    }

    /// The same regions and prefixes, reported under another setting's name.
    pub fn renamed(&self, setting: &'static str) -> Self {
        Self {
            setting,
            ..self.clone()
        }
    }

    /// `Ok` when `number` may be used for `what`.
    pub fn check(&self, number: &PhoneNumber, what: Use) -> Result<(), Refusal> {
        let line = number.line();
        if !kind_allowed(line.kind) {
            return Err(Refusal::Kind {
                kind: line.kind.as_str(),
                done: what.done(),
            });
        }
        let listed = line
            .region
            .as_ref()
            .is_some_and(|r| self.regions.contains(r))
            || self.prefixes.iter().any(|p| number.has_prefix(p));
        if listed {
            return Ok(());
        }
        let place = line
            .region
            .unwrap_or_else(|| format!("the international network +{}", line.calling_code));
        Err(Refusal::Region {
            place,
            setting: self.setting,
            allowed: self.describe(),
        })
    }

    /// `US, CA, +1415`, as configured.
    pub fn describe(&self) -> String {
        self.regions
            .iter()
            .cloned()
            .chain(self.prefixes.iter().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn region(part: &str) -> Result<String, String> {
    let code = part.to_ascii_uppercase();
    let known = code.len() == 2
        && code.bytes().all(|b| b.is_ascii_uppercase())
        && regions::has_numbers(&code);
    if known {
        Ok(code)
    } else {
        Err(format!(
            "has {part:?}, which is neither an ISO region with phone numbers (like US, CA, GB) \
             nor an E.164 prefix (like +1415)"
        ))
    }
}

fn prefix(part: &str, digits: &str) -> Result<String, String> {
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "has an invalid prefix {part:?}: use E.164 prefixes like +1415 or regions like US"
        ));
    }
    if let Ok(code) = digits.parse::<u16>() {
        let sharing = DATABASE.region(&code).unwrap_or_default();
        if sharing.len() > 1 {
            let mut named: Vec<&str> = sharing.into_iter().filter(|r| r.len() == 2).collect();
            named.sort_unstable();
            return Err(format!(
                "has the prefix {part}, which {} regions share ({}): name the regions instead \
                 (e.g. {}) or use a longer prefix",
                named.len(),
                named.join(", "),
                main_regions(code),
            ));
        }
    }
    Ok(part.to_owned())
}

/// The regions a person most likely meant by a shared calling code.
fn main_regions(code: u16) -> &'static str {
    match code {
        1 => "US,CA",
        7 => "RU",
        44 => "GB",
        _ => "the two-letter codes of the countries you call",
    }
}

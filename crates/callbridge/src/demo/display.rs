//! The demo's timeline as a person reads it: elapsed time, who, what; states in colour on a
//! terminal, plain text anywhere else.

use std::time::Duration;

use crate::calls::live::StateView;
use crate::calls::view::{CallView, EventView};
use crate::domain::{CallState, EventSource, LegRole};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const CYAN: &str = "\x1b[36m";

/// Colour only for a terminal, and never when `NO_COLOR` is set to anything (no-color.org).
pub fn use_color(is_terminal: bool, no_color: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(str::is_empty)
}

#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn new(color: bool) -> Self {
        Self { color }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn clock(&self, elapsed: Duration) -> String {
        self.paint(DIM, &format!("{:>6.1}s", elapsed.as_secs_f64()))
    }

    pub fn heading(&self, text: &str) -> String {
        self.paint(BOLD, text)
    }

    /// A step the demo itself takes (onboarding, pressing a key, hanging up).
    pub fn action(&self, elapsed: Duration, text: &str) -> String {
        format!(
            "{}  {} {}",
            self.clock(elapsed),
            self.paint(CYAN, "»"),
            self.paint(CYAN, text)
        )
    }

    pub fn state(&self, elapsed: Duration, state: &StateView) -> String {
        let label = state.state.as_str().replace('_', " ").to_uppercase();
        let label = match &state.reason {
            Some(reason) => format!("{label} ({})", reason.replace('_', " ")),
            None => label,
        };
        let code = match state.state {
            CallState::Created => DIM,
            CallState::AgentRinging | CallState::RecipientRinging => YELLOW,
            CallState::AgentAnswered | CallState::Connected => GREEN,
            CallState::Completed => "\x1b[1;32m",
            CallState::Failed => "\x1b[1;31m",
        };
        format!(
            "{}  {} {}",
            self.clock(elapsed),
            self.paint(code, "●"),
            self.paint(code, &label)
        )
    }

    pub fn event(&self, elapsed: Duration, event: &EventView) -> String {
        let who = match (event.source, event.role) {
            (_, Some(LegRole::Agent)) => "agent",
            (_, Some(LegRole::Recipient)) => "customer",
            (_, Some(LegRole::Third)) => "third",
            (EventSource::Control, None) => "control",
            (EventSource::Conference, None) => "conference",
            (EventSource::Recording, None) => "recording",
            (EventSource::Call, None) => "call",
        };
        let sid = event
            .call_sid
            .as_deref()
            .map(|s| self.paint(DIM, &short_sid(s)))
            .unwrap_or_default();
        format!(
            "{}    {:<10} {:<28} {sid}",
            self.clock(elapsed),
            who,
            describe(event.source, &event.kind)
        )
        .trim_end()
        .to_owned()
    }

    pub fn outcome(&self, ok: bool, text: &str) -> String {
        if ok {
            self.paint(GREEN, &format!("✔ {text}"))
        } else {
            self.paint(RED, &format!("✘ {text}"))
        }
    }

    /// The closing summary, one fact a line.
    pub fn summary(&self, call: &CallView, wall: Duration) -> Vec<String> {
        let mut lines = vec![self.heading("Summary")];
        let state = match &call.reason {
            Some(reason) => format!("{} ({reason})", call.state),
            None => call.state.to_string(),
        };
        lines.push(format!("  call       {}", call.id));
        lines.push(format!("  state      {state}"));
        lines.push(format!(
            "  reason     {}",
            call.reason.as_deref().unwrap_or("-")
        ));
        lines.push(format!(
            "  duration   {}",
            call.duration_secs
                .map_or_else(|| "-".to_owned(), |s| format!("{s} s"))
        ));
        for leg in &call.legs {
            let who = match leg.role {
                LegRole::Agent => "agent",
                LegRole::Recipient => "customer",
                LegRole::Third => "third",
            };
            let secs = leg
                .duration_secs
                .map(|s| format!(", {s} s"))
                .unwrap_or_default();
            lines.push(format!(
                "  leg        {who} {} {} ({}{secs})",
                leg.number, leg.call_sid, leg.status
            ));
        }
        if call.legs.is_empty() {
            lines.push("  legs       none".to_owned());
        }
        lines.push(format!("  events     {}", call.events.len()));
        lines.push(match &call.recording {
            Some(r) => format!(
                "  recording  {} ({}{})",
                r.sid,
                r.status,
                r.duration_secs
                    .map(|s| format!(", {s} s"))
                    .unwrap_or_default()
            ),
            None => "  recording  none".to_owned(),
        });
        lines.push(format!("  demo took  {:.1} s", wall.as_secs_f64()));
        lines
    }
}

/// `CA0123…cdef`: enough to tell legs apart.
fn short_sid(sid: &str) -> String {
    if sid.len() <= 12 || !sid.is_ascii() {
        return sid.to_owned();
    }
    format!("{}…{}", &sid[..6], &sid[sid.len() - 4..])
}

/// Twilio's words for what happened, in plain English.
fn describe(source: EventSource, kind: &str) -> String {
    let text = match (source, kind) {
        (EventSource::Call, "queued") => "call queued",
        (EventSource::Call, "initiated") => "dialling",
        (EventSource::Call, "browser-dialled") => "called from the browser",
        (EventSource::Call, "ringing") => "phone ringing",
        (EventSource::Call, "in-progress" | "answered") => "picked up",
        (EventSource::Call, "completed") => "hung up",
        (EventSource::Call, "busy") => "line busy",
        (EventSource::Call, "no-answer") => "did not answer",
        (EventSource::Call, "failed") => "call failed",
        (EventSource::Call, "canceled") => "call canceled",
        (EventSource::Conference, "conference-start") => "conference started",
        (EventSource::Conference, "conference-end") => "conference ended",
        (EventSource::Conference, "participant-join") => "joined the conference",
        (EventSource::Conference, "participant-leave") => "left the conference",
        (EventSource::Recording, "in-progress") => "recording",
        (EventSource::Recording, "completed") => "recording ready",
        (EventSource::Recording, "absent") => "nothing recorded",
        (EventSource::Recording, "failed") => "recording failed",
        (_, other) => return other.replace(['-', '_'], " "),
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::EventId;

    #[test]
    fn color_needs_a_terminal_and_no_no_color() {
        assert!(use_color(true, None));
        assert!(use_color(true, Some("")));
        assert!(!use_color(true, Some("1")));
        assert!(!use_color(false, None));
    }

    #[test]
    fn plain_lines_have_no_escape_codes_and_read_well() {
        let style = Style::new(false);
        let event = EventView {
            id: EventId::new(),
            at: Utc::now(),
            source: EventSource::Call,
            kind: "in-progress".into(),
            call_sid: Some("CA0123456789abcdef0123456789abcdef".into()),
            role: Some(LegRole::Agent),
            sequence_number: None,
        };
        let state = StateView {
            state: CallState::Failed,
            reason: Some("recipient_busy".into()),
            is_final: true,
            ended_at: None,
            duration_secs: None,
        };
        let lines = [
            style.event(Duration::from_millis(3250), &event),
            style.state(Duration::from_secs(12), &state),
            style.action(Duration::from_millis(400), "agent presses 1"),
        ];
        insta::assert_snapshot!(lines.join("\n"), @r"
           3.2s    agent      picked up                    CA0123…cdef
          12.0s  ● FAILED (recipient busy)
           0.4s  » agent presses 1
        ");
        let colored = Style::new(true).state(Duration::ZERO, &state);
        assert!(colored.contains("\x1b[1;31m"), "{colored:?}");
    }

    #[test]
    fn unknown_kinds_are_shown_as_words() {
        assert_eq!(
            describe(EventSource::Conference, "participant-mute"),
            "participant mute"
        );
    }
}

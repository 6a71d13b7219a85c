//! Closed sets of attribute values, spelled exactly as TwiML spells them.

use std::{fmt, str::FromStr};

use crate::{Error, attrs::AttrValue};

macro_rules! closed_set {
    ($(#[$meta:meta])* $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )+
        }

        impl $name {
            /// Every value, in the order Twilio documents them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The value as TwiML writes it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Parses the TwiML spelling (exact, case-sensitive, as Twilio reads it).
            fn from_str(value: &str) -> Result<Self, Error> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(Error::UnknownValue { kind: stringify!($name), value: value.to_owned() }),
                }
            }
        }

        impl AttrValue for $name {
            fn attr_value(&self) -> String {
                self.as_str().to_owned()
            }
        }
    };
}

closed_set! {
    /// HTTP method Twilio uses for a callback or an action URL.
    Method { Get = "GET", Post = "POST", }
}

closed_set! {
    /// `<Conference beep>`: whether a tone plays when participants join or leave.
    Beep { True = "true", False = "false", OnEnter = "onEnter", OnExit = "onExit", }
}

closed_set! {
    /// `<Conference record>`.
    ConferenceRecord { DoNotRecord = "do-not-record", RecordFromStart = "record-from-start", }
}

closed_set! {
    /// `<Dial record>`.
    DialRecord {
        DoNotRecord = "do-not-record",
        RecordFromAnswer = "record-from-answer",
        RecordFromRinging = "record-from-ringing",
        RecordFromAnswerDual = "record-from-answer-dual",
        RecordFromRingingDual = "record-from-ringing-dual",
    }
}

closed_set! {
    /// `trim` of `<Conference>` and `<Record>`: whether leading and trailing silence is removed.
    Trim { TrimSilence = "trim-silence", DoNotTrim = "do-not-trim", }
}

closed_set! {
    /// `<Conference statusCallbackEvent>` items.
    ConferenceEvent {
        Start = "start",
        End = "end",
        Join = "join",
        Leave = "leave",
        Mute = "mute",
        Hold = "hold",
        Modify = "modify",
        Speaker = "speaker",
        Announcement = "announcement",
    }
}

closed_set! {
    /// Call progress events of `<Number>` and `<Client>` (`statusCallbackEvent` items).
    CallEvent {
        Initiated = "initiated",
        Ringing = "ringing",
        Answered = "answered",
        Completed = "completed",
    }
}

closed_set! {
    /// `recordingStatusCallbackEvent` items of `<Dial>`, `<Conference>` and `<Record>`.
    RecordingEvent { InProgress = "in-progress", Completed = "completed", Absent = "absent", }
}

closed_set! {
    /// `<Gather input>` items.
    GatherInput { Dtmf = "dtmf", Speech = "speech", }
}

closed_set! {
    /// `<Reject reason>`.
    RejectReason { Rejected = "rejected", Busy = "busy", }
}

closed_set! {
    /// `<Conference jitterBufferSize>`.
    JitterBufferSize { Large = "large", Medium = "medium", Small = "small", Off = "off", }
}

closed_set! {
    /// `<Conference region>`: where the conference's media is mixed.
    Region {
        Us1 = "us1",
        Us2 = "us2",
        Ie1 = "ie1",
        Sg1 = "sg1",
        Br1 = "br1",
        Au1 = "au1",
        Jp1 = "jp1",
        De1 = "de1",
    }
}

/// `<Gather speechTimeout>`: seconds of silence that end speech input, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpeechTimeout {
    /// `auto`: Twilio decides when the caller has finished.
    Auto,
    /// A fixed number of seconds.
    Seconds(u32),
}

impl fmt::Display for SpeechTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Seconds(seconds) => write!(f, "{seconds}"),
        }
    }
}

impl FromStr for SpeechTimeout {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Error> {
        if value == "auto" {
            return Ok(Self::Auto);
        }
        value
            .parse()
            .map(Self::Seconds)
            .map_err(|_| Error::UnknownValue {
                kind: "SpeechTimeout",
                value: value.to_owned(),
            })
    }
}

impl AttrValue for SpeechTimeout {
    fn attr_value(&self) -> String {
        self.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T])
    where
        T: Copy + fmt::Display + FromStr<Err = Error> + PartialEq + fmt::Debug,
    {
        for value in all {
            assert_eq!(value.to_string().parse::<T>(), Ok(*value));
        }
    }

    #[test]
    fn every_value_parses_back_from_its_spelling() {
        round_trips(Method::ALL);
        round_trips(Beep::ALL);
        round_trips(ConferenceRecord::ALL);
        round_trips(DialRecord::ALL);
        round_trips(Trim::ALL);
        round_trips(ConferenceEvent::ALL);
        round_trips(CallEvent::ALL);
        round_trips(RecordingEvent::ALL);
        round_trips(GatherInput::ALL);
        round_trips(RejectReason::ALL);
        round_trips(JitterBufferSize::ALL);
        round_trips(Region::ALL);
        round_trips(&[
            SpeechTimeout::Auto,
            SpeechTimeout::Seconds(0),
            SpeechTimeout::Seconds(7),
        ]);
    }

    #[test]
    fn spellings_are_twilios() {
        assert_eq!(Method::Post.as_str(), "POST");
        assert_eq!(Beep::OnEnter.as_str(), "onEnter");
        assert_eq!(
            ConferenceRecord::RecordFromStart.as_str(),
            "record-from-start"
        );
        assert_eq!(
            DialRecord::RecordFromRingingDual.as_str(),
            "record-from-ringing-dual"
        );
        assert_eq!(RecordingEvent::InProgress.as_str(), "in-progress");
        assert_eq!(SpeechTimeout::Seconds(3).to_string(), "3");
    }

    #[test]
    fn unknown_spellings_are_refused_by_name() {
        assert_eq!(
            "post".parse::<Method>(),
            Err(Error::UnknownValue {
                kind: "Method",
                value: "post".into()
            })
        );
        assert!("soon".parse::<SpeechTimeout>().is_err());
    }
}

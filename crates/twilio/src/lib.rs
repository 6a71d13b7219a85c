//! A small typed Twilio client: REST resources, webhook signatures, Access Tokens.
//!
//! Every product (REST 2010 API, Verify v2, Sync v1) goes to Twilio's own host unless
//! [`ClientConfig::base_url`] names one base for all of them, as the offline simulator does.
#![forbid(unsafe_code)]

pub mod access_token;
mod client;
mod error;
pub mod form;
pub mod resources;
mod retry;
pub mod signature;

pub use client::{Client, ClientConfig, Credentials};
pub use error::{Error, ErrorCode};
pub use resources::{
    applications::{Application, ApplicationParams},
    calls::{
        Call, CallEvent, CallInstructions, CallStatus, CallUpdateStatus, CreateCall, ListCalls,
        MachineDetection, RecordingEvent, UpdateCall,
    },
    common::{HttpMethod, Listed, Page},
    conferences::{
        Conference, ConferenceStatus, ConferenceUpdateStatus, ListConferences,
        ReasonConferenceEnded, UpdateConference,
    },
    keys::{Key, NewKey},
    participants::{
        Beep, ConferenceEvent, ConferenceRecord, CreateParticipant, Participant, ParticipantStatus,
        UpdateParticipant,
    },
    recordings::{
        Capabilities, IncomingPhoneNumber, ListIncomingPhoneNumbers, ListRecordings, Recording,
        RecordingStatus,
    },
    services::Service,
    sync::{CreateDocument, Document, UpdateDocument},
    verify::{
        CheckVerification, CreateVerification, Verification, VerificationCheck, VerificationStatus,
        VerifyChannel,
    },
};
pub use retry::RetryPolicy;
pub use secrecy::SecretString;

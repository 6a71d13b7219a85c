//! Schemas of the domain's value types, written here so that `domain` knows nothing of the API
//! description. Enums list their variants from the types' own `ALL`, so a new variant shows up
//! in the document by itself.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::domain::{
    AgentId, CallId, CallMode, CallState, EmailAddress, EventId, EventSource, LegRole, PhoneNumber,
};
use crate::store::CampaignStatus;

fn uuid(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::Custom("uuid".to_owned())))
        .description(Some(description))
        .into()
}

fn text_enum<'a>(description: &str, values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

macro_rules! schema {
    ($name:ident, $body:expr) => {
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $body
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

schema!(
    CallId,
    uuid("A call's id (UUID v7, so ids sort by creation).")
);
schema!(AgentId, uuid("An agent's id."));
schema!(
    EventId,
    uuid("A call event's id; ids sort in the order events were stored.")
);
schema!(
    EmailAddress,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .into()
);
schema!(
    PhoneNumber,
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(r"^\+[1-9][0-9]{1,14}$"))
        .description(Some("A phone number in E.164."))
        .into()
);
schema!(
    CallState,
    text_enum(
        "Where a call is in its life; `completed` and `failed` are final.",
        CallState::ALL.iter().map(CallState::as_str)
    )
);
schema!(
    LegRole,
    text_enum(
        "Which party a leg is.",
        LegRole::ALL.iter().map(LegRole::as_str)
    )
);
schema!(
    CallMode,
    text_enum(
        "Where the agent talks from: `phone` (callbridge rings it) or `browser` (the Voice SDK).",
        CallMode::ALL.iter().map(CallMode::as_str)
    )
);
schema!(
    EventSource,
    text_enum(
        "Which of Twilio's callbacks reported the event.",
        EventSource::ALL.iter().map(EventSource::as_str)
    )
);
schema!(
    CampaignStatus,
    text_enum(
        "How a campaign stands; only `running` campaigns start calls.",
        CampaignStatus::ALL.iter().map(CampaignStatus::as_str)
    )
);

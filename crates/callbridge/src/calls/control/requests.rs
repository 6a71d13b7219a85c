//! The agent's requests: each checks that the call is theirs and in a state that allows it,
//! then records the intent as a `control` event together with the Twilio requests that carry
//! it out. The answer is the call as it is then; what Twilio confirms follows on its stream.

use serde_json::json;

use super::react::{Record, record};
use super::rules;
use super::{Party, Situation, TransferMode, kind};
use crate::calls::CallError;
use crate::calls::flow::{Action, LegStatus};
use crate::calls::lookup::owned_call;
use crate::calls::start::CALL_STARTS_PER_AGENT;
use crate::calls::view::{self, CallView};
use crate::destinations::Use;
use crate::domain::{
    CallMode, CallState, ClientIdentity, EmailAddress, Endpoint, LegRole, PhoneNumber,
};
use crate::ratelimit;
use crate::state::AppState;
use crate::store::{Agent, Call, CallLeg};

/// Put a party on hold or take them off it.
#[derive(Debug, Clone, Copy)]
pub struct Hold {
    pub party: Party,
    pub hold: bool,
}

/// Mute or unmute a party.
#[derive(Debug, Clone, Copy)]
pub struct Mute {
    pub party: Party,
    pub muted: bool,
}

/// Hand the call to a number or to another agent (by email).
#[derive(Debug, Clone)]
pub struct Transfer {
    pub to: String,
    pub mode: TransferMode,
}

/// Dial a third party into the call.
#[derive(Debug, Clone)]
pub struct AddParty {
    pub to: String,
}

/// A connected call of the agent's, its legs and where its control stands.
struct Live {
    call: Call,
    legs: Vec<CallLeg>,
    situation: Situation,
}

impl Live {
    /// The party's newest leg, if it is in the call.
    fn present(&self, party: Party) -> Option<&CallLeg> {
        self.legs
            .iter()
            .rev()
            .find(|leg| leg.role == party.role())
            .filter(|leg| LegStatus::parse(&leg.status) == Some(LegStatus::InProgress))
    }

    fn require(&self, party: Party) -> Result<&CallLeg, CallError> {
        if party == Party::Agent && self.situation.handed_over {
            return Err(CallError::NotNow(
                "the agent has handed the call over and left it".into(),
            ));
        }
        self.present(party)
            .ok_or_else(|| CallError::NotNow(format!("the {} is not on the call", party.as_str())))
    }

    fn no_transfer(&self) -> Result<(), CallError> {
        if self.situation.transfer.is_some() {
            return Err(CallError::NotNow("a transfer is under way".into()));
        }
        Ok(())
    }

    /// Nobody is being dialled or on the line but the agent and the customer.
    /// The key of the next dial of a third party. Two requests that both found the call with
    /// two parties share it, so the store keeps only the first and the other is refused: one
    /// transfer or third party at a time holds across instances and racing requests.
    fn next_third(&self) -> String {
        format!("third:{}", self.situation.thirds_dialled + 1)
    }

    fn two_party(&self) -> Result<(), CallError> {
        self.no_transfer()?;
        if self.situation.handed_over {
            return Err(CallError::NotNow(
                "the call was handed over; the agent has left it".into(),
            ));
        }
        if self.situation.third {
            return Err(CallError::NotNow(
                "a third party is on the call already".into(),
            ));
        }
        Ok(())
    }
}

async fn live(state: &AppState, agent: &Agent, raw_id: &str) -> Result<Live, CallError> {
    let call = owned_call(state.store.as_ref(), agent, raw_id).await?;
    if call.state.is_final() {
        return Err(CallError::AlreadyEnded(call.state));
    }
    if call.state != CallState::Connected {
        return Err(CallError::NotNow(format!(
            "the call is not connected yet ({})",
            call.state
        )));
    }
    let legs = state.store.legs_for_call(call.id).await?;
    let events = state.store.events_for_call(call.id).await?;
    Ok(Live {
        call,
        legs,
        situation: Situation::of(&events),
    })
}

/// Refuses the request whose dial of a third party lost the race to another one.
fn third_dialled(new: bool) -> Result<(), CallError> {
    if new {
        Ok(())
    } else {
        Err(CallError::NotNow(
            "a third party is on the call already".into(),
        ))
    }
}

async fn done(state: &AppState, call: &Call) -> Result<CallView, CallError> {
    view::load(state.store.as_ref(), call.id).await
}

pub(crate) async fn hold(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
    request: Hold,
) -> Result<CallView, CallError> {
    let live = live(state, agent, raw_id).await?;
    // A transfer holds and unholds the parties itself.
    live.no_transfer()?;
    let leg = live.require(request.party)?;
    let kind = if request.hold {
        kind::HOLD
    } else {
        kind::UNHOLD
    };
    let step = Record {
        kind,
        call_sid: Some(&leg.call_sid),
        payload: json!({"party": request.party.as_str()}),
        dedupe: None,
        actions: vec![Action::Hold {
            role: request.party.role(),
            hold: request.hold,
        }],
    };
    record(state, &live.call, step).await?;
    done(state, &live.call).await
}

pub(crate) async fn mute(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
    request: Mute,
) -> Result<CallView, CallError> {
    let live = live(state, agent, raw_id).await?;
    let leg = live.require(request.party)?;
    let kind = if request.muted {
        kind::MUTE
    } else {
        kind::UNMUTE
    };
    let step = Record {
        kind,
        call_sid: Some(&leg.call_sid),
        payload: json!({"party": request.party.as_str()}),
        dedupe: None,
        actions: vec![Action::Mute {
            role: request.party.role(),
            muted: request.muted,
        }],
    };
    record(state, &live.call, step).await?;
    done(state, &live.call).await
}

pub(crate) async fn transfer(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
    request: Transfer,
) -> Result<CallView, CallError> {
    let live = live(state, agent, raw_id).await?;
    live.two_party()?;
    let target = target(state, agent, &request.to, true).await?;
    ratelimit::check_limit(state, CALL_STARTS_PER_AGENT, &agent.id.to_string()).await?;
    let mut actions = rules::transfer_holds(request.mode);
    actions.push(Action::DialThird);
    let mode = match request.mode {
        TransferMode::Cold => "cold",
        TransferMode::Warm => "warm",
    };
    let step = Record {
        kind: kind::TRANSFER_STARTED,
        call_sid: None,
        payload: json!({"mode": mode, "to": request.to.trim(), "target": target.to_twilio()}),
        dedupe: Some(live.next_third()),
        actions,
    };
    third_dialled(record(state, &live.call, step).await?)?;
    done(state, &live.call).await
}

pub(crate) async fn complete_transfer(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
) -> Result<CallView, CallError> {
    let live = live(state, agent, raw_id).await?;
    if live.situation.transfer != Some(TransferMode::Warm) {
        return Err(CallError::NotNow("no warm transfer is under way".into()));
    }
    let target = live
        .present(Party::Third)
        .ok_or_else(|| CallError::NotNow("the transfer's target has not answered yet".into()))?;
    let completion = rules::completion();
    let step = Record {
        kind: completion.kind,
        call_sid: Some(&target.call_sid),
        payload: json!({}),
        // The same key as a cold transfer's completion: one hand-over per target.
        dedupe: Some(format!("{}:{}", completion.kind, target.call_sid)),
        actions: completion.actions,
    };
    record(state, &live.call, step).await?;
    done(state, &live.call).await
}

pub(crate) async fn cancel_transfer(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
) -> Result<CallView, CallError> {
    let live = live(state, agent, raw_id).await?;
    let Some(mode) = live.situation.transfer else {
        return Err(CallError::NotNow("no transfer is under way".into()));
    };
    let mut actions = vec![Action::EndLeg {
        role: LegRole::Third,
    }];
    actions.extend(rules::release_holds(mode));
    let step = Record {
        kind: kind::TRANSFER_CANCELED,
        call_sid: None,
        payload: json!({}),
        dedupe: None,
        actions,
    };
    record(state, &live.call, step).await?;
    done(state, &live.call).await
}

pub(crate) async fn add_party(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
    request: AddParty,
) -> Result<CallView, CallError> {
    let live = live(state, agent, raw_id).await?;
    live.two_party()?;
    let target = target(state, agent, &request.to, false).await?;
    ratelimit::check_limit(state, CALL_STARTS_PER_AGENT, &agent.id.to_string()).await?;
    let step = Record {
        kind: kind::PARTY_ADDED,
        call_sid: None,
        payload: json!({"to": request.to.trim(), "target": target.to_twilio()}),
        dedupe: Some(live.next_third()),
        actions: vec![Action::DialThird],
    };
    third_dialled(record(state, &live.call, step).await?)?;
    done(state, &live.call).await
}

pub(crate) async fn remove_party(
    state: &AppState,
    agent: &Agent,
    raw_id: &str,
    label: &str,
) -> Result<CallView, CallError> {
    let party = Party::parse(label).ok_or_else(|| {
        CallError::Invalid(format!(
            "no party {label:?}: the parties are agent, customer and third"
        ))
    })?;
    let live = live(state, agent, raw_id).await?;
    if party != Party::Third {
        return Err(CallError::NotNow(format!(
            "the {} cannot be removed: hang up the call instead",
            party.as_str()
        )));
    }
    if live.situation.transfer.is_some() {
        return Err(CallError::NotNow(
            "a transfer is under way: cancel it instead".into(),
        ));
    }
    if !live.situation.third || live.situation.handed_over {
        return Err(CallError::NotNow(
            "there is no third party on the call".into(),
        ));
    }
    let step = Record {
        kind: kind::PARTY_REMOVED,
        call_sid: live.present(Party::Third).map(|leg| leg.call_sid.as_str()),
        payload: json!({"party": "third"}),
        dedupe: None,
        actions: vec![Action::EndLeg {
            role: LegRole::Third,
        }],
    };
    record(state, &live.call, step).await?;
    done(state, &live.call).await
}

/// Where a transfer or an added party is dialled: a number the destination policy allows, or
/// (for a transfer) another agent, rung where they take calls by default.
async fn target(
    state: &AppState,
    agent: &Agent,
    raw: &str,
    agents_too: bool,
) -> Result<Endpoint, CallError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(CallError::Invalid("to is required".into()));
    }
    if agents_too && raw.contains('@') {
        let email = EmailAddress::parse(raw)?;
        let unavailable = || CallError::Refused(format!("{email} is not an agent who takes calls"));
        let other = state
            .store
            .agent_by_email(&email)
            .await?
            .filter(|a| a.revoked_at.is_none())
            .ok_or_else(unavailable)?;
        if other.id == agent.id {
            return Err(CallError::Refused("the call is yours already".into()));
        }
        return match other.default_mode {
            CallMode::Browser => Ok(Endpoint::Client(ClientIdentity::for_agent(other.id))),
            CallMode::Phone => {
                let phone = other
                    .phone
                    .clone()
                    .filter(|_| other.phone_verified_at.is_some())
                    .ok_or_else(unavailable)?;
                allowed(state, &phone)?;
                Ok(Endpoint::Phone(phone))
            }
        };
    }
    let number = PhoneNumber::parse(raw)?;
    allowed(state, &number)?;
    Ok(Endpoint::Phone(number))
}

fn allowed(state: &AppState, number: &PhoneNumber) -> Result<(), CallError> {
    state
        .settings
        .destinations
        .check(number, Use::Call)
        .map_err(|why| CallError::Refused(format!("{number} cannot be called: {why}")))
}

//! A session campaign's progress: records per outcome, talk time, the abandon rate and the pace
//! it sets, and each agent's session.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::guard::{self, ABANDON_LIMIT};
use super::outcome;
use super::runner::tally;
use crate::state::AppState;
use crate::store::{CampaignItem, DialerSession, ItemOutcome, ItemState, StoreError};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DialerProgress {
    /// Records per outcome (`human`, `voicemail`, `abandoned`, `no_answer`, `busy`, `failed`,
    /// `invalid`, `dnc`, …), plus `dialled` (customers rung) and `waiting` (records not
    /// reached yet) and `out_of_hours` (waiting for the recipient's calling hours).
    #[schema(value_type = BTreeMap<String, u64>)]
    pub counts: BTreeMap<&'static str, usize>,
    /// Seconds customers who were people talked, in all.
    pub talk_secs: i64,
    /// Abandoned per answered call.
    pub abandon_rate: f64,
    /// The rate above which dials are slowed.
    pub abandon_limit: f64,
    /// `normal`, or `slowed` while the abandon rate is at or over the limit.
    pub pace: &'static str,
    pub sessions: Vec<SessionProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SessionProgress {
    pub id: String,
    pub agent: String,
    #[schema(value_type = String)]
    pub state: crate::store::SessionState,
    /// The record being dialled, talked to or wrapped up.
    pub current: Option<String>,
    /// Records dialled for this agent, per outcome.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub counts: BTreeMap<String, usize>,
    pub talk_secs: i64,
}

fn counts(items: &[CampaignItem], outcomes: &[ItemOutcome]) -> BTreeMap<&'static str, usize> {
    let mut counts: BTreeMap<&'static str, usize> = outcome::ALL
        .iter()
        .chain(&["dialled", "waiting", "out_of_hours"])
        .map(|k| (*k, 0))
        .collect();
    let now = Utc::now();
    for (item, known) in items.iter().zip(outcomes) {
        if let Some(name) = known.outcome.as_deref()
            && let Some(key) = outcome::ALL.iter().find(|k| **k == name)
        {
            *counts.entry(key).or_default() += 1;
        }
        if item.state == ItemState::Called {
            *counts.entry("dialled").or_default() += 1;
        }
        if matches!(item.state, ItemState::Pending | ItemState::Starting) {
            *counts.entry("waiting").or_default() += 1;
            if known.not_before.is_some_and(|t| t > now) {
                *counts.entry("out_of_hours").or_default() += 1;
            }
        }
    }
    counts
}

/// Seconds people talked, in the session's records or in all.
fn talk_secs(outcomes: &[ItemOutcome], session: Option<&str>) -> i64 {
    outcomes
        .iter()
        .filter(|o| session.is_none_or(|s| o.session_id.as_deref() == Some(s)))
        .filter(|o| o.outcome.as_deref() == Some(outcome::HUMAN))
        .filter_map(|o| o.talk_secs)
        .sum()
}

pub async fn of(
    state: &AppState,
    campaign: &str,
    items: &[CampaignItem],
) -> Result<DialerProgress, StoreError> {
    let store = &state.store;
    let outcomes = store.item_outcomes(campaign).await?;
    let sessions = store.campaign_sessions(campaign).await?;
    let tally = tally(&outcomes, &sessions);
    let mut per_agent = Vec::new();
    for session in &sessions {
        per_agent.push(session_progress(state, session, items, &outcomes).await?);
    }
    Ok(DialerProgress {
        counts: counts(items, &outcomes),
        talk_secs: talk_secs(&outcomes, None),
        abandon_rate: guard::abandon_rate(tally.answered, tally.abandoned),
        abandon_limit: ABANDON_LIMIT,
        pace: if guard::over_limit(tally.answered, tally.abandoned) {
            "slowed"
        } else {
            "normal"
        },
        sessions: per_agent,
    })
}

async fn session_progress(
    state: &AppState,
    session: &DialerSession,
    items: &[CampaignItem],
    outcomes: &[ItemOutcome],
) -> Result<SessionProgress, StoreError> {
    let agent = state
        .store
        .agent_by_id(session.agent_id)
        .await?
        .map(|a| a.email.as_str().to_owned())
        .unwrap_or_default();
    let mut counts = BTreeMap::new();
    for known in outcomes
        .iter()
        .filter(|o| o.session_id.as_deref() == Some(session.id.as_str()))
    {
        if let Some(name) = &known.outcome {
            *counts.entry(name.clone()).or_default() += 1;
        }
    }
    let current = session
        .current_item
        .as_deref()
        .and_then(|id| items.iter().find(|i| i.id == id))
        .map(|i| i.record_id.clone());
    Ok(SessionProgress {
        id: session.id.clone(),
        agent,
        state: session.state,
        current,
        counts,
        talk_secs: talk_secs(outcomes, Some(&session.id)),
    })
}

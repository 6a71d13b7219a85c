//! A database at an earlier migration opens with this build and reads back intact, on both
//! backends: the schema is built by applying the migrations up to that one by hand, and the rows
//! are written in that schema's shapes (text ids, epoch milliseconds, 0/1 flags, JSON as text).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::AssertSqlSafe;
use sqlx::migrate::{Migrate, Migrator};

use super::postgres::PgStore;
use super::sqlite::{self, SqliteStore};
use super::testing::{TestDatabase, TestStore};
use super::*;
use crate::domain::{Endpoint, EventId, EventSource, LegRole};

/// The last migration before browser agents.
const BEFORE_BROWSER_AGENTS: i64 = 8;
/// The last migration whose PostgreSQL schema has SQLite's shapes.
const BEFORE_NATIVE_TYPES: i64 = 10;

/// Applies `migrator`'s migrations up to `last` on `conn`, and no later one.
async fn apply_up_to<C: Migrate + ?Sized>(conn: &mut C, migrator: &Migrator, last: i64) {
    conn.ensure_migrations_table("_sqlx_migrations")
        .await
        .unwrap();
    for migration in migrator.iter() {
        if migration.version <= last {
            conn.apply("_sqlx_migrations", migration).await.unwrap();
        }
    }
}

/// A database on `db` whose newest migration is `last`, holding `rows` (SQL statements in that
/// schema's shapes).
async fn old_database(db: &TestDatabase, last: i64, rows: &str) {
    let script = AssertSqlSafe(rows.to_owned());
    match db.backend() {
        Backend::Sqlite => {
            let store = SqliteStore::connect(db.url()).await.unwrap();
            let mut conn = store.pool().acquire().await.unwrap();
            apply_up_to(&mut *conn, &sqlite::MIGRATIONS, last).await;
            sqlx::raw_sql(script).execute(&mut *conn).await.unwrap();
            drop(conn);
            store.close().await;
        }
        Backend::Postgres => {
            let store = PgStore::connect(db.url()).await.unwrap();
            let mut conn = store.pool().acquire().await.unwrap();
            apply_up_to(&mut *conn, &super::postgres::MIGRATIONS, last).await;
            sqlx::raw_sql(script).execute(&mut *conn).await.unwrap();
            drop(conn);
            store.close().await;
        }
    }
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn phone(s: &str) -> PhoneNumber {
    PhoneNumber::parse(s).unwrap()
}

#[tokio::test]
async fn a_database_from_before_browser_agents_migrates_forward_with_its_data() {
    for db in TestDatabase::all().await {
        let agent = AgentId::new();
        let call = CallId::new();
        let now = Utc::now().timestamp_millis();
        let rows = format!(
            "INSERT INTO agents (id, email, email_verified_at, phone, phone_verified_at, \
             token_version, record_by_default, created_at, updated_at) \
             VALUES ('{agent}', 'old@example.com', {now}, '+14155550100', {now}, 0, 1, \
             {now}, {now}); \
             INSERT INTO calls (id, agent_id, state, recipient, agent_number, conference_name, \
             record, created_at, updated_at) VALUES ('{call}', '{agent}', 'completed', \
             '+12025550123', '+14155550100', '{conference}', 1, {now}, {now});",
            conference = call.conference_name()
        );
        old_database(&db, BEFORE_BROWSER_AGENTS, &rows).await;

        let store = db.store().await;
        assert!(store.migration_status().await.unwrap().pending.is_empty());
        let read = store.agent_by_id(agent).await.unwrap().unwrap();
        assert_eq!(read.default_mode, CallMode::Phone, "{:?}", db.backend());
        assert!(read.record_by_default);
        let old = store.call_by_id(call).await.unwrap().unwrap();
        assert_eq!(old.mode, CallMode::Phone);
        assert_eq!(old.state, CallState::Completed);
        assert_eq!(old.agent_endpoint, Endpoint::Phone(phone("+14155550100")));
        store.close().await;
    }
}

/// Milliseconds with a fraction of a second in them, so that a conversion that rounds shows.
const T0: i64 = 1_750_000_000_123;
const T1: i64 = 1_750_000_001_456;
const T2: i64 = 1_750_000_002_789;
/// Far ahead, for what must not have expired when the test reads it.
const LATER: i64 = 4_102_444_800_001;

/// One row in every table that matters, in the shapes of the schema up to
/// [`BEFORE_NATIVE_TYPES`].
struct OldRows {
    ada: AgentId,
    bob: AgentId,
    call: CallId,
    event: EventId,
    outbox: uuid::Uuid,
    campaign: uuid::Uuid,
    item: uuid::Uuid,
    audit: uuid::Uuid,
}

impl OldRows {
    fn new() -> Self {
        Self {
            ada: AgentId::new(),
            bob: AgentId::new(),
            call: CallId::new(),
            event: EventId::new(),
            outbox: uuid::Uuid::now_v7(),
            campaign: uuid::Uuid::now_v7(),
            item: uuid::Uuid::now_v7(),
            audit: uuid::Uuid::now_v7(),
        }
    }

    fn sql(&self) -> String {
        let Self {
            ada,
            bob,
            call,
            event,
            outbox,
            campaign,
            item,
            audit,
        } = self;
        let conference = call.conference_name();
        format!(
            "INSERT INTO agents (id, email, email_verified_at, phone, phone_verified_at, \
             token_version, revoked_at, record_by_default, default_mode, created_at, updated_at) \
             VALUES ('{ada}', 'ada@example.com', {T0}, '+14155550100', {T1}, 3, NULL, 1, \
             'browser', {T0}, {T1}), \
             ('{bob}', 'bob@example.com', NULL, NULL, NULL, 1, {T2}, 0, 'phone', {T1}, {T2});
             INSERT INTO calls (id, agent_id, mode, state, reason, label, recipient, agent_number, \
             conference_name, conference_sid, record, created_at, updated_at, ended_at, \
             duration_secs) VALUES ('{call}', '{ada}', 'phone', 'completed', 'hangup', \
             'Tuvok & Spock', '+12025550123', '+14155550100', '{conference}', 'CF0001', 1, \
             {T0}, {T2}, {T2}, 42);
             INSERT INTO call_legs (call_sid, call_id, role, status, status_rank, number, \
             created_at, updated_at, duration_secs) VALUES ('CA0001', '{call}', 'agent', \
             'completed', 4, '+14155550100', {T0}, {T2}, 40);
             INSERT INTO call_events (id, call_id, source, kind, call_sid, dedupe_key, \
             sequence_number, payload, received_at) VALUES ('{event}', '{call}', 'call', \
             'completed', 'CA0001', 'dedupe-1', 3, \
             '{{\"CallStatus\": \"completed\", \"Nested\": {{\"list\": [1, 2.5, null], \"ok\": true}}}}', \
             {T1});
             INSERT INTO recordings (sid, call_id, conference_sid, status, status_rank, \
             duration_secs, url, created_at, updated_at) VALUES ('RE0001', '{call}', 'CF0001', \
             'completed', 1, 41, 'https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0001', \
             {T1}, {T2});
             INSERT INTO outbox (id, kind, key, seq, payload, status, attempts, next_attempt_at, \
             claimed_by, claimed_until, uncertain, last_error, created_at, updated_at) VALUES \
             ('{outbox}', 'airtable.update', 'record:rec1', 1, \
             '{{\"fields\": {{\"Status\": \"Completed\"}}}}', 'in_flight', 2, {T1}, 'worker-1', \
             {T2}, 1, 'Airtable said 503', {T0}, {T1});
             INSERT INTO airtable_campaigns (id, agent_id, view_name, status, claimed_by, \
             claimed_until, created_at, updated_at) VALUES ('{campaign}', '{ada}', 'Leads', \
             'paused', 'runner-1', {T1}, {T0}, {T1});
             INSERT INTO campaign_items (id, campaign_id, position, record_id, phone, state, \
             call_id, error, updated_at) VALUES ('{item}', '{campaign}', 1, 'rec1', \
             '+12025550123', 'called', '{call}', NULL, {T1});
             INSERT INTO airtable_links (call_id, record_id, campaign_id, last_enqueued, settled, \
             call_open, created_at) VALUES ('{call}', 'rec1', '{campaign}', '{{\"s\": 1}}', 0, 0, \
             {T0});
             INSERT INTO idempotency_keys (agent_id, key, fingerprint, call_id, response_status, \
             response_retry_after, response_body, created_at) VALUES ('{ada}', 'key-1', 'fp', \
             '{call}', 503, 4, '{{\"status\":\"error\"}}', {T0});
             INSERT INTO web_sessions (secret_hash, agent_id, csrf_token, created_at, expires_at) \
             VALUES ('hash-1', '{ada}', 'csrf-1', {T0}, {LATER});
             INSERT INTO admins (agent_id, promoted_by, promoted_at) VALUES ('{bob}', 'cli:ops', {T1});
             INSERT INTO invites (email, invited_by, invited_at) VALUES ('carol@example.com', \
             'cli:ops', {T1});
             INSERT INTO audit_events (id, kind, actor, subject, agent_id, client_ip, detail, \
             created_at) VALUES ('{audit}', 'verified', 'setup', 'ada@example.com', '{ada}', \
             '127.0.0.1', 'by email', {T1});
             INSERT INTO rate_limits (key, window_start, hits) VALUES ('otp:ada', {T0}, 5);
             INSERT INTO pacing (key, next_allowed_at) VALUES ('airtable:base', {LATER});"
        )
    }
}

#[tokio::test]
async fn a_database_made_by_the_portable_schema_reads_back_every_row_after_migrating() {
    for db in TestDatabase::all().await {
        let old = OldRows::new();
        old_database(&db, BEFORE_NATIVE_TYPES, &old.sql()).await;
        let store = db.store().await;
        let backend = db.backend().as_str();
        assert!(
            store.migration_status().await.unwrap().pending.is_empty(),
            "{backend}"
        );
        reads_every_row(store.as_ref(), &old, backend).await;
        // The converted rows still take part in what the service does with them.
        assert!(
            store
                .transition_call(old.call, &[CallState::Completed], CallState::Failed, None)
                .await
                .unwrap(),
            "{backend}"
        );
        assert_eq!(
            store.call_by_id(old.call).await.unwrap().unwrap().ended_at,
            Some(at(T2)),
            "{backend}: the first end stays"
        );
        let head = old.outbox.to_string();
        assert!(
            store.complete_outbox(&head, &[], "worker-1").await.unwrap(),
            "{backend}"
        );
        store.close().await;
    }
}

async fn reads_every_row(store: &dyn TestStore, old: &OldRows, backend: &str) {
    let ada = Agent {
        id: old.ada,
        email: EmailAddress::parse("ada@example.com").unwrap(),
        email_verified_at: Some(at(T0)),
        phone: Some(phone("+14155550100")),
        phone_verified_at: Some(at(T1)),
        token_version: 3,
        revoked_at: None,
        record_by_default: true,
        default_mode: CallMode::Browser,
        created_at: at(T0),
        updated_at: at(T1),
    };
    let bob = Agent {
        id: old.bob,
        email: EmailAddress::parse("bob@example.com").unwrap(),
        email_verified_at: None,
        phone: None,
        phone_verified_at: None,
        token_version: 1,
        revoked_at: Some(at(T2)),
        record_by_default: false,
        default_mode: CallMode::Phone,
        created_at: at(T1),
        updated_at: at(T2),
    };
    assert_eq!(
        store.list_agents().await.unwrap(),
        [ada.clone(), bob.clone()],
        "{backend}"
    );
    assert_eq!(
        store.agent_by_phone(&phone("+14155550100")).await.unwrap(),
        Some(ada.clone()),
        "{backend}"
    );

    let call = Call {
        id: old.call,
        agent_id: old.ada,
        mode: CallMode::Phone,
        state: CallState::Completed,
        reason: Some("hangup".into()),
        label: Some("Tuvok & Spock".into()),
        recipient: phone("+12025550123"),
        agent_endpoint: Endpoint::Phone(phone("+14155550100")),
        conference_name: old.call.conference_name(),
        conference_sid: Some("CF0001".into()),
        record: true,
        created_at: at(T0),
        updated_at: at(T2),
        ended_at: Some(at(T2)),
        duration_secs: Some(42),
    };
    assert_eq!(
        store.call_by_id(old.call).await.unwrap(),
        Some(call.clone()),
        "{backend}"
    );
    let leg = CallLeg {
        call_id: old.call,
        role: LegRole::Agent,
        call_sid: "CA0001".into(),
        status: "completed".into(),
        number: Endpoint::Phone(phone("+14155550100")),
        created_at: at(T0),
        updated_at: at(T2),
        duration_secs: Some(40),
    };
    assert_eq!(
        store.leg_by_sid("CA0001").await.unwrap(),
        Some(leg.clone()),
        "{backend}"
    );
    let event = CallEvent {
        id: old.event,
        call_id: old.call,
        source: EventSource::Call,
        kind: "completed".into(),
        call_sid: Some("CA0001".into()),
        dedupe_key: "dedupe-1".into(),
        sequence_number: Some(3),
        payload: json!({"CallStatus": "completed", "Nested": {"list": [1, 2.5, null], "ok": true}}),
        received_at: at(T1),
    };
    let recording = Recording {
        sid: "RE0001".into(),
        call_id: old.call,
        conference_sid: Some("CF0001".into()),
        status: "completed".into(),
        duration_secs: Some(41),
        url: Some("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0001".into()),
        created_at: at(T1),
        updated_at: at(T2),
    };
    let (snapshot, details) = store.call_snapshot(old.call).await.unwrap().unwrap();
    assert_eq!(snapshot, call, "{backend}");
    assert_eq!(
        details,
        CallDetails {
            agents: vec![ada.clone()],
            legs: vec![leg],
            events: vec![event.clone()],
            recordings: vec![recording],
            events_cut: Vec::new(),
        },
        "{backend}"
    );
    assert_eq!(
        store.events_for_call(old.call).await.unwrap(),
        [event],
        "{backend}"
    );

    let outbox = OutboxRow {
        id: old.outbox.to_string(),
        kind: "airtable.update".into(),
        key: "record:rec1".into(),
        seq: 1,
        payload: json!({"fields": {"Status": "Completed"}}),
        status: OutboxStatus::InFlight,
        attempts: 2,
        next_attempt_at: at(T1),
        claimed_by: Some("worker-1".into()),
        claimed_until: Some(at(T2)),
        uncertain: true,
        last_error: Some("Airtable said 503".into()),
        created_at: at(T0),
    };
    assert_eq!(
        store.outbox_for_key("record:rec1").await.unwrap(),
        [outbox],
        "{backend}"
    );

    let campaign = old.campaign.to_string();
    assert_eq!(
        store.link_for_call(old.call).await.unwrap(),
        Some(LinkedCall {
            call_id: old.call,
            record_id: "rec1".into(),
            campaign_id: Some(campaign.clone()),
            last_enqueued: "{\"s\": 1}".into(),
            state: CallState::Completed,
            reason: Some("hangup".into()),
            duration_secs: Some(42),
            record: true,
            recording_url: Some(
                "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE0001".into()
            ),
            agent_email: Some("ada@example.com".into()),
            created_at: at(T0),
            ended_at: Some(at(T2)),
        }),
        "{backend}"
    );
    assert_eq!(
        store.open_links(10).await.unwrap().len(),
        1,
        "{backend}: the link is not settled"
    );
    assert_eq!(
        store.campaign_by_id(&campaign).await.unwrap(),
        Some(Campaign {
            id: campaign.clone(),
            agent_id: old.ada,
            view: "Leads".into(),
            status: CampaignStatus::Paused,
            created_at: at(T0),
            updated_at: at(T1),
        }),
        "{backend}"
    );
    assert_eq!(
        store.campaign_items(&campaign).await.unwrap(),
        [CampaignItem {
            id: old.item.to_string(),
            campaign_id: campaign.clone(),
            position: 1,
            record_id: "rec1".into(),
            phone: Some("+12025550123".into()),
            state: ItemState::Called,
            call_id: Some(old.call),
            call_state: Some(CallState::Completed),
            error: None,
        }],
        "{backend}"
    );

    assert_eq!(
        store.key_record(old.ada, "key-1").await.unwrap(),
        Some(KeyRecord {
            fingerprint: "fp".into(),
            call_id: Some(old.call),
            response: Some(SavedResponse {
                status: 503,
                retry_after_secs: Some(4),
                body: "{\"status\":\"error\"}".into(),
            }),
        }),
        "{backend}"
    );
    assert_eq!(
        store.session("hash-1", Utc::now()).await.unwrap(),
        Some(WebSession {
            agent_id: old.ada,
            csrf_token: "csrf-1".into(),
            expires_at: at(LATER),
        }),
        "{backend}"
    );
    assert!(store.is_admin(old.bob).await.unwrap(), "{backend}");
    assert!(
        store
            .is_invited(&EmailAddress::parse("carol@example.com").unwrap())
            .await
            .unwrap(),
        "{backend}"
    );
    assert_eq!(
        store
            .audit_for_agent(old.ada, "ada@example.com", 10)
            .await
            .unwrap(),
        [AuditEvent {
            id: old.audit.to_string(),
            kind: "verified".into(),
            actor: "setup".into(),
            subject: "ada@example.com".into(),
            agent_id: Some(old.ada),
            client_ip: Some("127.0.0.1".into()),
            detail: Some("by email".into()),
            created_at: at(T1),
        }],
        "{backend}"
    );
    assert_eq!(
        store.count_hit("otp:ada", at(T0)).await.unwrap(),
        RateWindow {
            window_start: at(T0),
            hits: 6,
        },
        "{backend}"
    );
    assert_eq!(
        store
            .take_pacing_slot("airtable:base", at(T0), std::time::Duration::from_secs(1))
            .await
            .unwrap(),
        at(LATER),
        "{backend}: a slot never comes before the stored one"
    );
}

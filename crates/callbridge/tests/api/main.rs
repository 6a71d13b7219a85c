//! End-to-end tests over real HTTP and the real binary; one test binary, one module per area.

mod airtable_call;
mod airtable_campaigns;
mod airtable_load;
mod calls_dial_resilience;
mod calls_flow;
mod calls_flow_load;
mod calls_flow_webhooks;
mod calls_log;
mod calls_log_live;
mod calls_start_resilience;
mod check;
mod cli;
mod db_outage;
mod demo;
mod exposure;
mod helpers;
mod live_limits;
mod multi_instance;
mod ops;
mod proxies;
mod rejections;
mod security;
mod setup;
mod setup_cli;
mod setup_errors;
mod support;

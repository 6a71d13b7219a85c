//! Who is asking, as the rate limits and the audit log know it.

use std::net::IpAddr;

/// The client's address, as `http::client_ip` finds it behind the proxies we trust; `None` when
/// it is unknown (a server not started with connect info).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// For keys and the audit log; `unknown` when there is no address.
    pub fn label(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

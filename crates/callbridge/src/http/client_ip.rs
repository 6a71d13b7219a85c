//! Who is asking, for per-client rate limits and the audit log.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::state::AppState;

const FORWARDED_FOR: &str = "x-forwarded-for";

/// The client's address: the TCP peer, or, only with `TRUST_PROXY=1`, the first address of
/// `X-Forwarded-For` (a client can write that header itself, so it is ignored unless a proxy
/// in front of us sets it). `None` when neither is known (a server not started with connect
/// info).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub Option<IpAddr>);

impl ClientIp {
    /// For keys and the audit log; `unknown` when there is no address.
    pub fn label(&self) -> String {
        self.0
            .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
    }
}

fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get(FORWARDED_FOR)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    first
        .parse::<IpAddr>()
        .ok()
        .or_else(|| first.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

fn resolve(trust_proxy: bool, headers: &HeaderMap, peer: Option<SocketAddr>) -> ClientIp {
    let forwarded = trust_proxy.then(|| forwarded_for(headers)).flatten();
    ClientIp(forwarded.or(peer.map(|p| p.ip())))
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        Ok(resolve(state.settings.trust_proxy, &parts.headers, peer))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn with_forwarded(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn the_peer_wins_unless_the_proxy_is_trusted() {
        let peer: SocketAddr = "10.0.0.9:5555".parse().unwrap();
        let headers = with_forwarded("203.0.113.7, 10.0.0.1");
        assert_eq!(
            resolve(false, &headers, Some(peer)).label(),
            "10.0.0.9",
            "a client-written header must not move its rate limit"
        );
        assert_eq!(resolve(true, &headers, Some(peer)).label(), "203.0.113.7");
    }

    #[test]
    fn a_trusted_but_garbled_header_falls_back_to_the_peer() {
        let peer: SocketAddr = "10.0.0.9:5555".parse().unwrap();
        assert_eq!(
            resolve(true, &with_forwarded("not-an-ip"), Some(peer)).label(),
            "10.0.0.9"
        );
        assert_eq!(
            resolve(true, &with_forwarded("198.51.100.2:443"), None).label(),
            "198.51.100.2"
        );
        assert_eq!(resolve(true, &HeaderMap::new(), None).label(), "unknown");
    }
}

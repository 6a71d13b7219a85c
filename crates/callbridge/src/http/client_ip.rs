//! Finds who is asking (a [`ClientAddress`]) from the connection and the proxies we trust.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::domain::ClientAddress;
use crate::state::AppState;

const FORWARDED_FOR: &str = "x-forwarded-for";
/// More entries than any real chain of proxies writes; a longer header costs no more to read.
const MAX_HOPS: usize = 64;

/// The `proxies`-th entry from the right of every `X-Forwarded-For` line taken in order, when
/// the header has that many entries and that one is an address. Fewer entries means the request
/// did not come through all of our proxies, so the header says nothing we can trust.
fn forwarded_for(headers: &HeaderMap, proxies: usize) -> Option<IpAddr> {
    if proxies == 0 {
        return None;
    }
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all(FORWARDED_FOR) {
        let Ok(value) = value.to_str() else {
            // A line we cannot read breaks the chain: which entry is ours is unknown.
            return None;
        };
        entries.extend(value.split(','));
        if entries.len() > MAX_HOPS {
            // Only the rightmost entries matter.
            entries.drain(..entries.len() - MAX_HOPS);
        }
    }
    let index = entries.len().checked_sub(proxies)?;
    parse_entry(entries[index].trim())
}

fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The TCP peer, or, with `TRUST_PROXY=N`, the address the outermost of our N proxies saw, which
/// is the N-th entry of `X-Forwarded-For` from the right. Everything left of it was written by
/// the client and is never used.
fn resolve(trust_proxy: usize, headers: &HeaderMap, peer: Option<SocketAddr>) -> ClientAddress {
    ClientAddress(forwarded_for(headers, trust_proxy).or(peer.map(|p| p.ip())))
}

impl FromRequestParts<AppState> for ClientAddress {
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
    use std::net::Ipv4Addr;

    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn with_forwarded(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for line in lines {
            h.append(FORWARDED_FOR, HeaderValue::from_str(line).unwrap());
        }
        h
    }

    fn peer() -> SocketAddr {
        "10.0.0.9:5555".parse().unwrap()
    }

    #[test]
    fn the_peer_wins_unless_a_proxy_is_trusted() {
        let headers = with_forwarded(&["203.0.113.7, 198.51.100.4"]);
        assert_eq!(
            resolve(0, &headers, Some(peer())).label(),
            "10.0.0.9",
            "a client-written header must not move its rate limit"
        );
    }

    #[test]
    fn one_proxy_means_the_rightmost_entry() {
        // The client wrote 203.0.113.7; our proxy appended the address it saw.
        let headers = with_forwarded(&["203.0.113.7, 198.51.100.4"]);
        assert_eq!(resolve(1, &headers, Some(peer())).label(), "198.51.100.4");
        assert_eq!(
            resolve(1, &with_forwarded(&["198.51.100.4"]), Some(peer())).label(),
            "198.51.100.4"
        );
    }

    #[test]
    fn n_proxies_mean_the_nth_entry_from_the_right_across_header_lines() {
        let headers = with_forwarded(&["203.0.113.7, 198.51.100.4", "10.1.1.1"]);
        assert_eq!(resolve(2, &headers, Some(peer())).label(), "198.51.100.4");
        assert_eq!(resolve(1, &headers, Some(peer())).label(), "10.1.1.1");
    }

    #[test]
    fn too_few_entries_or_a_garbled_one_fall_back_to_the_peer() {
        let headers = with_forwarded(&["198.51.100.4"]);
        assert_eq!(resolve(2, &headers, Some(peer())).label(), "10.0.0.9");
        assert_eq!(
            resolve(1, &with_forwarded(&["not-an-ip"]), Some(peer())).label(),
            "10.0.0.9"
        );
        assert_eq!(
            resolve(1, &with_forwarded(&["198.51.100.2:443"]), None).label(),
            "198.51.100.2"
        );
        assert_eq!(resolve(1, &HeaderMap::new(), None).label(), "unknown");
    }

    fn address() -> impl Strategy<Value = IpAddr> {
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n)))
    }

    proptest! {
        /// Whatever the client writes in front, the address our proxies appended is the answer.
        #[test]
        fn what_the_client_writes_never_decides(
            client_written in proptest::collection::vec("[ -~]{0,20}", 0..6),
            appended in proptest::collection::vec(address(), 1..5),
        ) {
            let mut entries = client_written;
            entries.extend(appended.iter().map(ToString::to_string));
            let line = entries.join(",");
            prop_assume!(HeaderValue::from_str(&line).is_ok());
            let headers = with_forwarded(&[&line]);
            let got = resolve(appended.len(), &headers, Some(peer()));
            prop_assert_eq!(got, ClientAddress(Some(appended[0])));
        }

        #[test]
        fn arbitrary_headers_never_panic(
            lines in proptest::collection::vec("[ -~]{0,40}", 0..4),
            proxies in 0usize..8,
        ) {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let headers = with_forwarded(&lines);
            let got = resolve(proxies, &headers, Some(peer()));
            if proxies == 0 {
                prop_assert_eq!(got.label(), "10.0.0.9");
            }
        }
    }
}

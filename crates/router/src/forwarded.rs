//! What the proxy changes in a request's headers on the way to a sandbox: hop-by-hop headers out
//! (RFC 9110 §7.6.1), `Upgrade` kept for a protocol switch, `Host` kept, `X-Forwarded-*` in.

use std::net::SocketAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::Uri;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Hop-by-hop headers (RFC 9110 §7.6.1), besides those a `Connection` header names.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Whether the client asks to switch protocols (WebSocket): `Connection: upgrade` and `Upgrade`.
pub(crate) fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// Removes hop-by-hop headers (and those `Connection` names); keeps `Upgrade` with
/// `Connection: upgrade` when the protocol switch goes through.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(&HOP_BY_HOP) {
        if !(upgrade && *name == header::UPGRADE) {
            headers.remove(name);
        }
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(header::UPGRADE);
    }
}

/// Hop-by-hop headers out, `Host` kept (HTTP/2 clients send it as the authority), `X-Forwarded-*` in.
pub(crate) fn prepare_request(
    headers: &mut HeaderMap,
    uri: &Uri,
    peer: SocketAddr,
    proto: &HeaderValue,
    upgrade: bool,
) {
    strip_hop_by_hop(headers, upgrade);
    if !headers.contains_key(header::HOST)
        && let Some(v) = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        headers.insert(header::HOST, v);
    }
    let ip = peer.ip().to_canonical();
    let forwarded_for = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(before) => HeaderValue::from_str(&format!("{before}, {ip}")),
        None => HeaderValue::from_str(&ip.to_string()),
    };
    if let Ok(v) = forwarded_for {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers.insert(X_FORWARDED_PROTO, proto.clone());
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.insert(X_FORWARDED_HOST, host);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go_and_forwarded_ones_come() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic x"),
            ("upgrade", "h2c"),
            ("x-forwarded-for", "10.0.0.1"),
            ("host", "3000-abcdefgh1234.sandbox.localhost:8080"),
            ("x-kept", "yes"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let peer: SocketAddr = "[::ffff:192.0.2.7]:5000".parse().unwrap();
        prepare_request(
            &mut h,
            &Uri::from_static("/"),
            peer,
            &HeaderValue::from_static("https"),
            false,
        );
        let names: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
        for gone in [
            "connection",
            "keep-alive",
            "x-secret",
            "te",
            "proxy-authorization",
            "upgrade",
        ] {
            assert!(!names.contains(&gone), "{gone} still in {names:?}");
        }
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 192.0.2.7");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert_eq!(
            h["x-forwarded-host"],
            "3000-abcdefgh1234.sandbox.localhost:8080"
        );
        assert_eq!(h["x-kept"], "yes");
    }

    #[test]
    fn upgrades_keep_their_headers_and_http2_gets_a_host() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(wants_upgrade(&h));
        let uri = Uri::from_static("http://abcdefgh1234.sandbox.localhost/terminal");
        prepare_request(
            &mut h,
            &uri,
            "127.0.0.1:1".parse().unwrap(),
            &HeaderValue::from_static("http"),
            true,
        );
        assert_eq!(h[header::CONNECTION], "upgrade");
        assert_eq!(h[header::UPGRADE], "websocket");
        assert_eq!(h[header::HOST], "abcdefgh1234.sandbox.localhost");
        h.remove(header::UPGRADE);
        assert!(!wants_upgrade(&h));
    }
}

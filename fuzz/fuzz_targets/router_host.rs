//! The router's `Host` parser: never panics, and whatever it accepts is one lower-case sandbox id
//! label (with an optional port) directly below the domain, which parses back to the same target.
#![no_main]

use router::host::{Target, parse};
use libfuzzer_sys::fuzz_target;

const DOMAIN: &str = "sandbox.localhost";

fuzz_target!(|host: &str| {
    let Some(parsed) = parse(host, DOMAIN) else {
        return;
    };
    let id = parsed.id();
    assert!(!id.is_empty() && id.len() <= 63, "{host:?}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "{host:?}"
    );
    let label = match parsed.target {
        Target::Agent => id.to_owned(),
        Target::Port(p) => {
            assert!(p != 0 && p != 7777, "{host:?}");
            format!("{p}-{id}")
        }
    };
    let again = parse(&format!("{label}.{DOMAIN}"), DOMAIN).expect("the canonical form parses");
    assert_eq!(again, parsed, "{host:?}");
    // The host names the domain: nothing but a port may follow it.
    let lower = host.to_ascii_lowercase();
    let at = lower.find(DOMAIN).expect("the domain is in the host");
    let rest = lower[at + DOMAIN.len()..].trim_start_matches('.');
    assert!(
        rest.is_empty() || (rest.starts_with(':') && rest[1..].bytes().all(|b| b.is_ascii_digit())),
        "{host:?}"
    );
});

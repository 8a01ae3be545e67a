//! Which sandbox a `Host` names: `{id}.{domain}` and `7777-{id}.{domain}` are the agent,
//! `{port}-{id}.{domain}` is that port in the sandbox. Parsed without allocating.

use db::ids;

/// The port the agent listens on inside every sandbox.
pub const AGENT_PORT: u16 = 7777;

/// What a sandbox host reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The sandbox's agent: token required.
    Agent,
    /// A port preview: public unless the sandbox has private previews.
    Port(u16),
}

/// A parsed sandbox host: the (lower-cased) sandbox id and the target.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SandboxHost {
    id: [u8; MAX_LABEL],
    id_len: u8,
    pub target: Target,
}

/// The longest DNS label.
const MAX_LABEL: usize = 63;

impl SandboxHost {
    pub fn id(&self) -> &str {
        // Only ASCII lower-case letters and digits are ever copied in (checked by `is_sandbox_id`).
        std::str::from_utf8(&self.id[..usize::from(self.id_len)]).unwrap_or_default()
    }

    /// The port reached inside the sandbox.
    pub fn port(&self) -> u16 {
        match self.target {
            Target::Agent => AGENT_PORT,
            Target::Port(p) => p,
        }
    }
}

impl std::fmt::Debug for SandboxHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHost")
            .field("id", &self.id())
            .field("target", &self.target)
            .finish()
    }
}

/// Parses `host` (a `Host` header or an HTTP/2 authority, port allowed) against `domain` (lower-case,
/// without a leading dot). `None` for every host that is not exactly one valid label below `domain`.
pub fn parse(host: &str, domain: &str) -> Option<SandboxHost> {
    let name = strip_port(host);
    let name = name.strip_suffix('.').unwrap_or(name);
    let split = name.len().checked_sub(domain.len() + 1)?;
    if split == 0 || !name.is_char_boundary(split) {
        return None;
    }
    let (label, suffix) = name.split_at(split);
    let suffix = suffix.as_bytes();
    if suffix[0] != b'.' || !suffix[1..].eq_ignore_ascii_case(domain.as_bytes()) {
        return None;
    }
    if label.len() > MAX_LABEL || label.contains('.') {
        return None;
    }
    let (target, id) = match label.split_once('-') {
        Some((port, id)) => {
            let digits_only =
                !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
            let port: u16 = port.parse().ok().filter(|p| digits_only && *p != 0)?;
            let target = if port == AGENT_PORT {
                Target::Agent
            } else {
                Target::Port(port)
            };
            (target, id)
        }
        None => (Target::Agent, label),
    };
    let mut buf = [0u8; MAX_LABEL];
    let lower = &mut buf[..id.len()];
    lower.copy_from_slice(id.as_bytes());
    lower.make_ascii_lowercase();
    let lower_str = std::str::from_utf8(lower).ok()?;
    if !ids::is_sandbox_id(lower_str) {
        return None;
    }
    Some(SandboxHost {
        id: buf,
        id_len: u8::try_from(id.len()).ok()?,
        target,
    })
}

/// `name:port` → `name`; IPv6 literals (`[::1]:80`) are returned whole (they never match a domain).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: &str = "sandbox.localhost";

    fn target(host: &str) -> Option<(String, Target)> {
        parse(host, D).map(|h| (h.id().to_owned(), h.target))
    }

    #[test]
    fn agent_and_port_hosts() {
        let agent = Some(("abcdefgh1234".to_owned(), Target::Agent));
        assert_eq!(target("abcdefgh1234.sandbox.localhost"), agent);
        assert_eq!(target("abcdefgh1234.sandbox.localhost:8080"), agent);
        assert_eq!(target("7777-abcdefgh1234.sandbox.localhost:8080"), agent);
        assert_eq!(target("ABCDEFGH1234.Sandbox.LOCALHOST."), agent);
        assert_eq!(
            target("3000-abcdefgh1234.sandbox.localhost"),
            Some(("abcdefgh1234".to_owned(), Target::Port(3000)))
        );
        assert_eq!(
            parse("1-abcdefgh1234.sandbox.localhost", D).map(|h| h.port()),
            Some(1)
        );
    }

    #[test]
    fn everything_else_is_not_a_sandbox_host() {
        for host in [
            "",
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "sandbox.localhost",
            ".sandbox.localhost",
            "api.sandbox.localhost",
            "abcdefgh1234.other.localhost",
            "abcdefgh1234sandbox.localhost",
            "x.abcdefgh1234.sandbox.localhost",
            "0-abcdefgh1234.sandbox.localhost",
            "65536-abcdefgh1234.sandbox.localhost",
            "+80-abcdefgh1234.sandbox.localhost",
            "80--abcdefgh1234.sandbox.localhost",
            "-abcdefgh1234.sandbox.localhost",
            "1abcdefgh123.sandbox.localhost",
            "abcdefgh1234.sandbox.localhost:x",
            "\u{10000}0\u{800}\u{10000}\u{10000}A0 ",
            "abcdéfgh1234.sandbox.localhost",
        ] {
            assert_eq!(target(host), None, "{host:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(host in ".{0,80}") {
            let _ = parse(&host, D);
        }

        #[test]
        fn round_trips(id in "[a-z][a-z0-9]{11}", port in proptest::option::of(1u16..), tail in proptest::option::of(1u16..)) {
            let label = match port {
                Some(p) => format!("{p}-{id}"),
                None => id.clone(),
            };
            let host = match tail {
                Some(t) => format!("{label}.{D}:{t}"),
                None => format!("{label}.{D}"),
            };
            let parsed = parse(&host, D).expect("parses");
            prop_assert_eq!(parsed.id(), id.as_str());
            prop_assert_eq!(parsed.port(), port.unwrap_or(AGENT_PORT));
        }
    }
}

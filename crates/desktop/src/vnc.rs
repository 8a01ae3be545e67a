//! The VNC server and the links to the browser viewer.
//!
//! x11vnc runs as a supervised program of the [`Stack`](crate::stack::Stack) on `127.0.0.1:5900`
//! only, and always with a password: the one given to [`start`], else one generated at the first
//! start (8 random alphanumerics; classic VNC authentication uses 8 characters). The password lives
//! in an rfbauth file (`x11vnc -storepasswd`) in a directory `mktemp -d` made as the sandbox user
//! (0700), so the agent, which is root, never writes into a path the sandbox user could have planted.
//! A browser reaches the server through the agent's viewer on port 6080 (noVNC and an
//! RFB-over-WebSocket bridge, in the agent), behind the router's preview-token check.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use rand::Rng as _;
use sandbox_token::{PreviewClaims, TokenKey};
use serde::Serialize;

use crate::stack::Spec;
use crate::{Desktop, DesktopError, DesktopResult};

/// The RFB port x11vnc listens on, on loopback only.
pub const RFB_PORT: u16 = 5900;
/// Where the bridge reaches x11vnc.
pub const RFB_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), RFB_PORT);
/// The stack's name of the service.
const SERVICE: &str = "vnc";
/// Classic VNC authentication uses (at most) 8 characters.
pub const PASSWORD_LEN: usize = 8;
/// How long a start waits for x11vnc to accept connections.
pub const LISTEN_WAIT: Duration = Duration::from_secs(3);
const RUN_TIMEOUT: Duration = Duration::from_secs(10);

/// The VNC server's settings and the viewer's link.
pub struct Vnc {
    conf: Mutex<Conf>,
    /// Serialises starts and stops (each writes files and waits for the port).
    op: tokio::sync::Mutex<Files>,
}

#[derive(Default)]
struct Conf {
    /// The password x11vnc runs with (kept across a stop: the next start reuses it).
    password: Option<String>,
    /// `http://6080-{id}.{domain}`, as the control plane said.
    viewer_base: Option<String>,
    preview_epoch: i64,
}

#[derive(Default)]
struct Files {
    /// The sandbox user's private directory for the rfbauth file.
    dir: Option<String>,
    /// The rfbauth file x11vnc runs with, and how many have been written.
    rfbauth: Option<String>,
    written: u32,
}

/// Signs the viewer's preview token with the agent's current key.
#[derive(Clone)]
pub struct PreviewSigner {
    pub sandbox_id: String,
    pub key: TokenKey,
    /// The viewer's port (`DESKTOP_VIEWER_PORT`).
    pub port: u16,
    /// Expiry of the tokens it signs, unix seconds (now + the longest lifetime the router accepts).
    pub expires_at: i64,
}

impl PreviewSigner {
    /// A preview token for the viewer's port only, at the sandbox's preview `epoch`.
    pub fn sign(&self, epoch: i64) -> String {
        self.key.sign_preview(&PreviewClaims {
            sandbox_id: self.sandbox_id.clone(),
            port: Some(self.port),
            epoch,
            expires_at: self.expires_at,
        })
    }
}

/// What `GET /desktop/vnc/status` answers.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct VncStatus {
    pub running: bool,
    /// The X display number (`1` for `:1`).
    pub display: u32,
    pub port: u16,
    /// The browser viewer, connecting at once with the password (what the SDKs' `get_vnc_url`
    /// returns); `null` while the viewer's address is unknown.
    pub url: Option<String>,
    /// The browser viewer without the password (it asks for it).
    pub viewer_url: Option<String>,
    /// The RFB-over-WebSocket endpoint, for other noVNC-style clients.
    pub websocket_url: Option<String>,
    pub password: Option<String>,
}

impl Vnc {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self {
            conf: Mutex::default(),
            op: tokio::sync::Mutex::default(),
        }
    }

    /// Where a browser reaches the viewer (`http://6080-{id}.{domain}`) and the preview epoch its
    /// links are signed with, as the control plane said at create or at the configure step.
    pub fn set_link(&self, viewer_base: Option<String>, preview_epoch: i64) {
        let mut conf = self.conf.lock().unwrap_or_else(|e| e.into_inner());
        conf.viewer_base = viewer_base
            .map(|b| b.trim_end_matches('/').to_owned())
            .filter(|b| !b.is_empty());
        conf.preview_epoch = preview_epoch;
    }

    /// A new preview epoch (the sandbox's preview links were revoked): links are signed with it from now.
    pub fn set_epoch(&self, preview_epoch: i64) {
        self.conf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .preview_epoch = preview_epoch;
    }

    fn password(&self) -> Option<String> {
        self.conf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .password
            .clone()
    }
}

/// 400 unless `display` (when given) is the sandbox's display.
pub fn check_display(desktop: &Desktop, display: Option<i64>) -> DesktopResult<()> {
    match display {
        None => Ok(()),
        Some(d) if d == i64::from(desktop.options.display) => Ok(()),
        Some(d) => Err(DesktopError::invalid(format!(
            "display {d} does not exist; this sandbox's display is {}",
            desktop.options.display
        ))
        .with_detail("display", desktop.options.display)),
    }
}

/// 400 unless `password` is 1 to 8 printable ASCII characters (no spaces).
pub fn check_password(password: &str) -> DesktopResult<()> {
    if password.is_empty() {
        return Err(DesktopError::invalid("password must not be empty"));
    }
    if password.len() > PASSWORD_LEN || !password.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DesktopError::invalid(format!(
            "password must be 1 to {PASSWORD_LEN} printable ASCII characters without spaces \
             (VNC authentication uses {PASSWORD_LEN})"
        )));
    }
    Ok(())
}

/// 8 random alphanumerics from the OS's generator.
pub fn generate_password() -> String {
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// Starts x11vnc (or restarts it with a new `password`) and waits until it accepts connections.
/// Without a password, the current one is kept, or one is generated at the first start.
pub async fn start(desktop: &Desktop, password: Option<String>) -> DesktopResult<()> {
    if let Some(p) = &password {
        check_password(p)?;
    }
    let mut files = desktop.vnc.op.lock().await;
    let current = desktop.vnc.password();
    let password = password
        .or_else(|| current.clone())
        .unwrap_or_else(generate_password);
    if files.rfbauth.is_none() || current.as_deref() != Some(&password) {
        let file = write_rfbauth(desktop, &mut files, &password).await?;
        let old = files.rfbauth.replace(file);
        desktop
            .vnc
            .conf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .password = Some(password);
        if let Some(old) = old {
            // x11vnc is restarted with the new file below; the old one is no longer read.
            let _ = desktop
                .run("rm", &["-f".into(), old], None, RUN_TIMEOUT)
                .await;
        }
    }
    let rfbauth = files.rfbauth.clone().unwrap_or_default();
    let spec = Spec {
        program: "x11vnc".into(),
        args: x11vnc_args(&desktop.display(), &rfbauth),
        env: desktop.env(),
    };
    // A new password restarts x11vnc: the old one, still listening while it stops, does not count.
    let stale = desktop.stack.pid(SERVICE).filter(|_| {
        desktop
            .stack
            .wanted(SERVICE)
            .is_some_and(|wanted| wanted != spec)
    });
    desktop.stack.run(SERVICE, spec);
    let deadline = tokio::time::Instant::now() + LISTEN_WAIT;
    while desktop
        .stack
        .pid(SERVICE)
        .is_none_or(|pid| Some(pid) == stale)
    {
        if tokio::time::Instant::now() >= deadline {
            return Err(DesktopError::failed(
                "the VNC server did not start (see /desktop/debug/logs)",
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_listening(deadline.saturating_duration_since(tokio::time::Instant::now())).await
}

/// Stops x11vnc (open viewers are disconnected); the password is kept for the next start.
pub async fn stop(desktop: &Desktop) {
    let _files = desktop.vnc.op.lock().await;
    desktop.stack.stop(SERVICE);
}

/// Whether x11vnc is wanted and running.
pub fn running(desktop: &Desktop) -> bool {
    desktop.stack.wanted(SERVICE).is_some() && desktop.stack.pid(SERVICE).is_some()
}

/// The server's state and the viewer's links, signed by `signer` (none: the agent has no key yet).
pub fn status(desktop: &Desktop, signer: Option<&PreviewSigner>) -> VncStatus {
    let (password, base, epoch) = {
        let conf = desktop.vnc.conf.lock().unwrap_or_else(|e| e.into_inner());
        (
            conf.password.clone(),
            conf.viewer_base.clone(),
            conf.preview_epoch,
        )
    };
    let links = match (base, signer) {
        (Some(base), Some(signer)) => Some(links(&base, &signer.sign(epoch), password.as_deref())),
        _ => None,
    };
    let (url, viewer_url, websocket_url) = match links {
        Some(l) => (Some(l.url), Some(l.viewer_url), Some(l.websocket_url)),
        None => (None, None, None),
    };
    VncStatus {
        running: running(desktop),
        display: desktop.options.display,
        port: RFB_PORT,
        url,
        viewer_url,
        websocket_url,
        password,
    }
}

/// The viewer's three links.
#[derive(Debug, PartialEq, Eq)]
pub struct Links {
    pub url: String,
    pub viewer_url: String,
    pub websocket_url: String,
}

/// The links under `base` (`http://6080-{id}.{domain}`) with the preview `token`; `url` carries the
/// password in its fragment, which browsers never send to a server.
pub fn links(base: &str, token: &str, password: Option<&str>) -> Links {
    let base = base.trim_end_matches('/');
    let token = encode(token);
    let viewer_url = format!(
        "{base}/vnc.html?autoconnect=1&resize=scale&path=websockify&warren_preview={token}"
    );
    let url = match password {
        Some(p) => format!("{viewer_url}#password={}", encode(p)),
        None => viewer_url.clone(),
    };
    let ws_base = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_owned()
    };
    Links {
        url,
        viewer_url,
        websocket_url: format!("{ws_base}/websockify?warren_preview={token}"),
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// x11vnc on loopback, for as many viewers as connect, with the password file.
pub fn x11vnc_args(display: &str, rfbauth: &str) -> Vec<String> {
    crate::args(&[
        "-display",
        display,
        "-rfbport",
        "5900",
        "-localhost",
        "-forever",
        "-shared",
        "-rfbauth",
        rfbauth,
        "-noxdamage",
        "-quiet",
    ])
}

/// Writes `password` to a new rfbauth file in the sandbox user's private directory.
async fn write_rfbauth(
    desktop: &Desktop,
    files: &mut Files,
    password: &str,
) -> DesktopResult<String> {
    let dir = match &files.dir {
        Some(d) => d.clone(),
        None => {
            let out = desktop
                .run_ok(
                    "mktemp",
                    &["-d".into(), "/tmp/warren-vnc.XXXXXXXXXX".into()],
                    None,
                    RUN_TIMEOUT,
                )
                .await?;
            let dir = out.stdout.trim().to_owned();
            if !dir.starts_with("/tmp/warren-vnc.") {
                return Err(DesktopError::failed(
                    "mktemp made no directory for the VNC password",
                ));
            }
            files.dir = Some(dir.clone());
            dir
        }
    };
    files.written += 1;
    let file = format!("{dir}/passwd.{}", files.written);
    desktop
        .run_ok(
            "x11vnc",
            &["-storepasswd".into(), password.into(), file.clone()],
            None,
            RUN_TIMEOUT,
        )
        .await?;
    Ok(file)
}

/// Waits until something accepts connections on [`RFB_ADDR`], at most `timeout`.
pub async fn wait_listening(timeout: Duration) -> DesktopResult<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if tokio::net::TcpStream::connect(RFB_ADDR).await.is_ok() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DesktopError::failed(format!(
                "the VNC server did not listen within {} s (see /desktop/debug/logs)",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_carry_the_preview_token_and_the_password_in_the_fragment() {
        let l = links(
            "http://6080-sbx.sandbox.localhost:8080/",
            "pv.sbx.6080.0.9.s-g_",
            Some("a b&c"),
        );
        assert_eq!(
            l.viewer_url,
            "http://6080-sbx.sandbox.localhost:8080/vnc.html?autoconnect=1&resize=scale\
             &path=websockify&warren_preview=pv.sbx.6080.0.9.s-g_"
        );
        assert_eq!(l.url, format!("{}#password=a%20b%26c", l.viewer_url));
        assert_eq!(
            l.websocket_url,
            "ws://6080-sbx.sandbox.localhost:8080/websockify?warren_preview=pv.sbx.6080.0.9.s-g_"
        );
        let tls = links("https://6080-sbx.example.com", "t", None);
        assert_eq!(tls.url, tls.viewer_url);
        assert_eq!(
            tls.websocket_url,
            "wss://6080-sbx.example.com/websockify?warren_preview=t"
        );
    }

    #[test]
    fn passwords_are_one_to_eight_printable_characters() {
        for ok in ["a", "12345678", "p@ss!~"] {
            assert!(check_password(ok).is_ok(), "{ok}");
        }
        for bad in ["", "123456789", "has space", "tab\t", "é"] {
            let e = check_password(bad).unwrap_err();
            assert_eq!((e.status, e.code), (400, "INVALID_REQUEST"), "{bad}");
        }
        let generated = generate_password();
        assert_eq!(generated.len(), PASSWORD_LEN);
        assert!(generated.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(check_password(&generated).is_ok());
        assert_ne!(generate_password(), generated);
    }

    #[test]
    fn x11vnc_listens_on_loopback_with_the_password_file() {
        let args = x11vnc_args(":1", "/tmp/warren-vnc.x/passwd.1");
        let joined = args.join(" ");
        assert_eq!(
            joined,
            "-display :1 -rfbport 5900 -localhost -forever -shared -rfbauth \
             /tmp/warren-vnc.x/passwd.1 -noxdamage -quiet"
        );
    }

    #[test]
    fn preview_tokens_open_only_the_viewer_port_at_the_epoch() {
        let key = TokenKey::generate();
        let signer = PreviewSigner {
            sandbox_id: "sbx".into(),
            key: key.clone(),
            port: 6080,
            expires_at: 2_000_003_600,
        };
        let token = signer.sign(4);
        let ring = sandbox_token::KeyRing::new(key);
        let target = |port, epoch| sandbox_token::PreviewTarget {
            sandbox_id: "sbx",
            port,
            epoch,
        };
        let now = 2_000_000_000;
        let claims = ring
            .verify_preview(&token, target(6080, 4), now, 3600)
            .unwrap();
        assert_eq!(claims.port, Some(6080));
        assert!(
            ring.verify_preview(&token, target(8080, 4), now, 3600)
                .is_err()
        );
        assert!(
            ring.verify_preview(&token, target(6080, 5), now, 3600)
                .is_err()
        );

        let vnc = Vnc::new();
        vnc.set_link(Some("http://6080-sbx.sandbox.localhost:8080/".into()), 4);
        let base = vnc.conf.lock().unwrap().viewer_base.clone();
        assert_eq!(
            base.as_deref(),
            Some("http://6080-sbx.sandbox.localhost:8080")
        );
        vnc.set_link(Some(String::new()), 0);
        assert!(vnc.conf.lock().unwrap().viewer_base.is_none());
    }
}

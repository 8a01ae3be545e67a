//! `GET /_warren/activity`: whether the sandbox has work under way, for the control plane's idle
//! pauser (docs/auto-pause.md). Work is: requests running code or commands, background processes,
//! open WebSocket streams (terminals) and TCP listeners of user code on a non-loopback address (a
//! preview may reach them). The idle Python kernel, the desktop's programs (x11vnc listens on
//! loopback only) and the agent itself are not.

use std::sync::atomic::Ordering;

use api_types::agent::{Activity, ProcessStatus};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

/// TCP state `LISTEN` in `/proc/net/tcp`.
const LISTEN: &str = "0A";

pub fn routes() -> Router<AppState> {
    Router::new().route("/_warren/activity", get(activity))
}

async fn activity(State(state): State<AppState>) -> Json<Activity> {
    let executions = state.config.max_concurrent - state.permits.available_permits();
    let background = state
        .background
        .list()
        .iter()
        .filter(|p| p.status == ProcessStatus::Running)
        .count();
    let streams = state.active_streams.load(Ordering::Acquire);
    let mut listening: Vec<u16> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| user_listeners(&table))
        .collect();
    listening.sort_unstable();
    listening.dedup();
    let busy = executions > 0 || background > 0 || streams > 0 || !listening.is_empty();
    Json(Activity {
        busy,
        executions,
        background,
        streams,
        listening,
    })
}

/// The ports of `LISTEN` sockets in a `/proc/net/tcp{,6}` table owned by a user other than root
/// (the agent) and bound beyond loopback.
fn user_listeners(table: &str) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|row| {
            let f: Vec<&str> = row.split_whitespace().collect();
            let (local, state, uid) = (f.get(1)?, f.get(3)?, f.get(7)?);
            let (addr, port) = local.split_once(':')?;
            let user = *uid != "0";
            (*state == LISTEN && user && !loopback(addr))
                .then(|| u16::from_str_radix(port, 16).ok())?
        })
        .collect()
}

/// Whether a `/proc/net/tcp{,6}` address (hex, in the kernel's byte order) is a loopback one:
/// 127.0.0.0/8, `::1`, or `::ffff:127.x.x.x`.
fn loopback(addr: &str) -> bool {
    let v4 = |hex: &str| hex.len() == 8 && hex.ends_with("7F");
    match addr.len() {
        8 => v4(addr),
        32 => {
            addr == "00000000000000000000000001000000"
                || (addr.starts_with("0000000000000000FFFF0000") && v4(&addr[24..]))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_listeners_beyond_loopback_are_work() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 00000000:1E61 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n\
            1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2 1\n\
            2: 0100007F:170C 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 3 1\n\
            3: 0200A8C0:0BB8 0300A8C0:D431 01 00000000:00000000 00:00000000 00000000  1000        0 4 1\n";
        // 7777 is the agent's (root), 5900 on 127.0.0.1 is loopback, 3000 is an established
        // connection: only 8080 of user code counts.
        assert_eq!(user_listeners(tcp), [8080]);
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 00000000000000000000000000000000:1388 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 5 1\n\
            1: 00000000000000000000000001000000:1389 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 6 1\n\
            2: 0000000000000000FFFF00000100007F:138A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 7 1\n";
        assert_eq!(user_listeners(tcp6), [5000]);
    }
}

//! Paths sent to the agent's read-only files routes (read, list, exists, download) through its real
//! router: never a panic or a 5xx. Reads only: the fuzzed paths reach the machine's real files.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use warren_fuzz::{agent, assert_not_5xx};

const ROUTES: &[&str] = &[
    "/files/read",
    "/files/list",
    "/files/exists",
    "/files/download",
];

fuzz_target!(|input: (u8, &str)| {
    let (route, path) = input;
    let route = ROUTES[usize::from(route) % ROUTES.len()];
    let mut query = String::from("path=");
    for b in path.bytes() {
        query.push_str(&format!("%{b:02X}"));
    }
    let req = Request::get(format!("{route}?{query}"))
        .body(Body::empty())
        .expect("request");
    let (status, body) = agent().call(req);
    assert_not_5xx(status, &body, &(route, path));
});

//! Input no process can take (a NUL byte, an argument over the kernel's 128 KiB limit, a variable
//! name with `=`) gets a 400 in the error envelope on every route that starts a process, never a 500,
//! and never breaks later commands.

use serde_json::{Value, json};

use crate::helpers::{TestAgent, error_code};

/// Three hundred kilobytes: over the kernel's single-argument limit (MAX_ARG_STRLEN, 128 KiB).
const LONG: usize = 300 * 1024;

#[tokio::test]
async fn nul_bytes_in_commands_and_env_get_400_on_every_route() {
    let agent = TestAgent::start().await;
    let cases: [(&str, Value, &str); 9] = [
        (
            "/commands/run",
            json!({"command": "echo a\u{0}b"}),
            "INVALID_REQUEST",
        ),
        (
            "/commands/run",
            json!({"command": "echo", "args": ["a\u{0}"]}),
            "INVALID_REQUEST",
        ),
        (
            "/commands/run",
            json!({"command": "true", "env": {"X": "a\u{0}b"}}),
            "INVALID_ENV",
        ),
        (
            "/commands/run",
            json!({"command": "true", "env": {"X\u{0}Y": "v"}}),
            "INVALID_ENV",
        ),
        (
            "/commands/background",
            json!({"command": "echo a\u{0}b"}),
            "INVALID_REQUEST",
        ),
        (
            "/execute",
            json!({"language": "bash", "code": "true", "env": {"X": "\u{0}"}}),
            "INVALID_ENV",
        ),
        (
            "/execute",
            json!({"language": "python", "code": "1", "env": {"X": "\u{0}"}}),
            "INVALID_ENV",
        ),
        (
            "/execute/background",
            json!({"language": "bash", "code": "true", "env": {"=": "v"}}),
            "INVALID_ENV",
        ),
        (
            "/execute",
            json!({"language": "bash", "code": "true", "workdir": "/tmp\u{0}x"}),
            "INVALID_PATH",
        ),
    ];
    for (path, body, code) in cases {
        let (status, res) = agent.post_json(path, body.clone()).await;
        assert_eq!((status, error_code(&res)), (400, code), "{path} {body}");
    }
    for path in ["/commands/stream", "/execute/stream"] {
        let mut ws = agent.ws(path).await;
        ws.send_json(
            json!({"command": "echo a\u{0}", "language": "bash", "code": "true",
                            "env": {"X": "\u{0}"}}),
        )
        .await;
        let frames = ws.until("complete").await;
        let error = frames
            .iter()
            .find(|f| f["type"] == "error")
            .expect("an error frame");
        assert!(
            matches!(
                error["code"].as_str(),
                Some("INVALID_REQUEST" | "INVALID_ENV")
            ),
            "{error}"
        );
    }
    // NUL in code is the interpreter's business: a failed run, not a failed request.
    let (status, res) = agent
        .post_json(
            "/execute",
            json!({"language": "python", "code": "print(1)\u{0}"}),
        )
        .await;
    assert_eq!(status, 200, "{res}");
    assert_eq!(res["success"], false);
}

#[tokio::test]
async fn env_no_process_can_hold_is_refused_and_commands_keep_working() {
    let agent = TestAgent::start().await;
    for bad in [
        json!({"A\u{0}B": "v"}),
        json!({"A=B": "v"}),
        json!({"": "v"}),
        json!({"A": "\u{0}"}),
    ] {
        for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
            let req = agent
                .http
                .request(method.clone(), agent.url("/env"))
                .bearer_auth(&agent.token)
                .json(&json!({"env_vars": bad}));
            let (status, res) = crate::helpers::send(req).await;
            assert_eq!(
                (status, error_code(&res)),
                (400, "INVALID_ENV"),
                "{method} {bad}"
            );
        }
    }
    let (status, env) = agent.get_json("/env").await;
    assert_eq!((status, env["count"].clone()), (200, json!(0)));
    let (status, out) = agent
        .post_json("/commands/run", json!({"command": "echo ok"}))
        .await;
    assert_eq!(
        (status, out["stdout"].as_str()),
        (200, Some("ok\n")),
        "{out}"
    );
}

#[tokio::test]
async fn a_300_kb_shell_command_runs_and_a_300_kb_argument_is_a_clear_400() {
    let agent = TestAgent::start().await;
    let word = "x".repeat(LONG);
    let script = format!("printf %s {word} | wc -c");
    for body in [
        json!({"command": script}),
        json!({"command": "bash", "args": ["-c", script]}),
    ] {
        for path in ["/commands/run", "/commands/background"] {
            let (status, out) = agent.post_json(path, body.clone()).await;
            assert_eq!(status, 200, "{path} {out}");
            if path == "/commands/run" {
                assert_eq!(
                    out["stdout"].as_str().map(str::trim),
                    Some(LONG.to_string().as_str())
                );
                assert_eq!(out["command"].as_str().map(str::len), Some(script.len()));
            }
        }
    }
    let mut ws = agent.ws("/commands/stream").await;
    ws.send_json(json!({"command": script})).await;
    let frames = ws.until("complete").await;
    assert_eq!(frames.last().unwrap()["success"], true, "{frames:?}");
    // The scratch files of long commands are gone once they ran.
    let tmp = agent.workspace.parent().unwrap().join("tmp");
    let scratch_left = || std::fs::read_dir(&tmp).unwrap().count();
    for _ in 0..100 {
        if scratch_left() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(scratch_left(), 0);
    for body in [
        json!({"command": "echo", "args": [word]}),
        json!({"command": "true", "env": {"BIG": word}}),
    ] {
        let (status, res) = agent.post_json("/commands/run", body).await;
        assert_eq!(
            (status, error_code(&res)),
            (400, "ARGUMENT_TOO_LONG"),
            "{res}"
        );
    }
    let (status, res) = agent
        .post_json(
            "/execute",
            json!({"language": "bash", "code": "true", "env": {"BIG": word}}),
        )
        .await;
    assert_eq!((status, error_code(&res)), (400, "ARGUMENT_TOO_LONG"));
}

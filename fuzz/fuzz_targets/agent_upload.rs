//! Multipart bodies of `/files/upload` through the agent's real router: Warren's handler around the
//! multipart parser (field order, missing parts, file names, sizes) never panics or answers 5xx,
//! and an accepted upload is on disk with the size it reports. The destination `path` field is
//! fixed (inside the temporary workspace): inputs that could name another field `path` are skipped.
#![no_main]

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use warren_fuzz::{agent, assert_not_5xx};

const BOUNDARY: &str = "warrenfuzzboundary";

fuzz_target!(|input: (bool, bool, &str, &[u8], &[u8])| {
    let (path_first, with_path, filename, content, tail) = input;
    let lower = String::from_utf8_lossy(tail).to_ascii_lowercase();
    if lower.contains("path") || lower.contains('%') || lower.contains("*=") {
        return;
    }
    let a = agent();
    let dest = a.dir.path().join("workspace").join("upload.bin");
    let _ = std::fs::remove_file(&dest);
    let path_part = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n{}\r\n",
        dest.display()
    );
    let name: String = filename
        .chars()
        .filter(|c| !matches!(c, '"' | '\r' | '\n' | '\\'))
        .collect();
    let mut body = Vec::new();
    let mut file_part = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    file_part.extend_from_slice(content);
    file_part.extend_from_slice(b"\r\n");
    if with_path && path_first {
        body.extend_from_slice(path_part.as_bytes());
    }
    body.extend_from_slice(&file_part);
    if with_path && !path_first {
        body.extend_from_slice(path_part.as_bytes());
    }
    body.extend_from_slice(tail);
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    let req = Request::post("/files/upload")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(Body::from(body))
        .expect("request");
    let (status, resp) = a.call(req);
    assert_not_5xx(status, &resp, &(filename, content.len()));
    if status.is_success() {
        let json: serde_json::Value = serde_json::from_slice(&resp).expect("JSON");
        let on_disk = std::fs::metadata(&dest).expect("the uploaded file").len();
        assert_eq!(json["size"].as_u64(), Some(on_disk));
    }
});

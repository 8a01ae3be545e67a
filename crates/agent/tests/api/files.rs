use std::os::unix::fs::MetadataExt;
use std::process::Command;

use base64::Engine as _;
use serde_json::json;

use crate::helpers::{Options, TestAgent, error_code, multipart, send};

#[tokio::test]
async fn write_read_list_exists_mkdir_remove() {
    let agent = TestAgent::start().await;
    let ws = agent.workspace.display().to_string();
    let file = format!("{ws}/deep/dir/a.txt");
    let (status, _) = agent
        .post_json(
            "/files/write",
            json!({"path": file, "content": "hé", "mode": "0600"}),
        )
        .await;
    assert_eq!(status, 200);
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 1000, "files belong to the sandbox user");
    let (status, body) = agent.get_json(&format!("/files/read?path={file}")).await;
    assert_eq!((status, body["content"].clone()), (200, json!("hé")));
    let bin = base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150]);
    let (status, _) = agent
        .post_json(
            "/files/write",
            json!({"path": "rel.bin", "content": bin, "encoding": "base64"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        std::fs::read(agent.workspace.join("rel.bin")).unwrap(),
        [0u8, 159, 146, 150]
    );
    let (status, list) = agent.get_json(&format!("/files/list?path={ws}")).await;
    assert_eq!(status, 200);
    let names: Vec<_> = list["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["deep", "rel.bin"]);
    let deep = &list["files"][0];
    assert_eq!(
        (deep["is_dir"].clone(), deep["is_directory"].clone()),
        (json!(true), json!(true))
    );
    assert!(deep["modified_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(list["files"][1]["permissions"], "rw-r--r--");
    let (_, e) = agent.get_json(&format!("/files/exists?path={file}")).await;
    assert_eq!(e["exists"], true);
    let (status, _) = agent
        .post_json("/files/mkdir", json!({"path": format!("{ws}/m/n")}))
        .await;
    assert_eq!(status, 200);
    assert!(agent.workspace.join("m/n").is_dir());
    let (status, _) = send(agent.delete(&format!("/files/remove?path={ws}/deep"))).await;
    assert_eq!(status, 200);
    let (_, e) = agent.get_json(&format!("/files/exists?path={file}")).await;
    assert_eq!(e["exists"], false);
}

#[tokio::test]
async fn file_errors_have_stable_codes() {
    let agent = TestAgent::start().await;
    let (status, body) = agent.get_json("/files/read?path=/nonexistent/x").await;
    assert_eq!((status, error_code(&body)), (404, "FILE_NOT_FOUND"));
    assert_eq!(body["details"]["path"], "/nonexistent/x");
    let (status, body) = agent.get_json("/files/read").await;
    assert_eq!((status, error_code(&body)), (400, "MISSING_PARAMETER"));
    let (status, body) = agent.get_json("/files/read?path=/proc/1/environ").await;
    assert_eq!((status, error_code(&body)), (403, "PATH_NOT_ALLOWED"));
    let (status, body) = agent.get_json("/files/list?path=/nonexistent").await;
    assert_eq!((status, error_code(&body)), (404, "FILE_NOT_FOUND"));
    let (status, body) = agent
        .post_json(
            "/files/write",
            json!({"path": "x.bin", "content": "%%%", "encoding": "base64"}),
        )
        .await;
    assert_eq!((status, error_code(&body)), (400, "INVALID_REQUEST"));
    let (status, body) = agent
        .post_json("/files/write", json!({"content": "x"}))
        .await;
    assert_eq!((status, error_code(&body)), (400, "MISSING_PARAMETER"));
    let (status, body) = send(agent.delete("/files/remove?path=/nonexistent")).await;
    assert_eq!((status, error_code(&body)), (404, "FILE_NOT_FOUND"));
    let res = agent
        .get("/files/download?path=/nonexistent")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn upload_and_download_large_files() {
    let agent = TestAgent::start().await;
    let data: Vec<u8> = (0..20_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let dest = agent.workspace.join("up/big.bin");
    let res = agent
        .post("/files/upload")
        .multipart(multipart(dest.to_str().unwrap(), "local.bin", data.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    let res = agent
        .get(&format!("/files/download?path={}", dest.display()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    assert_eq!(res.bytes().await.unwrap().as_ref(), data.as_slice());
}

#[tokio::test]
async fn upload_over_the_limit_is_413_and_leaves_nothing() {
    let agent = TestAgent::start_with(Options {
        env: vec![("WARREN_AGENT_MAX_UPLOAD", "100000".into())],
        ..Options::default()
    })
    .await;
    let dest = agent.workspace.join("too-big.bin");
    let res = agent
        .post("/files/upload")
        .multipart(multipart(
            dest.to_str().unwrap(),
            "local.bin",
            vec![1; 300_000],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE");
    assert!(!dest.exists());
    assert_eq!(
        std::fs::read_dir(&agent.workspace).unwrap().count(),
        0,
        "no partial file left"
    );
}

#[tokio::test]
async fn disk_full_during_upload_is_reported_and_cleaned_up() {
    let agent = TestAgent::start().await;
    let small = agent.workspace.join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k,mode=0777", "tmpfs"])
        .arg(&small)
        .status()
        .expect("run mount");
    assert!(
        mounted.success(),
        "this test needs root to mount a small tmpfs"
    );
    let dest = small.join("f.bin");
    let res = agent
        .post("/files/upload")
        .multipart(multipart(
            dest.to_str().unwrap(),
            "local.bin",
            vec![7; 2_000_000],
        ))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body: serde_json::Value = res.json().await.unwrap();
    let leftovers = std::fs::read_dir(&small).unwrap().count();
    let _ = Command::new("umount").arg(&small).status();
    assert_eq!((status, error_code(&body)), (507, "DISK_FULL"));
    assert_eq!(leftovers, 0, "partial file removed");
}

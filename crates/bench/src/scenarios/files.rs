//! Scenario 6: a large file up and down through the router, against `docker cp` both ways.

use std::time::Instant;

use reqwest::Method;
use reqwest::multipart::{Form, Part};

use crate::Ctx;
use crate::docker;
use crate::report::{Row, Table};
use crate::stats::Samples;

/// Transfers each way; the median counts.
const ROUNDS: usize = 3;
use crate::warren::{Path, ok_json};

pub async fn transfer(ctx: &Ctx) -> anyhow::Result<Table> {
    let o = &ctx.opts;
    let w = &ctx.warren;
    let sb = w.create(&o.warm_template).await?;
    let size = o.file_mb * 1024 * 1024;
    // Not compressible, not all zeroes: a simple xorshift stream.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let data: Vec<u8> = (0..size / 8)
        .flat_map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()
        })
        .collect();
    let dir = o
        .json
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&dir)?;
    let local = dir.join("blob.bin");
    std::fs::write(&local, &data)?;

    let (mut up, mut down, mut cp_up, mut cp_down) = (
        Samples::default(),
        Samples::default(),
        Samples::default(),
        Samples::default(),
    );
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let form = Form::new()
            .text("path", "/workspace/blob.bin")
            .part("file", Part::bytes(data.clone()).file_name("blob.bin"));
        let resp = w
            .agent(&sb, Path::Router, "", Method::POST, "/files/upload")
            .multipart(form)
            .send()
            .await?;
        ok_json(resp).await?;
        up.push(t.elapsed());

        let t = Instant::now();
        let resp = w
            .agent(
                &sb,
                Path::Router,
                "",
                Method::GET,
                "/files/download?path=/workspace/blob.bin",
            )
            .send()
            .await?
            .error_for_status()?;
        let got = resp.bytes().await?;
        down.push(t.elapsed());
        anyhow::ensure!(
            got.as_ref() == data.as_slice(),
            "downloaded file differs ({} bytes)",
            got.len()
        );

        let container = sb.container();
        let local_s = local.to_string_lossy().into_owned();
        cp_up.push(
            docker::cli(&[
                "cp",
                &local_s,
                &format!("{container}:/workspace/blob-cp.bin"),
            ])
            .await?,
        );
        let back = dir.join("blob-back.bin");
        let back_s = back.to_string_lossy().into_owned();
        cp_down.push(
            docker::cli(&["cp", &format!("{container}:/workspace/blob.bin"), &back_s]).await?,
        );
        let same = std::fs::read(&back)? == data;
        std::fs::remove_file(&back)?;
        anyhow::ensure!(same, "docker cp copied back a different file");
    }
    std::fs::remove_file(&local)?;

    let mbps = |s: &Samples| o.file_mb as f64 / (s.pct(50.0) / 1000.0);
    let mut t = Table::new(format!(
        "6. {} MB file through the router vs `docker cp`",
        o.file_mb
    ));
    for (name, warren, base) in [
        ("upload (POST /files/upload)", up, cp_up),
        ("download (GET /files/download)", down, cp_down),
    ] {
        let (wm, bm) = (mbps(&warren), mbps(&base));
        t.row(
            Row::new(format!("{name} MB/s"), format!("{wm:.0}"))
                .against(format!("{bm:.0}"), wm, bm)
                .target("≥ docker cp", wm >= bm),
        );
    }
    t.note(format!("The median of {ROUNDS} transfers each way (the file is in the page cache); MB = 2^20 bytes. The download is checked byte for byte."));
    Ok(t)
}

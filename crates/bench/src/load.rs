//! A closed-loop HTTP load generator: N tasks, each sending its next request when the last answered.

use std::time::{Duration, Instant};

use reqwest::{Client, Request};

use crate::stats::Samples;

/// Throughput and latency of one load run.
pub struct Load {
    pub rps: f64,
    pub ok: usize,
    pub errors: usize,
    pub latency: Samples,
}

/// Runs `concurrency` tasks for `duration`, each sending a copy of `request` in a loop.
pub async fn run(
    client: &Client,
    concurrency: usize,
    duration: Duration,
    request: &Request,
) -> Load {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let request = request
                .try_clone()
                .expect("request without a streaming body");
            let client = client.clone();
            tokio::spawn(async move {
                let (mut lat, mut errors) = (Samples::default(), 0);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = match client
                        .execute(request.try_clone().expect("cloneable"))
                        .await
                    {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (lat, errors)
            })
        })
        .collect();
    let mut load = Load {
        rps: 0.0,
        ok: 0,
        errors: 0,
        latency: Samples::default(),
    };
    for t in tasks {
        let (lat, errors) = t.await.expect("load task");
        load.errors += errors;
        load.latency.extend(lat);
    }
    load.ok = load.latency.count();
    load.rps = load.ok as f64 / start.elapsed().as_secs_f64();
    load
}

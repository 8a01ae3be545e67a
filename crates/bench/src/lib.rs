//! `warren-bench`: every speed and memory figure of issues 8 and 14 (desktop), measured against a live Warren beside its
//! raw Docker baseline in the same run, printed as tables and written as Markdown and JSON.
//! `scripts/bench.sh` starts a private Warren for it; docs/BENCHMARKS.md holds a run.

mod docker;
mod load;
mod report;
mod scenarios;
mod stats;
mod warren;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::report::Table;
use crate::warren::Warren;

/// Command line of `warren-bench`.
#[derive(Debug, clap::Parser)]
#[command(name = "warren-bench", version)]
pub struct Options {
    /// The live Warren's base URL (API and router on the same port).
    #[arg(long, env = "WARREN_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An API key of an organization whose limits are raised (config/bench.toml).
    #[arg(long, env = "WARREN_API_KEY")]
    pub api_key: String,
    /// `router.domain` of that Warren.
    #[arg(long, default_value = "sandbox.localhost")]
    pub domain: String,
    /// A template with a warm pool (`pool.templates`).
    #[arg(long, default_value = "python")]
    pub warm_template: String,
    /// A template without a pool, for cold creates.
    #[arg(long, default_value = "code-interpreter")]
    pub cold_template: String,
    /// Its image, for the raw Docker floor.
    #[arg(long, default_value = "warren/template-code-interpreter:latest")]
    pub cold_image: String,
    /// Sandboxes per create-to-first-run series (scenario 1).
    #[arg(long, default_value_t = 50)]
    pub n: usize,
    /// Pause between warm creates, so the pool refills (ms).
    #[arg(long, default_value_t = 1500)]
    pub warm_pace_ms: u64,
    /// Concurrent creates (scenario 2).
    #[arg(long, default_value_t = 100)]
    pub concurrent: usize,
    /// Calls per round-trip series (scenario 3).
    #[arg(long, default_value_t = 1000)]
    pub calls: usize,
    /// `docker exec` calls per baseline series (scenario 3).
    #[arg(long, default_value_t = 100)]
    pub docker_calls: usize,
    /// Seconds of load per side of a throughput case (scenarios 4 and 5).
    #[arg(long, default_value_t = 5.0)]
    pub seconds: f64,
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 50)]
    pub connections: usize,
    /// File size for the transfer scenario, MB.
    #[arg(long, default_value_t = 100)]
    pub file_mb: usize,
    /// Idle sandboxes for the density scenario.
    #[arg(long, default_value_t = 200)]
    pub density: usize,
    /// Pause/resume rounds.
    #[arg(long, default_value_t = 20)]
    pub pause_rounds: usize,
    /// The desktop template (scenario 9), with a warm pool (`pool.templates`).
    #[arg(long, default_value = "desktop")]
    pub desktop_template: String,
    /// Pause between warm desktop creates, so its pool refills (ms).
    #[arg(long, default_value_t = 3000)]
    pub desktop_pace_ms: u64,
    /// Screenshots (and inputs) per desktop series (scenario 9).
    #[arg(long, default_value_t = 30)]
    pub shots: usize,
    /// Scenarios to run (1-10), comma separated; all by default.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<u8>,
    /// Markdown output (not written when empty).
    #[arg(long, default_value = "docs/BENCHMARKS.md")]
    pub markdown: PathBuf,
    /// JSON output.
    #[arg(long, default_value = "target/bench/results.json")]
    pub json: PathBuf,
    /// A smoke run, so the bench never rots (the test suite runs it): every scenario with a few
    /// iterations and small counts, overriding the ones above, and no Markdown written. The desktop
    /// (9) and state (10) scenarios run in a smoke run only when `--only` names them.
    #[arg(long)]
    pub smoke: bool,
}

impl Options {
    /// The counts of a smoke run: 3 of everything, 0.3 s of load, a 2 MB file.
    fn smoke(self) -> Self {
        Self {
            n: 3,
            warm_pace_ms: 500,
            concurrent: 3,
            calls: 20,
            docker_calls: 3,
            seconds: 0.3,
            file_mb: 2,
            density: 3,
            pause_rounds: 2,
            desktop_pace_ms: 1000,
            shots: 3,
            markdown: PathBuf::new(),
            ..self
        }
    }
}

/// What every scenario gets.
pub(crate) struct Ctx {
    pub opts: Options,
    pub warren: Warren,
    pub docker: bollard::Docker,
}

impl Ctx {
    fn load_time(&self) -> Duration {
        Duration::from_secs_f64(self.opts.seconds)
    }
}

pub async fn run(opts: Options) -> anyhow::Result<()> {
    let opts = if opts.smoke { opts.smoke() } else { opts };
    let warren = Warren::new(&opts.url, &opts.api_key, &opts.domain)?;
    let ctx = Ctx {
        docker: docker::connect()?,
        warren,
        opts,
    };
    let machine = machine().await;
    println!("{machine}");
    let started = Instant::now();
    let mut tables = Vec::new();
    let mut failure = None;
    for n in 1..=scenarios::COUNT {
        let selected = if ctx.opts.only.is_empty() {
            !(ctx.opts.smoke && [scenarios::DESKTOP, scenarios::STATE].contains(&n))
        } else {
            ctx.opts.only.contains(&n)
        };
        if !selected {
            continue;
        }
        let t = Instant::now();
        let result = scenarios::run(&ctx, n).await;
        // Whatever happened, nothing of this scenario stays.
        let cleanup = ctx.warren.cleanup().await;
        match result.and_then(|table| cleanup.map(|()| table)) {
            Ok(table) => {
                println!(
                    "{}(scenario {n}: {:.0} s)\n",
                    table.markdown(),
                    t.elapsed().as_secs_f64()
                );
                tables.push(table);
            }
            Err(e) => {
                eprintln!("scenario {n} failed: {e:#}");
                failure = Some(e.context(format!("scenario {n}")));
                break;
            }
        }
    }
    let total = started.elapsed();
    // A failed run keeps the last complete Markdown; its JSON holds what was measured.
    write(&ctx.opts, &machine, &tables, total, failure.is_none())?;
    failure.map_or(Ok(()), Err)
}

/// Where the generated part of docs/BENCHMARKS.md ends.
const ANALYSIS_MARKER: &str = "<!-- analysis: kept across runs -->";

fn write(
    opts: &Options,
    machine: &str,
    tables: &[Table],
    total: Duration,
    complete: bool,
) -> anyhow::Result<()> {
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    if let Some(dir) = opts.json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::json!({ "date": date, "machine": machine, "seconds": total.as_secs(), "tables": tables });
    std::fs::write(&opts.json, serde_json::to_string_pretty(&json)?).context("write JSON")?;
    if !complete || opts.markdown.as_os_str().is_empty() {
        return Ok(());
    }
    let mut md = format!(
        "# Benchmarks\n\nGenerated by `scripts/bench.sh` (`warren-bench`, crates/bench; arguments are passed on, e.g. \
         `scripts/bench.sh --n 5 --only 1,3`; `warren-bench --help` lists them) on {date}; the whole run \
         took {:.0} s. The load generator, Warren, Postgres and the sandboxes share the machine, so every figure \
         includes that contention; each baseline was measured in the same run. JSON: `{}`.\n\n## Machine\n\n```\n{machine}\n```\n\n",
        total.as_secs_f64(),
        opts.json.display()
    );
    for t in tables {
        md.push_str(&t.markdown());
        md.push('\n');
    }
    // The hand-written analysis below the marker survives a new run.
    let old = std::fs::read_to_string(&opts.markdown).unwrap_or_default();
    if let Some(at) = old.find(ANALYSIS_MARKER) {
        md.push_str(&old[at..]);
    }
    std::fs::write(&opts.markdown, md).context("write Markdown")
}

/// CPU, memory, kernel, engine and load, for the report.
async fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo.lines().next().unwrap_or_default().to_owned();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let engine = tokio::process::Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output()
        .await
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "CPU: {cpus} x {model}\n{}\nkernel {}\nDocker engine {engine}, cgroup v1\nload average at start: {}",
        mem.split_whitespace().collect::<Vec<_>>().join(" "),
        kernel.trim(),
        load.trim()
    )
}

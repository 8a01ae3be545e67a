//! The process list of `GET /processes`, read from `/proc`.

use api_types::agent::SystemProcess;

/// Every process visible to the agent.
pub fn list() -> Vec<SystemProcess> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let uptime: f64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let mut out: Vec<SystemProcess> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| read_one(pid, ticks, uptime))
        .collect();
    out.sort_by_key(|p| p.pid);
    out
}

fn read_one(pid: u32, ticks: f64, uptime: f64) -> Option<SystemProcess> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name is in parentheses and may itself contain spaces or parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_owned();
    let rest: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let state = rest.first().copied().unwrap_or("?");
    let num = |i: usize| {
        rest.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields after the name, 0-based: utime 11, stime 12, starttime 19, rss 21 (pages).
    let cpu_secs = (num(11) + num(12)) / ticks;
    let age = uptime - num(19) / ticks;
    let cpu_percent = if age > 0.0 {
        100.0 * cpu_secs / age
    } else {
        0.0
    };
    let memory_mb = num(21) * 4096.0 / (1024.0 * 1024.0);
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = cmdline
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let status = match state {
        "R" => "running",
        "S" | "D" | "I" => "sleeping",
        "T" | "t" => "stopped",
        "Z" => "zombie",
        _ => "unknown",
    };
    Some(SystemProcess {
        pid,
        name,
        status: status.into(),
        cpu_percent: (cpu_percent * 10.0).round() / 10.0,
        memory_mb: (memory_mb * 10.0).round() / 10.0,
        command,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_this_process() {
        let me = std::process::id();
        assert!(super::list().iter().any(|p| p.pid == me));
    }
}

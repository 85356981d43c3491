//! Telemetry shared by the binaries: flat JSON log lines ([`FlatJsonLayer`]), the W3C trace
//! carried to vendor calls ([`trace`]) and process metrics for the services' `/metrics`.
//!
//! Process metrics, in Prometheus' standard names
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`,
//! `process_start_time_seconds`) plus `ivcrush_process_uptime_seconds`.
//!
//! Written as exposition text rather than through the `metrics` facade: a `metrics` counter
//! holds whole numbers, and CPU time is fractional (1.98 s must not read 1). Read from Linux
//! `/proc/self`; elsewhere only the start time and uptime are exported.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

mod json_log;
pub mod trace;

pub use json_log::FlatJsonLayer;

/// The process clock of one service: created at start-up, appended to every scrape.
#[derive(Debug, Clone, Copy)]
pub struct ProcessMetrics {
    started: Instant,
    start_time: f64,
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        ProcessMetrics::new()
    }
}

impl ProcessMetrics {
    /// Starts the clock now.
    pub fn new() -> ProcessMetrics {
        ProcessMetrics {
            started: Instant::now(),
            start_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_millis() as f64 / 1000.0),
        }
    }

    /// Appends the process families to an exposition `text`.
    pub fn append_to(&self, text: &mut String) {
        process_text(
            text,
            self.start_time,
            self.started.elapsed().as_secs_f64(),
            process_stats(),
        );
    }
}

struct ProcessStats {
    rss_bytes: f64,
    open_fds: f64,
    cpu_seconds: f64,
}

/// Appends the process families (Prometheus' standard names) to `text`.
fn process_text(text: &mut String, start_time: f64, uptime: f64, p: Option<ProcessStats>) {
    use std::fmt::Write as _;
    let mut family = |name: &str, kind: &str, help: &str, value: f64| {
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
        );
    };
    family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        start_time,
    );
    family(
        "ivcrush_process_uptime_seconds",
        "gauge",
        "Seconds since the process started.",
        uptime,
    );
    if let Some(p) = p {
        family(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds,
        );
        family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            p.rss_bytes,
        );
        family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            p.open_fds,
        );
    }
}

/// Linux `/proc/self` numbers (assuming 4 KiB pages and 100 clock ticks per second).
fn process_stats() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start at field 3 (state).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let rss_pages: f64 = f.get(21)?.parse().ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as f64;
    Some(ProcessStats {
        rss_bytes: rss_pages * 4096.0,
        open_fds,
        cpu_seconds: (utime + stime) as f64 / 100.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_keeps_its_fraction_and_every_family_has_help_and_type() {
        let mut text = String::new();
        process_text(
            &mut text,
            1.5,
            2.0,
            Some(ProcessStats {
                rss_bytes: 4096.0,
                open_fds: 7.0,
                cpu_seconds: 1.98,
            }),
        );
        assert!(text.contains("process_cpu_seconds_total 1.98\n"), "{text}");
        for family in [
            "process_start_time_seconds",
            "ivcrush_process_uptime_seconds",
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
        ] {
            assert!(text.contains(&format!("# HELP {family} ")), "{family}");
            assert!(text.contains(&format!("# TYPE {family} ")), "{family}");
        }
    }

    #[test]
    fn a_live_process_reports_its_start_time() {
        let mut text = String::new();
        ProcessMetrics::new().append_to(&mut text);
        assert!(text.contains("process_start_time_seconds "), "{text}");
    }
}

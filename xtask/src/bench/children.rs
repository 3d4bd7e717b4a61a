//! Child processes the benchmarks start: always stopped by their own PID (on drop too), their
//! memory read from /proc, their first line of output awaited with a deadline.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process::Cmd;

/// A started child, stopped when dropped.
pub struct Guard {
    pub child: Child,
    what: String,
}

impl Guard {
    /// Starts `command` with stdout piped and stderr into `log`.
    pub fn spawn(what: &str, mut command: Command, log: &Path) -> Result<Guard> {
        let log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        Ok(Guard {
            child,
            what: what.to_owned(),
        })
    }

    /// Starts `command` with stdout and stderr both into `log`, for a child whose output is
    /// read from the file as it runs.
    pub fn spawn_logged(what: &str, mut command: Command, log: &Path) -> Result<Guard> {
        let log_file =
            File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        let stderr = log_file
            .try_clone()
            .with_context(|| format!("cannot reopen {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        Ok(Guard {
            child,
            what: what.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The first stdout line containing `needle`, within `timeout`.
    pub fn wait_for_line(&mut self, needle: &str, timeout: Duration, log: &Path) -> Result<String> {
        let stdout = self.child.stdout.take().context("stdout already taken")?;
        let (tx, rx) = mpsc::channel();
        let needle = needle.to_owned();
        // Reads on after the match so the child never blocks on a full pipe.
        thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && line.contains(&needle) {
                    let _ = tx.send(line);
                    sent = true;
                }
            }
        });
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                return Ok(line);
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready; its log ({}):\n{}",
                    self.what,
                    log.display(),
                    tail(log)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{} was not ready within {} s; its log ({}):\n{}",
                    self.what,
                    timeout.as_secs(),
                    log.display(),
                    tail(log)
                );
            }
        }
    }

    /// SIGINT (a graceful stop: the gateway closes connections and stops its functions),
    /// then SIGKILL if it is still there after `grace`.
    pub fn interrupt(mut self, grace: Duration) -> Result<()> {
        let _ = Cmd::new("kill")
            .args(["-INT", &self.pid().to_string()])
            .read();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!(
            "[bench] {} did not stop within {} s of SIGINT: killing it",
            self.what,
            grace.as_secs()
        );
        Ok(())
    }
}

impl Drop for Guard {
    /// SIGINT first, as [`Guard::interrupt`]: a gateway killed outright would leave its own
    /// children (function processes, moto) behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Cmd::new("kill")
                .args(["-INT", &self.pid().to_string()])
                .read();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// The last lines of a log file, for error messages.
pub fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// A field of /proc/<pid>/status in bytes (`VmRSS`, `VmHWM`; the kernel says kB = KiB).
pub fn proc_status_bytes(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    parse_status_bytes(&text, field).with_context(|| format!("{path} has no {field}"))
}

fn parse_status_bytes(status: &str, field: &str) -> Option<u64> {
    let line = status
        .lines()
        .find(|l| l.split(':').next() == Some(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = parse_stat_ticks(&stat)?;
    Some(ticks as f64 / clock_ticks_per_second())
}

/// utime + stime from /proc/<pid>/stat (fields 14 and 15; the name, field 2, may hold spaces
/// and parentheses, so fields are counted after its closing one).
fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Asked once: readings are taken at the edges of timed windows.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::LazyLock<f64> = std::sync::LazyLock::new(|| {
        Cmd::new("getconf")
            .arg("CLK_TCK")
            .read()
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(100.0)
    });
    *TICKS
}

/// The PIDs of a process's children (all its threads' children).
pub fn child_pids(pid: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return pids;
    };
    for task in tasks.flatten() {
        let children = fs::read_to_string(task.path().join("children")).unwrap_or_default();
        pids.extend(
            children
                .split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    pids.sort_unstable();
    pids.dedup();
    pids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_kib() {
        let status = "Name:\tbootstrap\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(parse_status_bytes(status, "VmHWM"), Some(5 << 20));
        assert_eq!(parse_status_bytes(status, "VmRSS"), Some(4 << 20));
        assert_eq!(parse_status_bytes(status, "VmSwap"), None);
    }

    #[test]
    fn stat_ticks_skip_a_name_with_spaces() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194304 100 0 0 0 7 5 0 0 20 0 1 0";
        assert_eq!(parse_stat_ticks(stat), Some(12));
        assert_eq!(parse_stat_ticks("42 (x) S 1"), None);
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let rss = proc_status_bytes(std::process::id(), "VmRSS").unwrap();
        assert!(rss > 1 << 20, "{rss}");
    }
}

//! The machine a run was measured on.

use std::fs;

use crate::process::Cmd;

#[derive(Debug, Clone)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_bytes: Option<u64>,
    pub os: String,
    pub date: String,
    pub rustc: String,
    /// 1, 5 and 15 minute load averages when the run started: other work skews timings.
    pub load: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let read = |cmd: Cmd| {
            cmd.read()
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".to_owned())
        };
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown CPU".to_owned()),
            memory_bytes: mem_total(&meminfo),
            os: read(Cmd::new("uname").args(["-sr"])),
            date: read(Cmd::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])),
            rustc: read(Cmd::new("rustc").arg("--version")),
            load: fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "unknown".to_owned()),
        }
    }

    pub fn describe(&self) -> String {
        let memory = self.memory_bytes.map_or("unknown memory".to_owned(), |b| {
            format!("{:.1} GiB memory", b as f64 / (1u64 << 30) as f64)
        });
        format!(
            "{} CPUs (`nproc`), {}, {memory}, {} ({})",
            self.cpus,
            self.cpu_model,
            self.os,
            std::env::consts::ARCH
        )
    }
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_model_and_memory() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        assert_eq!(
            mem_total("MemTotal:       24684000 kB\nMemFree: 1 kB\n"),
            Some(24_684_000 * 1024)
        );
        assert_eq!(cpu_model("processor: 0\n"), None);
    }
}

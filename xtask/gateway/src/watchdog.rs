//! Process groups that die with this process however it ends, SIGKILL included: the function
//! processes (and whatever they fork) and the moto server.
//!
//! One watcher per process, a `/bin/sh` loop started on first use in a process group of its
//! own (the terminal's Ctrl-C is the gateway's to handle): it reads `+GROUP` and `-GROUP`
//! lines from a pipe whose only write end this process holds (std's pipes are close-on-exec,
//! so no other child inherits it), and when the pipe closes, which the kernel does when this
//! process exits for any reason, it kills every group still listed.
//!
//! Why not `PR_SET_PDEATHSIG`: setting it needs `unsafe` in `pre_exec` (the workspace forbids
//! it) or a launcher per process, it does not reach what a function forks, and it fires when
//! the *thread* that spawned the child ends, not the process: the gateway spawns from tokio's
//! threads, which come and go while it runs.
//!
//! A group is listed while it may run: [`Watched`] sends its `-GROUP` when dropped, after the
//! group was killed and its leader reaped, so the watcher never kills a reused id the gateway
//! already let go of.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;

use crate::log::log;

/// The watcher: keeps a space-separated list of groups, kills them at end of input.
const WATCHER: &str = r#"groups=' '
while read -r line; do
  case $line in
    +*) groups="$groups${line#+} " ;;
    -*) g=${line#-}
        case $groups in *" $g "*) groups="${groups%% $g *} ${groups#* $g }" ;; esac ;;
  esac
done
for g in $groups; do kill -s KILL -- "-$g" 2>/dev/null; done
"#;

/// The pipe to the watcher: `None` until first use, and for good if it could not start.
static WATCHER_INPUT: Mutex<Option<Option<ChildStdin>>> = Mutex::new(None);

fn start() -> Option<ChildStdin> {
    let spawned = Command::new("/bin/sh")
        .arg("-c")
        .arg(WATCHER)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        // Never waited for: it outlives this process by design, and init reaps it.
        Ok(mut child) => child.stdin.take(),
        Err(e) => {
            log!(
                "gateway",
                "cannot start /bin/sh to watch the function processes ({e}): if this process is killed with SIGKILL, what they forked may outlive it"
            );
            None
        }
    }
}

fn send(line: &str) {
    let mut input = WATCHER_INPUT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(pipe) = input.get_or_insert_with(start) {
        // The watcher reads as lines come; a write fails only if someone killed it.
        let _ = pipe.write_all(line.as_bytes());
    }
}

/// A process group the watcher kills if this process dies first.
#[derive(Debug)]
pub(crate) struct Watched(u32);

/// Lists `group` (the pid of a child spawned with `process_group(0)`).
pub(crate) fn watch(group: u32) -> Watched {
    send(&format!("+{group}\n"));
    Watched(group)
}

impl Drop for Watched {
    fn drop(&mut self) {
        send(&format!("-{}\n", self.0));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Runs the watcher on `input` and returns the groups it would kill, in order.
    fn killed_after(input: &str) -> String {
        let script = WATCHER.replace("kill -s KILL -- \"-$g\" 2>/dev/null", "echo \"$g\"");
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        String::from_utf8(output.stdout).unwrap().replace('\n', " ")
    }

    #[test]
    fn the_watcher_kills_what_is_listed_when_its_input_ends() {
        assert_eq!(killed_after(""), "");
        assert_eq!(killed_after("+12\n+345\n+6\n"), "12 345 6 ");
        // Forgotten groups are left alone, whatever their place; unknown ones change nothing.
        assert_eq!(killed_after("+12\n+345\n+6\n-345\n-7\n-34\n"), "12 6 ");
        assert_eq!(killed_after("+12\n+345\n-12\n-6\n"), "345 ");
        assert_eq!(killed_after("+1\n-1\n"), "");
    }

    #[test]
    fn a_watched_group_dies_when_the_pipe_closes() {
        let mut child = Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let mut watcher = Command::new("/bin/sh")
            .arg("-c")
            .arg(WATCHER)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = watcher.stdin.take().unwrap();
        pipe.write_all(format!("+{}\n", child.id()).as_bytes())
            .unwrap();
        drop(pipe);
        watcher.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "the group was not killed");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(!status.success());
    }
}

//! Running external programs: one small builder, so every call prints the same way and
//! every failure says which command failed, how, and what it printed.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;

use anyhow::{Context, Result, bail};

/// Which of a program's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A command to run, shown to the user as a shell-like line.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    removed: Vec<OsString>,
    cwd: Option<PathBuf>,
    /// Said when the program can't be started at all (not installed, not on PATH).
    missing_hint: Option<String>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            removed: Vec::new(),
            cwd: None,
            missing_hint: None,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs without this variable of ours.
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.removed.push(key.as_ref().to_owned());
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// What to tell the user if the program is not there.
    pub fn missing_hint(mut self, hint: impl Into<String>) -> Cmd {
        self.missing_hint = Some(hint.into());
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        for k in &self.removed {
            command.env_remove(k);
        }
        for (k, v) in &self.envs {
            command.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        command
    }

    fn spawn_error(&self, err: std::io::Error) -> anyhow::Error {
        let mut message = format!("cannot run `{self}`: {err}");
        if err.kind() == std::io::ErrorKind::NotFound
            && let Some(hint) = &self.missing_hint
        {
            message.push_str("; ");
            message.push_str(hint);
        }
        anyhow::anyhow!(message)
    }

    /// Runs with the terminal's stdin, stdout and stderr; fails on a non-zero exit.
    pub fn run(&self) -> Result<()> {
        let status = self.command().status().map_err(|e| self.spawn_error(e))?;
        self.succeeded(status)
    }

    /// Runs with the terminal's stdin and stderr, passing each stdout line through `on_line`
    /// (which prints it, or not) as it comes; fails on a non-zero exit.
    pub fn run_lines(&self, mut on_line: impl FnMut(&str)) -> Result<()> {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        for line in BufReader::new(stdout).lines() {
            on_line(&line.with_context(|| format!("cannot read what `{self}` printed"))?);
        }
        let status = child.wait().with_context(|| format!("`{self}` was lost"))?;
        self.succeeded(status)
    }

    /// Runs with the terminal's stdin, passing every line of stdout and of stderr through
    /// `on_line` as it arrives (lines that are not UTF-8 are shown lossily, never dropped);
    /// fails on a non-zero exit.
    pub fn run_streams(&self, mut on_line: impl FnMut(Stream, &str)) -> Result<()> {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(e))?;
        let stdout: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("stdout is piped"));
        let stderr: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("stderr is piped"));
        let (sender, lines) = mpsc::channel();
        // One reader per pipe, so a program that fills one while we wait on the other can't
        // stall; the lines meet here in the order they came.
        thread::scope(|scope| {
            for (stream, pipe) in [(Stream::Stdout, stdout), (Stream::Stderr, stderr)] {
                let sender = sender.clone();
                scope.spawn(move || {
                    for line in BufReader::new(pipe).split(b'\n') {
                        let Ok(mut line) = line else { break };
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                        let line = String::from_utf8_lossy(&line).into_owned();
                        if sender.send((stream, line)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(sender);
            for (stream, line) in lines {
                on_line(stream, &line);
            }
        });
        let status = child.wait().with_context(|| format!("`{self}` was lost"))?;
        self.succeeded(status)
    }

    /// An error naming the command unless it exited with 0.
    fn succeeded(&self, status: ExitStatus) -> Result<()> {
        if !status.success() {
            bail!("`{self}` failed ({status})");
        }
        Ok(())
    }

    /// Runs capturing stdout and stderr, whatever the exit status.
    pub fn output(&self) -> Result<Output> {
        self.command()
            .stdin(Stdio::null())
            .output()
            .map_err(|e| self.spawn_error(e))
    }

    /// Runs capturing stdout; on failure the error carries what the program printed.
    pub fn read(&self) -> Result<String> {
        let output = self.output()?;
        if !output.status.success() {
            bail!(
                "`{self}` failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        String::from_utf8(output.stdout).with_context(|| format!("`{self}` printed non-UTF-8"))
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let program = Path::new(&self.program)
            .file_name()
            .unwrap_or(&self.program)
            .to_string_lossy();
        f.write_str(&program)?;
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(char::is_whitespace) {
                write!(f, " '{arg}'")?;
            } else {
                write!(f, " {arg}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_the_command_and_carry_its_output() {
        let err = Cmd::new("sh")
            .args(["-c", "echo to-stdout; echo to-stderr >&2; exit 3"])
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("`sh -c 'echo to-stdout;"), "{err}");
        assert!(
            err.contains("to-stdout") && err.contains("to-stderr"),
            "{err}"
        );
        assert!(err.contains("exit status: 3"), "{err}");
    }

    #[test]
    fn a_missing_program_gets_the_hint() {
        let err = Cmd::new("wsecho-no-such-program")
            .missing_hint("install it with X")
            .read()
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot run `wsecho-no-such-program`"), "{err}");
        assert!(err.ends_with("install it with X"), "{err}");
    }

    #[test]
    fn run_lines_sees_every_line_and_the_exit_status() {
        let mut seen = Vec::new();
        Cmd::new("sh")
            .args(["-c", "echo one; echo two"])
            .run_lines(|l| seen.push(l.to_owned()))
            .unwrap();
        assert_eq!(seen, ["one", "two"]);
        let err = Cmd::new("sh")
            .args(["-c", "echo three; exit 4"])
            .run_lines(|_| {})
            .unwrap_err()
            .to_string();
        assert!(err.contains("exit status: 4"), "{err}");
    }

    #[test]
    fn run_streams_sees_both_outputs_in_full_and_the_exit_status() {
        let mut seen = Vec::new();
        let err = Cmd::new("sh")
            .args(["-c", "echo out; echo err >&2; printf 'no newline'; exit 5"])
            .run_streams(|stream, line| seen.push((stream, line.to_owned())))
            .unwrap_err()
            .to_string();
        assert!(err.contains("exit status: 5"), "{err}");
        seen.sort_by_key(|(stream, _)| *stream == Stream::Stderr);
        assert_eq!(
            seen,
            [
                (Stream::Stdout, "out".to_owned()),
                (Stream::Stdout, "no newline".to_owned()),
                (Stream::Stderr, "err".to_owned()),
            ]
        );
    }

    #[test]
    fn read_returns_stdout() {
        let out = Cmd::new("sh")
            .args(["-c", "printf \"$X\""])
            .env("X", "hello")
            .read()
            .unwrap();
        assert_eq!(out, "hello");
    }
}

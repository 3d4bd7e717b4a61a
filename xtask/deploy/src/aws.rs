//! Every AWS call goes through here: the user's AWS CLI (v1 or v2) with `--output json`, the
//! resolved region, profile and endpoint, and errors turned into what happened + what to do.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::Value;

use crate::events::Progress;
use crate::{Error, Result};

/// Where and as whom to call AWS. Unset fields fall back to the environment the AWS CLI reads
/// (`AWS_PROFILE`, `AWS_ENDPOINT_URL`), except the region: that is the stage file's unless
/// `region` says otherwise.
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    /// Deploy to this region instead of the stage file's (`--region`).
    pub region: Option<String>,
    pub profile: Option<String>,
    /// Another endpoint for every service (a moto server, LocalStack).
    pub endpoint_url: Option<String>,
    /// The AWS CLI to run (default: `aws` on PATH).
    pub cli: Option<PathBuf>,
    /// Extra environment for the AWS CLI, on top of ours (tests use it for throwaway
    /// credentials without touching the process environment).
    pub env: Vec<(OsString, OsString)>,
}

const INSTALL_HINT: &str = "install the AWS CLI (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html, \
     or `pip install awscli`) or name it with --aws-cli PATH";

/// A configured AWS CLI.
#[derive(Debug, Clone)]
pub struct Aws {
    cli: PathBuf,
    pub region: String,
    /// The profile in use (from the options or AWS_PROFILE), for messages.
    pub profile: Option<String>,
    profile_flag: Option<String>,
    /// The endpoint in use (from the options or AWS_ENDPOINT_URL), for messages.
    pub endpoint_url: Option<String>,
    endpoint_flag: Option<String>,
    env: Vec<(OsString, OsString)>,
    /// The account the credentials belong to, once `check_credentials` has asked: every S3
    /// call then says it expects the bucket to be that account's (`--expected-bucket-owner`),
    /// so a bucket name taken over by another account fails instead of receiving our code.
    bucket_owner: OnceLock<String>,
    /// How stack operations show their events while they run (the command's option).
    pub progress: Progress,
}

/// Who the credentials belong to.
#[derive(Debug, Clone)]
pub struct Identity {
    pub account: String,
    pub arn: String,
}

impl Aws {
    /// Resolves the options for a stack of `stage_region` (the region its stage file names).
    /// That region is authoritative: only `--region` (the options' `region`) deploys
    /// elsewhere. An `AWS_REGION` that disagrees is an error naming both rather than a silent
    /// override (a shell left pointing at another region must not send a stage there);
    /// `AWS_DEFAULT_REGION`, a default by its name, gives way to the stage file.
    pub fn new(opts: &AwsOptions, stage_region: &str) -> Result<Aws> {
        let env = |key: &str| {
            opts.env
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.to_string_lossy().into_owned())
                .or_else(|| std::env::var(key).ok())
                .filter(|v| !v.is_empty())
        };
        let region = match &opts.region {
            Some(region) => region.clone(),
            None => match env("AWS_REGION") {
                Some(from_env) if from_env != stage_region => {
                    return Err(Error::RegionConflict {
                        from_env,
                        stage_region: stage_region.to_owned(),
                    });
                }
                _ => stage_region.to_owned(),
            },
        };
        Ok(Aws {
            cli: opts.cli.clone().unwrap_or_else(|| PathBuf::from("aws")),
            region,
            profile: opts.profile.clone().or_else(|| env("AWS_PROFILE")),
            profile_flag: opts.profile.clone(),
            endpoint_url: opts
                .endpoint_url
                .clone()
                .or_else(|| env("AWS_ENDPOINT_URL")),
            endpoint_flag: opts.endpoint_url.clone(),
            env: opts.env.clone(),
            bucket_owner: OnceLock::new(),
            progress: Progress::Plain,
        })
    }

    /// Where calls go, for messages: `us-east-1`, `us-east-1 at http://127.0.0.1:5000`.
    pub fn target(&self) -> String {
        let mut target = self.region.clone();
        if let Some(profile) = &self.profile {
            target.push_str(&format!(" (profile {profile})"));
        }
        if let Some(url) = &self.endpoint_url {
            target.push_str(&format!(" at {url}"));
        }
        target
    }

    /// The full argument list of `aws <service> <operation> <args>`.
    fn arguments<S: AsRef<OsStr>>(
        &self,
        service: &str,
        operation: &str,
        args: &[S],
    ) -> Vec<OsString> {
        let mut all: Vec<OsString> = vec![service.into(), operation.into()];
        all.extend(args.iter().map(|a| a.as_ref().to_owned()));
        all.extend(["--output", "json", "--region", &self.region].map(OsString::from));
        // Every s3api operation we use takes it (only account-level ones such as
        // list-buckets don't, and we call none of them).
        if service == "s3api"
            && let Some(owner) = self.bucket_owner.get()
        {
            all.extend(["--expected-bucket-owner", owner].map(OsString::from));
        }
        // Only a profile asked for here becomes --profile: one from AWS_PROFILE is left to
        // the CLI, where credentials in the environment still win over it (with --profile
        // they wouldn't).
        if let Some(profile) = &self.profile_flag {
            all.extend(["--profile", profile].map(OsString::from));
        }
        // Likewise the endpoint: one from AWS_ENDPOINT_URL is left to the CLI, where a
        // service's own AWS_ENDPOINT_URL_<SERVICE> still wins over it (--endpoint-url would
        // send every service to one place).
        if let Some(url) = &self.endpoint_flag {
            all.extend(["--endpoint-url", url].map(OsString::from));
        }
        all
    }

    /// Runs the CLI, capturing what it prints; an error when it can't start, saying how to
    /// install it when it isn't there.
    fn run(&self, args: &[OsString]) -> Result<Output, String> {
        let mut command = Command::new(&self.cli);
        command
            .args(args)
            // v2 pipes output through a pager on a terminal; v1 ignores this.
            .env("AWS_PAGER", "")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command.output().map_err(|err| {
            let mut message = format!("cannot run `{}`: {err}", shown(&self.cli, args));
            if err.kind() == std::io::ErrorKind::NotFound {
                message.push_str(&format!(
                    "; the AWS CLI ({}) is needed to deploy: {INSTALL_HINT}",
                    self.cli.display()
                ));
            }
            message
        })
    }

    /// Runs `aws <service> <operation> <args>` and parses what it prints (`null` for nothing).
    pub fn call<S: AsRef<OsStr>>(
        &self,
        service: &str,
        operation: &str,
        args: &[S],
    ) -> Result<Value, AwsError> {
        let output = self
            .run(&self.arguments(service, operation, args))
            .map_err(|message| AwsError {
                service: service.to_owned(),
                operation: operation.to_owned(),
                kind: AwsErrorKind::NotRunnable(message),
            })?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(AwsError {
                service: service.to_owned(),
                operation: operation.to_owned(),
                kind: AwsErrorKind::parse(&stderr, &stdout, output.status.code()),
            });
        }
        if stdout.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&stdout).map_err(|err| AwsError {
            service: service.to_owned(),
            operation: operation.to_owned(),
            kind: AwsErrorKind::Other(format!(
                "the AWS CLI printed something that is not JSON ({err}): {}",
                stdout.trim()
            )),
        })
    }

    /// `sts get-caller-identity`: fails early and clearly when credentials are missing,
    /// invalid or expired, before any work is done.
    pub fn check_credentials(&self) -> Result<Identity> {
        let identity = self
            .call("sts", "get-caller-identity", &[] as &[&str])
            .map_err(|source| Error::Credentials {
                target: self.target(),
                source: Box::new(source),
            })?;
        let field = |name: &str| {
            identity
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    Error::UnexpectedAnswer(format!(
                        "sts get-caller-identity gave no {name}: {identity}"
                    ))
                })
        };
        let identity = Identity {
            account: field("Account")?,
            arn: field("Arn")?,
        };
        // Set once: every later check is of the same credentials.
        let _ = self.bucket_owner.set(identity.account.clone());
        Ok(identity)
    }

    /// An object's bytes (`s3api get-object`, which writes them to a file).
    pub fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
        let path = temp_path("object");
        let got = self.call(
            "s3api",
            "get-object",
            &["--bucket", bucket, "--key", key, &path.to_string_lossy()],
        );
        let bytes = got.and_then(|_| {
            std::fs::read(&path).map_err(|err| AwsError {
                service: "s3api".into(),
                operation: "get-object".into(),
                kind: AwsErrorKind::Other(format!(
                    "cannot read what it wrote to {}: {err}",
                    path.display()
                )),
            })
        });
        let _ = std::fs::remove_file(&path);
        bytes
    }
}

/// A file name of our own in the temporary directory (this process, this moment).
pub fn temp_path(label: &str) -> PathBuf {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("wsecho-deploy-{}-{n}.{label}", std::process::id()))
}

/// A command as the user would type it, for messages: `aws sts get-caller-identity …`.
fn shown(program: &Path, args: &[OsString]) -> String {
    let mut line = program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned();
    for arg in args {
        let arg = arg.to_string_lossy();
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            line.push_str(&format!(" '{arg}'"));
        } else {
            line.push(' ');
            line.push_str(&arg);
        }
    }
    line
}

/// A failed AWS CLI call.
#[derive(Debug)]
pub struct AwsError {
    pub service: String,
    pub operation: String,
    pub kind: AwsErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// The service answered with an error code.
    Service { code: String, message: String },
    /// No credentials at all.
    NoCredentials(String),
    /// The endpoint could not be reached.
    Unreachable(String),
    /// The endpoint answered something that isn't an AWS response (a 5xx page).
    BadResponse(String),
    /// The CLI could not be started.
    NotRunnable(String),
    /// Anything else the CLI printed.
    Other(String),
}

impl AwsErrorKind {
    fn parse(stderr: &str, stdout: &str, status: Option<i32>) -> AwsErrorKind {
        let text = stderr.trim();
        // "An error occurred (Code) when calling the Op operation: message", possibly after a
        // prefix (newer v2 releases print "aws: [ERROR]: " first), possibly over several lines.
        const MARK: &str = "An error occurred (";
        if let Some(start) = text.find(MARK)
            && let Some((code, after)) = text[start + MARK.len()..].split_once(')')
        {
            let message = after
                .split_once("operation: ")
                .or_else(|| after.split_once(": "))
                .map(|(_, m)| m.trim().to_owned())
                .unwrap_or_else(|| after.trim().to_owned());
            return AwsErrorKind::Service {
                code: code.to_owned(),
                message,
            };
        }
        if text.contains("Unable to locate credentials")
            || text.contains("could not be found") && text.contains("profile")
            || text.contains("Token has expired")
            || text.contains("Error loading SSO Token")
        {
            return AwsErrorKind::NoCredentials(text.to_owned());
        }
        if text.contains("Could not connect to the endpoint URL")
            || text.contains("Connection was closed")
            || text.contains("Connect timeout")
        {
            return AwsErrorKind::Unreachable(text.to_owned());
        }
        if text.contains("Unable to parse response") || text.contains("Internal Server Error") {
            return AwsErrorKind::BadResponse(text.to_owned());
        }
        let mut all = text.to_owned();
        if all.is_empty() {
            all = format!(
                "exit status {}{}",
                status.map_or("unknown".to_owned(), |s| s.to_string()),
                if stdout.trim().is_empty() {
                    String::new()
                } else {
                    format!(", printed: {}", stdout.trim())
                }
            );
        }
        AwsErrorKind::Other(all)
    }
}

impl AwsError {
    /// The service's error code (`ValidationError`, `NoSuchBucket`...), when it sent one.
    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            AwsErrorKind::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn message(&self) -> &str {
        match &self.kind {
            AwsErrorKind::Service { message, .. } => message,
            AwsErrorKind::NoCredentials(m)
            | AwsErrorKind::Unreachable(m)
            | AwsErrorKind::BadResponse(m)
            | AwsErrorKind::NotRunnable(m)
            | AwsErrorKind::Other(m) => m,
        }
    }

    /// CloudFormation's way of saying a stack isn't there.
    pub(crate) fn is_missing_stack(&self) -> bool {
        self.code() == Some("ValidationError") && self.message().contains("does not exist")
    }

    /// What the user can do about it.
    fn hint(&self) -> Option<String> {
        let hint = match &self.kind {
            AwsErrorKind::Service { code, .. } => match code.as_str() {
                "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
                    "the AWS credentials have expired: refresh them (`aws sso login`, or new \
                     session keys) and run again"
                }
                "InvalidClientTokenId"
                | "UnrecognizedClientException"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "AuthFailure"
                | "InvalidToken" => {
                    "the AWS credentials are not valid: check AWS_ACCESS_KEY_ID / \
                     AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the profile (`aws configure list`)"
                }
                "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" => {
                    "these credentials may not do this: use an identity allowed to deploy \
                     CloudFormation stacks (see `aws sts get-caller-identity`)"
                }
                "Throttling" | "ThrottlingException" | "TooManyRequestsException" => {
                    "AWS is throttling requests: wait a minute and run again"
                }
                "NoSuchBucket" => {
                    "the assets bucket is gone: run `cargo xtask bootstrap` to recreate it"
                }
                _ => return None,
            },
            AwsErrorKind::NoCredentials(_) => {
                "no usable AWS credentials: run `aws configure` (or `aws sso login`), set \
                 AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            }
            AwsErrorKind::Unreachable(_) => {
                "check the network, the region, and --endpoint-url / AWS_ENDPOINT_URL"
            }
            AwsErrorKind::BadResponse(_) => {
                "the endpoint failed internally (a local emulator such as moto does this for \
                 templates it does not support; see its log)"
            }
            AwsErrorKind::NotRunnable(_) => INSTALL_HINT,
            AwsErrorKind::Other(_) => return None,
        };
        Some(hint.to_owned())
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            AwsErrorKind::Service { code, message } => write!(
                f,
                "aws {} {} failed: {code}: {message}",
                self.service, self.operation
            )?,
            AwsErrorKind::NotRunnable(m) => f.write_str(m)?,
            other => {
                let m = match other {
                    AwsErrorKind::NoCredentials(m)
                    | AwsErrorKind::Unreachable(m)
                    | AwsErrorKind::BadResponse(m)
                    | AwsErrorKind::Other(m) => m,
                    _ => unreachable!("handled above"),
                };
                write!(f, "aws {} {} failed: {m}", self.service, self.operation)?
            }
        }
        if let Some(hint) = self.hint()
            && !matches!(self.kind, AwsErrorKind::NotRunnable(_))
        {
            write!(f, "\n  what to do: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_keep_code_and_message() {
        let kind = AwsErrorKind::parse(
            "\nAn error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id x does not exist\n",
            "",
            Some(255),
        );
        assert_eq!(
            kind,
            AwsErrorKind::Service {
                code: "ValidationError".into(),
                message: "Stack with id x does not exist".into()
            }
        );
        let err = AwsError {
            service: "cloudformation".into(),
            operation: "describe-stacks".into(),
            kind,
        };
        assert!(err.is_missing_stack());
    }

    #[test]
    fn a_prefix_before_the_error_is_skipped() {
        let kind = AwsErrorKind::parse(
            "\naws: [ERROR]: An error occurred (AccessDenied) when calling the CreateChangeSet operation: User: arn:aws:iam::1:user/x is not authorized\n",
            "",
            Some(254),
        );
        assert_eq!(
            kind,
            AwsErrorKind::Service {
                code: "AccessDenied".into(),
                message: "User: arn:aws:iam::1:user/x is not authorized".into()
            }
        );
    }

    #[test]
    fn expired_credentials_say_what_to_do() {
        let err = AwsError {
            service: "sts".into(),
            operation: "get-caller-identity".into(),
            kind: AwsErrorKind::parse(
                "An error occurred (ExpiredToken) when calling the GetCallerIdentity operation: The security token included in the request is expired",
                "",
                Some(254),
            ),
        };
        let text = err.to_string();
        assert!(text.contains("ExpiredToken: The security token"), "{text}");
        assert!(text.contains("have expired: refresh them"), "{text}");
    }

    #[test]
    fn missing_credentials_and_dead_endpoints_are_recognized() {
        assert!(matches!(
            AwsErrorKind::parse(
                "Unable to locate credentials. You can configure credentials by running \"aws configure\".",
                "",
                Some(253)
            ),
            AwsErrorKind::NoCredentials(_)
        ));
        assert!(matches!(
            AwsErrorKind::parse(
                "Could not connect to the endpoint URL: \"http://127.0.0.1:1/\"",
                "",
                Some(255)
            ),
            AwsErrorKind::Unreachable(_)
        ));
        assert!(matches!(
            AwsErrorKind::parse("Something odd", "", Some(1)),
            AwsErrorKind::Other(m) if m == "Something odd"
        ));
    }

    #[test]
    fn a_missing_cli_says_how_to_install_it() {
        let aws = Aws::new(
            &AwsOptions {
                cli: Some("/nonexistent/bin/aws".into()),
                region: Some("us-east-1".into()),
                ..Default::default()
            },
            "us-east-1",
        )
        .unwrap();
        let err = aws
            .call("sts", "get-caller-identity", &[] as &[&str])
            .unwrap_err();
        assert!(matches!(err.kind, AwsErrorKind::NotRunnable(_)), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("cannot run `aws sts get-caller-identity --output json"),
            "{text}"
        );
        assert!(text.contains("install the AWS CLI"), "{text}");
        assert!(text.ends_with("--aws-cli PATH"), "{text}");
    }

    /// Options with only these variables set (empty values mask the test's own environment).
    fn options(region: Option<&str>, env: &[(&str, &str)]) -> AwsOptions {
        let masked = [
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_PROFILE",
        ];
        AwsOptions {
            region: region.map(Into::into),
            env: masked
                .iter()
                .map(|k| (*k, ""))
                .chain(env.iter().copied())
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_stage_region_wins_unless_the_flag_says_otherwise() {
        let region = |opts: &AwsOptions| Aws::new(opts, "eu-west-1").map(|a| a.region);
        assert_eq!(region(&options(None, &[])).unwrap(), "eu-west-1");
        // A default gives way; an agreeing AWS_REGION is fine.
        let agreeing = options(
            None,
            &[
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_REGION", "eu-west-1"),
            ],
        );
        assert_eq!(region(&agreeing).unwrap(), "eu-west-1");
        // The flag deploys elsewhere on purpose, whatever the environment says.
        let flag = options(Some("us-east-1"), &[("AWS_REGION", "ap-south-1")]);
        assert_eq!(region(&flag).unwrap(), "us-east-1");
        // A disagreeing AWS_REGION is an error naming both.
        let err = region(&options(None, &[("AWS_REGION", "us-east-1")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AWS_REGION is us-east-1") && err.contains("eu-west-1"),
            "{err}"
        );
        assert!(err.contains("--region us-east-1"), "{err}");
    }

    #[test]
    fn only_an_endpoint_given_as_an_option_becomes_the_flag() {
        let from_env = Aws::new(
            &options(None, &[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")]),
            "eu-west-1",
        )
        .unwrap();
        assert_eq!(from_env.endpoint_url.as_deref(), Some("http://127.0.0.1:1"));
        let args = from_env.arguments("sts", "get-caller-identity", &[] as &[&str]);
        assert!(!args.iter().any(|a| a == "--endpoint-url"), "{args:?}");
        let flag = Aws::new(
            &AwsOptions {
                endpoint_url: Some("http://127.0.0.1:2".into()),
                ..options(None, &[])
            },
            "eu-west-1",
        )
        .unwrap();
        let args = flag.arguments("sts", "get-caller-identity", &[] as &[&str]);
        assert!(args.iter().any(|a| a == "http://127.0.0.1:2"), "{args:?}");
    }

    #[test]
    fn s3_calls_name_the_bucket_owner_once_the_account_is_known() {
        let aws = Aws::new(&options(None, &[]), "eu-west-1").unwrap();
        let flag = |aws: &Aws, service: &str| {
            let args = aws.arguments(service, "head-bucket", &["--bucket", "b"]);
            args.iter()
                .position(|a| a == "--expected-bucket-owner")
                .map(|i| args[i + 1].to_string_lossy().into_owned())
        };
        // Before the credentials are checked nobody knows the account (and no S3 call is made).
        assert_eq!(flag(&aws, "s3api"), None);
        aws.bucket_owner.set("111111111111".into()).unwrap();
        assert_eq!(flag(&aws, "s3api").as_deref(), Some("111111111111"));
        // Only S3 takes it.
        assert_eq!(flag(&aws, "cloudformation"), None);
    }
}

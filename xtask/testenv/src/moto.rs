//! A moto server on 127.0.0.1 (killed on drop) and the AWS CLI with throwaway credentials:
//! a local AWS (S3, CloudFormation, Lambda, IAM, Logs) for the deploy tests.

use std::ffi::OsString;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Need;

/// The region the tests deploy to.
pub const REGION: &str = "us-east-1";

/// A minimal AWS query-protocol POST (moto routes it by the credential scope and ignores the
/// signature); returns the status line.
fn raw_post(addr: &SocketAddr, service: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIDWARMUP/20260101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        stream.write_all(request.as_bytes())?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response);
        Ok(text.lines().next().unwrap_or_default().to_owned())
    };
    exchange().unwrap_or_else(|e| format!("no answer: {e}"))
}

/// A moto server on a free 127.0.0.1 port.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// What the server printed.
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts a server and waits until it answers.
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// `env`: extra environment for the server (`INITIAL_NO_AUTH_ACTION_COUNT=0` turns on
    /// its credential checks).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let exe = Need::MotoServer.path();
        let dir = tempfile::tempdir().expect("a temp dir");
        let log = dir.path().join("moto.log");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log_file = fs::File::create(&log).expect("the moto log");
        let mut cmd = Command::new(&exe);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file);
        // The server is a boto program too: none of the developer's AWS settings.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(key);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not listen on {addr} within 30 s; its log:\n{}",
                fs::read_to_string(&moto.log).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(100));
        }
        moto.warm_up(&addr);
        moto
    }

    /// Loads the STS and CloudFormation backends one after the other. moto imports a backend
    /// on its first request; a deploy's first calls (credentials, stacks) come in parallel,
    /// and two first imports at once can fail inside moto with a 500 (seen under load). Any
    /// answer but a 5xx means the backend is loaded (a server checking signatures answers
    /// these unsigned requests with 403).
    fn warm_up(&self, addr: &SocketAddr) {
        let answered = |status: &str| {
            status
                .strip_prefix("HTTP/1.1 ")
                .and_then(|rest| rest.get(..1))
                .is_some_and(|class| class != "5")
        };
        for (service, action, version) in [
            ("sts", "GetCallerIdentity", "2011-06-15"),
            ("cloudformation", "DescribeStacks", "2010-05-15"),
        ] {
            let mut status = String::new();
            for _ in 0..5 {
                status = raw_post(addr, service, &format!("Action={action}&Version={version}"));
                if answered(&status) {
                    break;
                }
                thread::sleep(Duration::from_millis(200));
            }
            assert!(
                answered(&status),
                "moto did not answer {service} {action} ({status}); its log:\n{}",
                fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }

    /// Runs the AWS CLI against this server, independently of the code under test.
    pub fn try_aws(&self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = Command::new(Need::AwsCli.path());
        cmd.args(args)
            .args([
                "--output",
                "json",
                "--region",
                REGION,
                "--endpoint-url",
                &self.endpoint,
            ])
            .stdin(Stdio::null());
        for (k, v) in aws_env() {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("the AWS CLI runs");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text).expect("the AWS CLI prints JSON"))
    }

    pub fn aws(&self, args: &[&str]) -> Value {
        self.try_aws(args)
            .unwrap_or_else(|e| panic!("aws {} failed: {e}", args.join(" ")))
    }

    pub fn stack_status(&self, stack: &str) -> Option<String> {
        self.try_aws(&["cloudformation", "describe-stacks", "--stack-name", stack])
            .ok()
            .and_then(|v| {
                v.pointer("/Stacks/0/StackStatus")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
    }

    /// The ARN of the API Gateway CloudWatch role of the toolkit stack `toolkit`
    /// (`deploy::TOOLKIT_STACK`).
    pub fn toolkit_role_arn(&self, toolkit: &str) -> String {
        let roles = self.resources(toolkit, "AWS::IAM::Role");
        let (_, name) = roles
            .iter()
            .find(|(logical, _)| logical == "ApiGatewayCloudWatchRole")
            .expect("the toolkit's role");
        self.aws(&["iam", "get-role", "--role-name", name])["Role"]["Arn"]
            .as_str()
            .expect("the role's ARN")
            .to_owned()
    }

    /// Points the account's API Gateway logging setting at `arn`, as the toolkit's
    /// `AWS::ApiGateway::Account` does on AWS (moto's CloudFormation skips that type).
    pub fn set_account_role(&self, arn: &str) {
        self.aws(&[
            "apigateway",
            "update-account",
            "--patch-operations",
            &format!("op=replace,path=/cloudwatchRoleArn,value={arn}"),
        ]);
    }

    /// Logical ID → physical ID of a stack's resources of one type.
    pub fn resources(&self, stack: &str, ty: &str) -> Vec<(String, String)> {
        let v = self.aws(&[
            "cloudformation",
            "list-stack-resources",
            "--stack-name",
            stack,
        ]);
        let mut found: Vec<(String, String)> = v["StackResourceSummaries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["ResourceType"] == ty)
            .map(|r| {
                (
                    r["LogicalResourceId"].as_str().unwrap().to_owned(),
                    r["PhysicalResourceId"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        found.sort();
        found
    }

    pub fn stack_event_count(&self, stack: &str) -> usize {
        self.aws(&[
            "cloudformation",
            "describe-stack-events",
            "--stack-name",
            stack,
        ])["StackEvents"]
            .as_array()
            .map_or(0, Vec::len)
    }

    pub fn bucket_keys(&self, bucket: &str) -> Vec<String> {
        let v = self.aws(&["s3api", "list-objects-v2", "--bucket", bucket]);
        let mut keys: Vec<String> = v["Contents"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|o| o["Key"].as_str().unwrap().to_owned())
            .collect();
        keys.sort();
        keys
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Throwaway credentials, and none of the developer's AWS configuration: an empty profile
/// of our own (so a developer's AWS_PROFILE can't point elsewhere) and no credentials file.
/// The endpoint is always given with --endpoint-url, which wins over AWS_ENDPOINT_URL.
pub fn aws_env() -> Vec<(OsString, OsString)> {
    let config = std::env::temp_dir().join("wsecho-deploy-tests.aws-config");
    if !config.is_file() {
        // Written aside, then renamed: tests running at once never read half a file. One
        // staging file per call, since the tests of one binary share a process id.
        static STAGED: AtomicUsize = AtomicUsize::new(0);
        let n = STAGED.fetch_add(1, Ordering::Relaxed);
        let staging = config.with_extension(format!("tmp-{}-{n}", std::process::id()));
        fs::write(&staging, "[profile wsecho-deploy-tests]\n").unwrap();
        fs::rename(&staging, &config).unwrap();
    }
    let mut env: Vec<(OsString, OsString)> = [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_PROFILE", "wsecho-deploy-tests"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/wsecho-aws-credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into()))
    .collect();
    env.push(("AWS_CONFIG_FILE".into(), config.into()));
    env
}

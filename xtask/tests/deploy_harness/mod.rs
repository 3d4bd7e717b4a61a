//! Shared by the deploy tests: a moto server on 127.0.0.1 (killed on drop), the AWS CLI with
//! throwaway credentials, and assemblies to deploy (the real synth of the dev stage, with
//! zips of stand-in binaries: moto stores function code, it never runs it).
#![allow(dead_code)]

use std::ffi::OsString;
use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use assembly::bundle;
use assembly::{Architecture, AssetManifest, FunctionAsset, MANIFEST_FILE, MANIFEST_VERSION};
use assembly::{Assembly, NewAssembly, StackInfo, TEMPLATE_FILE};
use base64::Engine as _;
use infra::config::StageConfig;
use serde_json::Value;
use sha2::{Digest, Sha256};
use xtask::deploy::{AwsOptions, DEFAULT_TIMEOUT, DeployOptions};

pub const REGION: &str = "us-east-1";
/// The function packages the dev stack deploys.
pub const PACKAGES: [&str; 4] = ["connect", "default", "disconnect", "echo"];

fn tool(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => panic!(
            "{var} is not set: run the deploy tests with `cargo xtask test` (it provisions moto \
             and the AWS CLI), or set {var} to the executable"
        ),
    }
}

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

pub fn aws_cli() -> PathBuf {
    tool("WSECHO_AWS")
}

/// A moto server on a free 127.0.0.1 port.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// `env`: extra environment for the server (`INITIAL_NO_AUTH_ACTION_COUNT=0` turns on
    /// its credential checks).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let exe = tool("WSECHO_MOTO_SERVER");
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

    /// Options for the library: this endpoint, throwaway credentials, no user config.
    pub fn aws_options(&self) -> AwsOptions {
        AwsOptions {
            region: Some(REGION.into()),
            profile: None,
            endpoint_url: Some(self.endpoint.clone()),
            cli: Some(aws_cli()),
            env: test_env(),
        }
    }

    pub fn deploy_options(&self) -> DeployOptions {
        DeployOptions {
            aws: self.aws_options(),
            yes: true,
            assets_bucket: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Runs the AWS CLI against this server, independently of the code under test.
    pub fn try_aws(&self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = Command::new(aws_cli());
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
        for (k, v) in test_env() {
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
pub fn test_env() -> Vec<(OsString, OsString)> {
    let config = std::env::temp_dir().join("wsecho-deploy-tests.aws-config");
    if !config.is_file() {
        // Written aside, then renamed: tests running at once never read half a file.
        let staging = config.with_extension(format!("tmp-{}", std::process::id()));
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

/// Lambda's `CodeSha256`: base64 of the zip's sha256.
pub fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip))
}

/// A deployable dev assembly in `dir`: a copy of `WSECHO_ASSEMBLY` when `cargo xtask test`
/// provides one, otherwise the real synth of the dev stage over stand-in zips.
pub fn write_assembly(dir: &Path) -> Assembly {
    if let Some(from) = std::env::var_os("WSECHO_ASSEMBLY").filter(|v| !v.is_empty()) {
        copy_dir(Path::new(&from), dir);
        return Assembly::read(dir).expect("WSECHO_ASSEMBLY is an assembly");
    }
    let config = StageConfig::load(&infra::config::stage_file("dev")).expect("the dev stage");
    let arch = Architecture::host().unwrap_or(Architecture::Arm64);
    let assets = tempfile::tempdir().expect("a temp dir");
    let mut functions = Vec::new();
    for package in PACKAGES {
        let binary = format!("#!/bin/sh\n# stand-in for the {package} function\n").into_bytes();
        let zip = bundle::zip_bootstrap(&binary).unwrap();
        let sha256 = assembly::sha256_hex(&zip);
        fs::write(assets.path().join(format!("{sha256}.zip")), &zip).unwrap();
        functions.push(FunctionAsset {
            package: package.into(),
            architecture: arch,
            zip: format!("{sha256}.zip").into(),
            sha256,
            size: zip.len() as u64,
            binary_size: binary.len() as u64,
        });
    }
    let manifest = AssetManifest {
        version: MANIFEST_VERSION,
        architecture: arch,
        functions,
    };
    let synthesized = infra::stack::ws_echo(&config, &manifest).expect("the dev stack synthesizes");
    NewAssembly {
        template_json: &synthesized.template.to_json(),
        template_yaml: None,
        manifest: &manifest,
        assets_dir: assets.path(),
        stack: &StackInfo {
            stage: "dev".into(),
            stack_name: config.stack_name.as_str().to_owned(),
            region: config.region.as_str().to_owned(),
        },
    }
    .write(dir)
    .expect("the assembly is written");
    Assembly::read(dir).expect("the assembly reads back")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// Gives one function new code (its binary plus one byte, re-zipped), as a rebuild after a
/// code change would: a new zip, `assets.json` and the template's `S3Key` updated. Returns
/// the new key.
pub fn change_function_code(dir: &Path, package: &str) -> String {
    let manifest_path = dir.join(MANIFEST_FILE);
    let mut manifest = AssetManifest::read(&manifest_path).unwrap();
    let asset = manifest
        .functions
        .iter_mut()
        .find(|f| f.package == package)
        .unwrap_or_else(|| panic!("no function {package} in the assembly"));
    let old_key = asset.s3_key();
    let old_zip = fs::read(dir.join(&asset.zip)).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(old_zip)).unwrap();
    let mut binary = Vec::new();
    std::io::Read::read_to_end(
        &mut archive.by_name(bundle::BOOTSTRAP).unwrap(),
        &mut binary,
    )
    .unwrap();
    binary.push(b'\n');
    let zip = bundle::zip_bootstrap(&binary).unwrap();
    let sha256 = assembly::sha256_hex(&zip);
    let new_key = format!("{sha256}.zip");
    fs::write(dir.join(&new_key), &zip).unwrap();
    asset.zip = new_key.clone().into();
    asset.sha256 = sha256;
    asset.size = zip.len() as u64;
    asset.binary_size = binary.len() as u64;
    fs::write(&manifest_path, manifest.to_json()).unwrap();
    let template_path = dir.join(TEMPLATE_FILE);
    let template = fs::read_to_string(&template_path).unwrap();
    assert_eq!(
        template.matches(&old_key).count(),
        1,
        "{old_key} names one function"
    );
    fs::write(&template_path, template.replace(&old_key, &new_key)).unwrap();
    new_key
}

/// Edits the assembly's template as JSON (keeping it a valid assembly).
pub fn edit_template(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let path = dir.join(TEMPLATE_FILE);
    let mut template: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut template);
    fs::write(&path, serde_json::to_string_pretty(&template).unwrap()).unwrap();
}

/// The logical ID of the function whose `wsecho:package` is `package`.
pub fn function_logical_id(assembly: &Assembly, package: &str) -> String {
    assembly.template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, r)| {
            r.pointer("/Metadata/wsecho:package")
                .and_then(Value::as_str)
                == Some(package)
        })
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| panic!("no function for package {package}"))
}

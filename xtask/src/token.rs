//! `cargo xtask token`: a token the chat's `$connect` authorizer accepts, signed with the
//! key its stack generated, for the running `cargo xtask dev` or (`--deployed`) the deployed
//! stage. Prints the token and nothing else on stdout, so `wscat -c "…?token=$(cargo xtask
//! token --app chat --user alice)"` works.
//!
//! The key is read where the stack keeps it (Secrets Manager: moto for a local run, AWS for a
//! deployed stage) through the AWS CLI, and is never written anywhere.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, Result, bail};
use assembly::{LocalServices, TEMPLATE_FILE};
use clap::Args;
use serde_json::Value;

use crate::deploy_args::AwsArgs;
use crate::process::Cmd;
use crate::synth::{self, AppStage};
use crate::{tools, workspace};

const SECRET_TYPE: &str = "AWS::SecretsManager::Secret";

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub target: AppStage,
    /// The user the token names: who `sendmessage` says a message is from.
    #[arg(long)]
    pub user: String,
    /// How long the token is valid, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub lifetime: u64,
    /// For the deployed stage (reads its key with your AWS credentials) instead of the
    /// stage `cargo xtask dev` runs.
    #[arg(long)]
    pub deployed: bool,
    #[command(flatten)]
    pub aws: AwsArgs,
}

pub fn run(args: &TokenArgs) -> Result<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the clock is before 1970")?
        .as_secs();
    let claims = chat_token::Claims::new(&args.user, now, args.lifetime)
        .map_err(|e| anyhow::anyhow!("--user {:?}: {e}", args.user))?;
    let key = if args.deployed {
        deployed_key(args)?
    } else {
        local_key(args)?
    };
    println!("{}", chat_token::sign(key.as_bytes(), &claims));
    Ok(())
}

/// The key from the Secrets Manager the running `cargo xtask dev` provides.
fn local_key(args: &TokenArgs) -> Result<String> {
    let target_dir: PathBuf = workspace::metadata()?.target_directory.into();
    let AppStage { app, stage } = &args.target;
    let local = format!("{stage}-local");
    let assembly = synth::assembly_dir(&target_dir, app, &local);
    local_key_in(&assembly, app, stage, aws_cli(args)?)
}

/// The key from the services the `dev` serving `assembly` wrote beside it, read with `cli`.
fn local_key_in(assembly: &Path, app: &str, stage: &str, cli: Cmd) -> Result<String> {
    let run_dev = format!("start it with `cargo xtask dev --app {app} --stage {stage}`");
    let services_path = services_file(assembly);
    let services = LocalServices::read(&services_path)
        .with_context(|| format!("no local services for app `{app}` stage `{stage}`: {run_dev}"))?;
    if !running(services.pid) {
        bail!(
            "the `cargo xtask dev` that wrote {} (pid {}) is gone: {run_dev}",
            services_path.display(),
            services.pid
        );
    }
    let template = read_json(&assembly.join(TEMPLATE_FILE))?;
    let logical_id = signing_secret(&template, app)?;
    let secret_id = services.resources.get(&logical_id).with_context(|| {
        format!(
            "the running `cargo xtask dev` provides no {logical_id} (it provides {}): restart it",
            services
                .resources
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    // The local services keep the secret in the gateway's region, not the stage's: its ARN
    // says which.
    let region = arn_region(secret_id).with_context(|| {
        format!("the running `cargo xtask dev` names {logical_id} `{secret_id}`, not an ARN")
    })?;
    // moto checks no credentials, but the CLI wants some.
    cli.args([
        "secretsmanager",
        "get-secret-value",
        "--secret-id",
        secret_id,
    ])
    .args(["--query", "SecretString", "--output", "text"])
    .args(["--endpoint-url", &services.endpoint, "--region", region])
    .env("AWS_ACCESS_KEY_ID", "wsecho-local")
    .env("AWS_SECRET_ACCESS_KEY", "wsecho-local")
    // A profile would win over the variables above.
    .env_remove("AWS_PROFILE")
    .read()
    .map(|text| text.trim_end().to_owned())
    .context("cannot read the signing key from the local services")
}

/// The region of an ARN (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`).
fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(5, ':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("arn"), Some(_), Some(_), Some(region)) if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// The key of the deployed stage, with the caller's credentials.
fn deployed_key(args: &TokenArgs) -> Result<String> {
    let app = synth::load_app(&args.target.app)?;
    let stack = synth::load_stage(app, &args.target.stage)?.stack_info(&args.target.stage);
    let region = args.aws.region.clone().unwrap_or(stack.region.clone());
    let aws = || -> Result<Cmd> {
        let mut cmd = aws_cli(args)?.args(["--region", &region, "--output", "text"]);
        if let Some(profile) = &args.aws.profile {
            cmd = cmd.args(["--profile", profile]);
        }
        if let Some(endpoint) = &args.aws.endpoint_url {
            cmd = cmd.args(["--endpoint-url", endpoint]);
        }
        Ok(cmd)
    };
    let not_deployed = || {
        format!(
            "cannot read stack {} in {region}: deploy it first (`cargo xtask deploy --app {} --stage {}`)",
            stack.stack_name, args.target.app, args.target.stage
        )
    };
    let template_text = aws()?
        .args([
            "cloudformation",
            "get-template",
            "--stack-name",
            &stack.stack_name,
        ])
        .args(["--query", "TemplateBody"])
        .args(["--output", "json"])
        .read()
        .with_context(not_deployed)?;
    let template = parse_template_body(&template_text)?;
    let logical_id = signing_secret(&template, &args.target.app)?;
    let secret_id = aws()?
        .args(["cloudformation", "describe-stack-resource"])
        .args([
            "--stack-name",
            &stack.stack_name,
            "--logical-resource-id",
            &logical_id,
        ])
        .args(["--query", "StackResourceDetail.PhysicalResourceId"])
        .read()
        .with_context(not_deployed)?;
    aws()?
        .args(["secretsmanager", "get-secret-value", "--secret-id", secret_id.trim()])
        .args(["--query", "SecretString"])
        .read()
        .map(|text| text.trim_end().to_owned())
        .with_context(|| {
            format!(
                "cannot read the signing key {logical_id} of stack {}: your credentials need secretsmanager:GetSecretValue on it",
                stack.stack_name
            )
        })
}

/// `get-template --query TemplateBody --output json` prints the template as JSON, or (for a
/// template sent as JSON text) a JSON string holding it.
fn parse_template_body(text: &str) -> Result<Value> {
    let value: Value = serde_json::from_str(text).context("the deployed template is not JSON")?;
    match value {
        Value::String(inner) => {
            serde_json::from_str(&inner).context("the deployed template is not JSON")
        }
        other => Ok(other),
    }
}

/// The one generated secret of the app's template: the key its tokens are signed with.
fn signing_secret(template: &Value, app: &str) -> Result<String> {
    let secrets: Vec<&String> = template["Resources"]
        .as_object()
        .map(|resources| {
            resources
                .iter()
                .filter(|(_, r)| r["Type"] == SECRET_TYPE)
                .map(|(id, _)| id)
                .collect()
        })
        .unwrap_or_default();
    match secrets.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!(
            "app `{app}` has no generated secret to sign tokens with: `token` is for apps whose `$connect` authorizer verifies signed tokens (chat)"
        ),
        many => bail!(
            "app `{app}` has several secrets ({}): `token` cannot tell which one signs tokens",
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Where `cargo xtask dev` writes what it provides, beside the assembly it runs.
pub fn services_file(assembly: &Path) -> PathBuf {
    let name = assembly
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    assembly.with_file_name(format!(".{name}.services.json"))
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {}: is `cargo xtask dev` running?",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// Whether a process with this pid runs (a zombie does not count).
fn running(pid: u32) -> bool {
    let stat = Path::new("/proc").join(pid.to_string()).join("stat");
    match std::fs::read_to_string(stat) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        // No /proc (macOS): trust the file.
        Err(_) => !Path::new("/proc/self").exists(),
    }
}

fn aws_cli(args: &TokenArgs) -> Result<Cmd> {
    let cli = match &args.aws.aws_cli {
        Some(path) => path.clone(),
        None => tools::AWS_CLI.ensure()?,
    };
    Ok(Cmd::new(cli))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_secret_is_the_templates_one_secret() {
        let template = serde_json::json!({"Resources": {
            "ConnectionsTable": {"Type": "AWS::DynamoDB::Table"},
            "SigningKeySecret": {"Type": SECRET_TYPE},
        }});
        assert_eq!(
            signing_secret(&template, "chat").unwrap(),
            "SigningKeySecret"
        );
        let none =
            serde_json::json!({"Resources": {"EchoFunction": {"Type": "AWS::Lambda::Function"}}});
        let err = signing_secret(&none, "echo").unwrap_err().to_string();
        assert!(err.contains("no generated secret"), "{err}");
        let two = serde_json::json!({"Resources": {
            "A": {"Type": SECRET_TYPE}, "B": {"Type": SECRET_TYPE},
        }});
        let err = signing_secret(&two, "x").unwrap_err().to_string();
        assert!(err.contains("A, B"), "{err}");
    }

    #[test]
    fn the_deployed_template_body_is_read_in_either_form() {
        let object = r#"{"Resources": {}}"#;
        assert_eq!(
            parse_template_body(object).unwrap(),
            serde_json::json!({"Resources": {}})
        );
        let string = serde_json::to_string(object).unwrap();
        assert_eq!(
            parse_template_body(&string).unwrap(),
            serde_json::json!({"Resources": {}})
        );
    }

    #[test]
    fn the_region_is_read_from_the_arn() {
        assert_eq!(
            arn_region("arn:aws:secretsmanager:us-east-1:000000000000:secret:Key-AbCdEf"),
            Some("us-east-1")
        );
        assert_eq!(arn_region("SigningKey"), None);
        assert_eq!(arn_region("arn:aws:secretsmanager::1:secret:x"), None);
    }

    /// The chat as `cargo xtask dev --app chat` runs it: the key `token` reads from the
    /// running services signs tokens its authorizer admits.
    #[test]
    #[ignore = "needs the moto server, the AWS CLI and every app's assembly: `cargo xtask test` provides them"]
    fn the_token_signed_with_the_running_devs_key_is_admitted() {
        use testenv::Need;
        let assembly = testenv::app_assembly("chat");
        let scratch = tempfile::tempdir().unwrap();
        // The command's view: the template, and the services file beside it.
        let view = scratch.path().join("dev-local");
        std::fs::create_dir_all(&view).unwrap();
        std::fs::copy(assembly.join(TEMPLATE_FILE), view.join(TEMPLATE_FILE)).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut opts = gateway::DevOptions::new(&assembly);
            opts.unpacked = Some(scratch.path().join("unpacked"));
            opts.local_services = Some(Need::MotoServer.path());
            let gw = gateway::start(opts).await.expect("the chat starts");
            let cli = || Cmd::new(Need::AwsCli.path());
            let err = local_key_in(&view, "chat", "dev", cli()).unwrap_err();
            assert!(
                format!("{err:#}").contains("cargo xtask dev --app chat --stage dev"),
                "{err:#}"
            );
            gw.local_services()
                .expect("the chat has local services")
                .write(&services_file(&view))
                .unwrap();
            let key = local_key_in(&view, "chat", "dev", cli()).expect("the key");
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let sign = |key: &[u8]| {
                chat_token::sign(key, &chat_token::Claims::new("alice", now, 60).unwrap())
            };
            let connect = |token: String| {
                let url = format!("{}?token={token}", gw.url());
                async move {
                    tokio::time::timeout(
                        std::time::Duration::from_secs(60),
                        tokio_tungstenite::connect_async(url),
                    )
                    .await
                    .expect("the handshake ends within a minute")
                }
            };
            let admitted = connect(sign(key.as_bytes())).await;
            assert!(admitted.is_ok(), "{:?}", admitted.err());
            let forged = connect(sign(b"not the key the stack generated, but as long")).await;
            let refused = forged.expect_err("a token of another key is refused");
            assert!(refused.to_string().contains("401"), "{refused}");
            drop(admitted);
            gw.shutdown().await;
        });
    }

    #[test]
    fn the_services_file_is_beside_the_assembly() {
        assert_eq!(
            services_file(Path::new("/t/assembly/chat/dev-local")),
            Path::new("/t/assembly/chat/.dev-local.services.json")
        );
        assert!(running(std::process::id()));
    }
}

//! Deploy: a no-change redeploy against a local moto server (real S3 and CloudFormation
//! APIs), after a first deploy: wall time, uploads and stack updates.

use std::fs;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::Ctx;
use super::children::{Guard, tail};
use super::figures::Unit;
use super::report::{Section, Table, ms_cells};
use super::stats::Samples;
use crate::tools;
use assembly::Assembly;
use deploy::{AwsOptions, BootstrapOptions, DEFAULT_TIMEOUT, DeployOptions, DeployReport, Outcome};

use crate::process::Cmd;

/// `cargo xtask bootstrap`, then what CloudFormation does on AWS and moto skips: the toolkit's
/// `AWS::ApiGateway::Account` points the account's logging setting at the toolkit's role,
/// which a stage with execution logging needs before it deploys.
fn bootstrap_as_on_aws(region: &str, opts: &DeployOptions) -> Result<()> {
    deploy::bootstrap(
        region,
        &BootstrapOptions {
            aws: opts.aws.clone(),
            yes: true,
            timeout: opts.timeout,
            progress: deploy::Progress::Plain,
        },
    )?;
    let aws = |args: &[&str]| -> Result<String> {
        let mut cmd = Cmd::new(
            opts.aws
                .cli
                .clone()
                .context("the bench names its AWS CLI")?,
        )
        .args(args)
        .args(["--region", region, "--output", "text"]);
        if let Some(endpoint) = &opts.aws.endpoint_url {
            cmd = cmd.args(["--endpoint-url", endpoint]);
        }
        for (key, value) in &opts.aws.env {
            cmd = cmd.env(key, value);
        }
        Ok(cmd.read()?.trim().to_owned())
    };
    let name = aws(&[
        "cloudformation",
        "list-stack-resources",
        "--stack-name",
        deploy::TOOLKIT_STACK,
        "--query",
        "StackResourceSummaries[?LogicalResourceId=='ApiGatewayCloudWatchRole'].PhysicalResourceId",
    ])?;
    let role = aws(&[
        "iam",
        "get-role",
        "--role-name",
        &name,
        "--query",
        "Role.Arn",
    ])?;
    if !role.starts_with("arn:") {
        bail!("the toolkit's ApiGatewayCloudWatchRole has no ARN (found `{role}`)");
    }
    aws(&[
        "apigateway",
        "update-account",
        "--patch-operations",
        &format!("op=replace,path=/cloudwatchRoleArn,value={role}"),
    ])?;
    Ok(())
}

pub fn run(ctx: &mut Ctx) -> Result<Section> {
    let source = ctx.host_assembly()?;
    let moto_exe = tools::MOTO.ensure()?;
    let aws_cli = tools::AWS_CLI.ensure()?;
    // A copy: deploy saves outputs.json into the assembly.
    let dir = ctx.work.join("deploy-assembly");
    let _ = fs::remove_dir_all(&dir);
    copy_files(&source, &dir)?;
    let assembly = Assembly::read(&dir)?;

    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log = ctx.work.join("moto.log");
    let mut command = Command::new(&moto_exe);
    command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let moto = Guard::spawn("moto_server", command, &log)?;
    wait_for_port(port, &log)?;

    let opts = DeployOptions {
        aws: AwsOptions {
            region: Some(assembly.stack.region.clone()),
            profile: None,
            endpoint_url: Some(format!("http://127.0.0.1:{port}")),
            cli: Some(aws_cli),
            env: [
                ("AWS_ACCESS_KEY_ID", "testing"),
                ("AWS_SECRET_ACCESS_KEY", "testing"),
                ("AWS_SESSION_TOKEN", "testing"),
                ("AWS_CONFIG_FILE", "/nonexistent/wsecho-bench-aws-config"),
                (
                    "AWS_SHARED_CREDENTIALS_FILE",
                    "/nonexistent/wsecho-bench-credentials",
                ),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        },
        yes: true,
        assets_bucket: None,
        timeout: DEFAULT_TIMEOUT,
        progress: deploy::Progress::Plain,
    };

    eprintln!("[bench] bootstrap (the toolkit stack), as on AWS");
    bootstrap_as_on_aws(&assembly.stack.region, &opts)?;
    eprintln!("[bench] first deploy to moto (uploads, stack creation)");
    let (first_time, first) = timed(&assembly, &opts)?;
    if first.outcome != Outcome::Deployed {
        bail!("the first deploy did not deploy ({:?})", first.outcome);
    }
    let reps = if ctx.check { 1 } else { ctx.reps(3, 1) };
    let mut times = Vec::new();
    let (mut uploads, mut updates) = (0usize, 0usize);
    for i in 0..reps {
        eprintln!("[bench] no-change deploy {}/{reps}", i + 1);
        let (took, report) = timed(&assembly, &opts)?;
        times.push(took);
        uploads = uploads.max(report.uploaded.len());
        updates = updates.max(usize::from(report.outcome == Outcome::Deployed));
    }
    drop(moto);
    let times = Samples::from_durations(&times).context("no deploys")?;

    let mut section = Section::new(
        "Deploy",
        &format!(
            "`deploy::deploy` (what `cargo xtask deploy --yes` runs) of the dev stage's \
             assembly for {} against moto 5.2.5 on 127.0.0.1 through the AWS CLI 1.46.2, with \
             throwaway credentials. First a deploy that creates everything (the toolkit stack \
             with the assets bucket, the uploads, the app stack); then {reps} deploy(s) with \
             nothing changed, each timed. Uploads are the zips sent to the bucket; stack updates \
             are change sets executed. The anchor is the first deploy (no AWS CDK run here: it \
             needs a bootstrapped account). Against real AWS, every call also pays the network \
             round trips; the AWS CLI's start-up (Python) dominates here.",
            ctx.host
        ),
    );
    section.figure(
        "deploy.first.wall_ms",
        first_time.as_secs_f64() * 1000.0,
        Unit::Ms,
    );
    section.figure(
        "deploy.first.uploads",
        first.uploaded.len() as f64,
        Unit::Count,
    );
    section.summary("deploy.noop.wall", &times, Unit::Ms, false);
    section.figure("deploy.noop.uploads", uploads as f64, Unit::Count);
    section.figure("deploy.noop.stack_updates", updates as f64, Unit::Count);
    let mut table = Table::new(&[
        "",
        "runs",
        "min",
        "median",
        "max",
        "uploads",
        "stack updates",
    ]);
    let first_ms = Samples::from_durations(&[first_time]).context("no first deploy")?;
    let mut row = vec!["first deploy".to_owned(), "1".to_owned()];
    row.extend(ms_cells(&first_ms));
    row.extend([first.uploaded.len().to_string(), "1 (created)".to_owned()]);
    table.row(row);
    let mut row = vec!["no-change redeploy".to_owned(), reps.to_string()];
    row.extend(ms_cells(&times));
    row.extend([uploads.to_string(), updates.to_string()]);
    table.row(row);
    section.tables.push(table);
    Ok(section)
}

fn timed(assembly: &Assembly, opts: &DeployOptions) -> Result<(Duration, DeployReport)> {
    let started = Instant::now();
    let report = deploy::deploy(assembly, opts)?;
    Ok((started.elapsed(), report))
}

fn copy_files(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() && entry.file_name() != "outputs.json" {
            fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

fn wait_for_port(port: u16, log: &Path) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if Instant::now() > deadline {
            bail!(
                "moto did not listen on {addr} within 60 s; its log ({}):\n{}",
                log.display(),
                tail(log)
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

//! `deploy`, `diff`, `destroy` and `bootstrap`: an assembly to AWS through the user's AWS CLI.
//!
//! deploy = check credentials → make sure the assets bucket exists (toolkit stack) → upload
//! the zips the bucket lacks → change set → summary → confirm → execute with live events →
//! outputs (printed and saved as `outputs.json`). Nothing changed → nothing uploaded,
//! nothing executed, "no changes".

mod assets;
pub mod aws;
pub mod changeset;
pub mod cli;
mod confirm;
mod events;
mod flow;
pub mod outputs;
mod requirements;
mod stack;
mod summary;
pub mod template_diff;
pub mod toolkit;

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::assembly::{Assembly, StackInfo};
pub use aws::{Aws, AwsOptions};
use changeset::Kind;
use flow::{Applied, Prepared, Target};
pub use outputs::{Output, Outputs};
use template_diff::diff_templates;

/// How long a stack operation may take before we stop waiting (it goes on in AWS).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

#[derive(Debug, Clone)]
pub struct DeployOptions {
    pub aws: AwsOptions,
    /// Deploy without asking (required when stdin is not a terminal).
    pub yes: bool,
    /// Upload to this bucket instead of the toolkit stack's.
    pub assets_bucket: Option<String>,
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The stack already had this template and parameters.
    NoChanges,
    Deployed,
    /// The user said no at the prompt.
    Declined,
}

/// What a deploy did.
#[derive(Debug, Clone)]
pub struct DeployReport {
    pub outcome: Outcome,
    pub stack_name: String,
    /// The assets bucket used (`None` when the template takes none).
    pub assets_bucket: Option<String>,
    /// Keys uploaded by this deploy.
    pub uploaded: Vec<String>,
    /// The stack's outputs after the deploy (`None` when declined).
    pub outputs: Option<Outputs>,
}

fn aws_for(opts: &AwsOptions, stack: &StackInfo) -> Aws {
    let aws = Aws::new(opts, &stack.region);
    if aws.region != stack.region {
        eprintln!(
            "[deploy] note: deploying to {} (from --region or the environment); the assembly \
             was synthesized for {}",
            aws.region, stack.region
        );
    }
    aws
}

fn login(aws: &Aws, stack_name: &str) -> Result<()> {
    announce(aws, stack_name, &aws.check_credentials()?);
    Ok(())
}

fn announce(aws: &Aws, stack_name: &str, id: &aws::Identity) {
    eprintln!(
        "[deploy] stack {stack_name} in account {}, region {} (as {})",
        id.account,
        aws.target(),
        id.arn
    );
}

/// The app stack's target; checks locally what the template needs.
fn app_target<'a>(assembly: &'a Assembly, bucket: Option<&str>) -> Result<Target<'a>> {
    Ok(Target {
        stack_name: &assembly.stack.stack_name,
        template_text: &assembly.template_text,
        template_url: None,
        template: &assembly.template,
        parameters: requirements::parameters(&assembly.template, bucket)?,
        capabilities: requirements::capabilities(&assembly.template),
    })
}

/// Deploys an assembly. Errors carry the root cause and what state the stack is in.
pub fn deploy(assembly: &Assembly, opts: &DeployOptions) -> Result<DeployReport> {
    let stack_name = assembly.stack.stack_name.as_str();
    let needs_bucket = requirements::needs_assets_bucket(&assembly.template);
    // Local checks first: a template we can't deploy fails before any AWS call.
    app_target(assembly, needs_bucket.then_some("placeholder"))?;
    let aws = aws_for(&opts.aws, &assembly.stack);

    // Credentials, the toolkit's bucket and the stack, read at once: a no-change deploy
    // costs one round of AWS CLI starts.
    let look_up_toolkit = needs_bucket && opts.assets_bucket.is_none();
    let (identity, toolkit_bucket, survey) = thread::scope(|s| {
        let identity = s.spawn(|| aws.check_credentials());
        let toolkit_bucket = s.spawn(|| {
            if look_up_toolkit {
                toolkit::assets_bucket(&aws)
            } else {
                Ok(None)
            }
        });
        let survey = flow::survey(&aws, stack_name);
        (
            identity.join().expect("no panic"),
            toolkit_bucket.join().expect("no panic"),
            survey,
        )
    });
    // Credentials first: without them the other answers are errors too.
    announce(&aws, stack_name, &identity?);
    let (toolkit_bucket, survey) = (toolkit_bucket?, survey?);

    let bucket = if !needs_bucket {
        None
    } else if let Some(bucket) = &opts.assets_bucket {
        Some(bucket.clone())
    } else {
        Some(match toolkit_bucket {
            Some(bucket) => bucket,
            None => {
                eprintln!(
                    "[deploy] no assets bucket in {} yet: creating stack {} (what `cargo xtask \
                     bootstrap` does)",
                    aws.target(),
                    toolkit::TOOLKIT_STACK
                );
                bootstrap_with(&aws, opts.yes, opts.timeout)?
            }
        })
    };
    let target = app_target(assembly, bucket.as_deref())?;

    let (kind, deployed_template) = match flow::prepare(&aws, &target, survey, opts.timeout)? {
        Prepared::Unchanged(stack) => {
            eprintln!("[deploy] {stack_name}: no changes");
            let outputs = finish(assembly, &stack, &aws)?;
            return Ok(DeployReport {
                outcome: Outcome::NoChanges,
                stack_name: stack_name.to_owned(),
                assets_bucket: bucket,
                uploaded: Vec::new(),
                outputs: Some(outputs),
            });
        }
        Prepared::Changes {
            kind,
            deployed_template,
        } => (kind, deployed_template),
    };

    let uploaded = match &bucket {
        Some(bucket) => {
            let source = if opts.assets_bucket.is_some() {
                assets::BucketSource::Given
            } else {
                assets::BucketSource::Toolkit
            };
            assets::upload_missing(&aws, assembly, bucket, source)?
        }
        None => Vec::new(),
    };
    if bucket.is_some() && uploaded.is_empty() {
        eprintln!("[deploy] assets: all already in the bucket");
    }

    let mut target = target;
    if let Some(bucket) = &bucket
        && assembly.template_text.len() > changeset::MAX_TEMPLATE_BODY
    {
        target.template_url = Some(assets::upload_template(&aws, bucket, assembly)?);
    }

    let report = |outcome, outputs| DeployReport {
        outcome,
        stack_name: stack_name.to_owned(),
        assets_bucket: bucket.clone(),
        uploaded: uploaded.clone(),
        outputs,
    };
    let proposal = match flow::propose(
        &aws,
        &target,
        kind,
        deployed_template.as_ref(),
        opts.timeout,
    )? {
        Some(p) => p,
        None => {
            eprintln!("[deploy] {stack_name}: no changes");
            let stack = stack::describe(&aws, stack_name)?
                .with_context(|| format!("stack {stack_name} vanished"))?;
            let outputs = finish(assembly, &stack, &aws)?;
            return Ok(report(Outcome::NoChanges, Some(outputs)));
        }
    };
    match flow::apply(&aws, stack_name, &proposal, opts.yes, opts.timeout)? {
        Applied::Declined => Ok(report(Outcome::Declined, None)),
        Applied::Done => {
            let stack = stack::describe(&aws, stack_name)?
                .with_context(|| format!("stack {stack_name} vanished after deploying"))?;
            let outputs = finish(assembly, &stack, &aws)?;
            Ok(report(Outcome::Deployed, Some(outputs)))
        }
    }
}

/// Prints and saves the outputs.
fn finish(assembly: &Assembly, stack: &stack::Stack, aws: &Aws) -> Result<Outputs> {
    let outputs = Outputs::new(&stack.name, stack.outputs.clone());
    let declared = assembly
        .template
        .get("Outputs")
        .and_then(Value::as_object)
        .map_or(0, |o| o.len());
    if outputs.outputs.is_empty() && declared > 0 {
        eprintln!(
            "[deploy] warning: stack {} reports no outputs although its template declares {declared} \
             ({}; moto's change sets are known to drop outputs)",
            stack.name,
            aws.target()
        );
    }
    print!("{}", outputs.render());
    outputs.save(&assembly.dir)?;
    Ok(outputs)
}

#[derive(Debug, Clone)]
pub struct DiffOptions {
    pub aws: AwsOptions,
    /// Compare with this saved template instead of the deployed stack (offline).
    pub template: Option<PathBuf>,
    /// Use this bucket's name for the `AssetsBucket` parameter instead of the toolkit's.
    pub assets_bucket: Option<String>,
    pub timeout: Duration,
}

/// What `diff` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffReport {
    /// Would a deploy change anything?
    pub changed: bool,
    /// What was printed.
    pub text: String,
}

/// Shows what a deploy would change, without changing anything (a change set is made to ask
/// CloudFormation, then deleted; a stack that doesn't exist yet is diffed offline).
pub fn diff(assembly: &Assembly, opts: &DiffOptions) -> Result<DiffReport> {
    let (changed, text) = diff_text(assembly, opts)?;
    print!("{text}");
    Ok(DiffReport { changed, text })
}

fn diff_text(assembly: &Assembly, opts: &DiffOptions) -> Result<(bool, String)> {
    let stack_name = assembly.stack.stack_name.as_str();
    if let Some(path) = &opts.template {
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read the template {}", path.display()))?;
        let old: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a JSON template (diff reads JSON templates)",
                path.display()
            )
        })?;
        let d = diff_templates(&old, &assembly.template);
        let header = format!("{} → {}:\n", path.display(), assembly.dir.display());
        return Ok((!d.is_empty(), header + &d.render()));
    }

    let aws = aws_for(&opts.aws, &assembly.stack);
    login(&aws, stack_name)?;
    let flow::Survey {
        stack: existing,
        template: deployed,
    } = flow::survey(&aws, stack_name)?;
    if !matches!(stack::next_step(existing.as_ref()), stack::Next::Update) {
        // Nothing live: everything is new. Said without creating anything in AWS.
        let header = match &existing {
            Some(s) => format!(
                "stack {stack_name} is {}: a deploy creates it afresh\n",
                s.status
            ),
            None => format!(
                "stack {stack_name} does not exist in {}: a deploy creates it\n",
                aws.target()
            ),
        };
        let d = diff_templates(&Value::Object(Default::default()), &assembly.template);
        return Ok((true, header + &d.render()));
    }
    let existing = existing.expect("an updatable stack exists");
    let bucket = if !requirements::needs_assets_bucket(&assembly.template) {
        None
    } else if let Some(b) = &opts.assets_bucket {
        Some(b.clone())
    } else {
        // The bucket the stack uses now: a diff shouldn't create the toolkit.
        match toolkit::assets_bucket(&aws)? {
            Some(b) => Some(b),
            None => existing
                .parameters
                .iter()
                .find(|(k, _)| k == requirements::ASSETS_BUCKET_PARAMETER)
                .map(|(_, v)| v.clone()),
        }
    };
    let mut target = app_target(assembly, bucket.as_deref())?;
    if let Some(bucket) = &bucket
        && assembly.template_text.len() > changeset::MAX_TEMPLATE_BODY
    {
        target.template_url = Some(assets::upload_template(&aws, bucket, assembly)?);
    }
    let deployed = match deployed {
        Some(t) => t,
        None => stack::template(&aws, stack_name)?,
    };
    let no_changes = || (false, format!("stack {stack_name}: no changes\n"));
    if deployed == assembly.template
        && flow::same_parameters(&existing.parameters, &target.parameters)
    {
        return Ok(no_changes());
    }
    match flow::propose(&aws, &target, Kind::Update, Some(&deployed), opts.timeout)? {
        None => Ok(no_changes()),
        Some(proposal) => {
            changeset::delete(&aws, &proposal.change_set.id)?;
            Ok((true, proposal.summary))
        }
    }
}

#[derive(Debug, Clone)]
pub struct DestroyOptions {
    pub aws: AwsOptions,
    pub yes: bool,
    /// Also empty and delete the assets bucket (the toolkit stack), which every stage in the
    /// account and region shares.
    pub with_assets: bool,
    pub timeout: Duration,
}

/// Where an assembly's stack goes, read from its `stack.json` alone: `destroy` needs no
/// template and no zips.
pub fn read_stack_info(assembly_dir: &std::path::Path) -> Result<StackInfo> {
    let path = assembly_dir.join(crate::assembly::STACK_FILE);
    let text = fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {}: name the stage's assembly (`cargo xtask synth` writes it)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// Deletes the stack and waits for it to go. A stack that isn't there is not an error.
pub fn destroy(stack_info: &StackInfo, opts: &DestroyOptions) -> Result<()> {
    let stack_name = stack_info.stack_name.as_str();
    let aws = aws_for(&opts.aws, stack_info);
    login(&aws, stack_name)?;
    match stack::describe(&aws, stack_name)? {
        None => eprintln!(
            "[destroy] stack {stack_name} does not exist in {}: nothing to delete",
            aws.target()
        ),
        Some(s) => {
            if !confirm::confirm(
                &format!(
                    "Delete stack {stack_name} ({}) and everything in it?",
                    s.status
                ),
                &format!("delete stack {stack_name}"),
                opts.yes,
            )? {
                eprintln!("[destroy] not deleted");
                return Ok(());
            }
            eprintln!("[destroy] deleting stack {stack_name}");
            stack::delete(&aws, &s, opts.timeout)?;
            eprintln!("[destroy] stack {stack_name} deleted");
        }
    }
    if opts.with_assets {
        destroy_toolkit(&aws, opts)?;
    } else {
        eprintln!(
            "[destroy] the assets bucket (stack {}) is kept: other stages may use it; \
             `--with-assets` deletes it too",
            toolkit::TOOLKIT_STACK
        );
    }
    Ok(())
}

fn destroy_toolkit(aws: &Aws, opts: &DestroyOptions) -> Result<()> {
    let Some(toolkit) = stack::describe(aws, toolkit::TOOLKIT_STACK)? else {
        eprintln!("[destroy] no toolkit stack: no assets bucket to delete");
        return Ok(());
    };
    if !confirm::confirm(
        &format!(
            "Also empty and delete the assets bucket (stack {}), shared by every stage in {}?",
            toolkit::TOOLKIT_STACK,
            aws.target()
        ),
        "delete the assets bucket",
        opts.yes,
    )? {
        return Ok(());
    }
    let bucket = toolkit::assets_bucket(aws)?;
    eprintln!("[destroy] deleting stack {}", toolkit::TOOLKIT_STACK);
    stack::delete(aws, &toolkit, opts.timeout)?;
    // The stack keeps its bucket when it goes (DeletionPolicy: Retain): delete it here.
    if let Some(bucket) = bucket
        && bucket_exists(aws, &bucket)?
    {
        empty_bucket(aws, &bucket)?;
        aws.call("s3api", "delete-bucket", &["--bucket", &bucket])?;
        eprintln!("[destroy] bucket {bucket} deleted");
    }
    Ok(())
}

/// Deletes every object version and delete marker (a versioned bucket must be empty to go).
fn empty_bucket(aws: &Aws, bucket: &str) -> Result<()> {
    let listed = match aws.call("s3api", "list-object-versions", &["--bucket", bucket]) {
        Ok(v) => v,
        Err(e) if e.code() == Some("NoSuchBucket") => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut objects: Vec<Value> = Vec::new();
    for list in ["Versions", "DeleteMarkers"] {
        for v in listed
            .get(list)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(key) = v.get("Key") {
                let mut o = serde_json::json!({"Key": key});
                if let Some(id) = v.get("VersionId").filter(|i| !i.is_null()) {
                    o["VersionId"] = id.clone();
                }
                objects.push(o);
            }
        }
    }
    eprintln!(
        "[destroy] emptying {bucket} ({} object versions)",
        objects.len()
    );
    for chunk in objects.chunks(500) {
        let delete = serde_json::json!({"Objects": chunk, "Quiet": true}).to_string();
        aws.call(
            "s3api",
            "delete-objects",
            &["--bucket", bucket, "--delete", &delete],
        )?;
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct BootstrapOptions {
    pub aws: AwsOptions,
    pub yes: bool,
    pub timeout: Duration,
}

/// Creates or updates the toolkit stack in `region` (or the one the options and environment
/// name); returns the assets bucket's name.
pub fn bootstrap(region: &str, opts: &BootstrapOptions) -> Result<String> {
    let aws = Aws::new(&opts.aws, region);
    login(&aws, toolkit::TOOLKIT_STACK)?;
    let bucket = bootstrap_with(&aws, opts.yes, opts.timeout)?;
    println!("assets bucket: {bucket}");
    Ok(bucket)
}

fn bucket_exists(aws: &Aws, bucket: &str) -> Result<bool> {
    match aws.call("s3api", "head-bucket", &["--bucket", bucket]) {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.code(), Some("404" | "NoSuchBucket" | "NotFound")) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn bootstrap_with(aws: &Aws, yes: bool, timeout: Duration) -> Result<String> {
    let template_text = toolkit::template()?;
    let template: Value =
        serde_json::from_str(&template_text).context("the toolkit template is JSON")?;
    let target = Target {
        stack_name: toolkit::TOOLKIT_STACK,
        template_text: &template_text,
        template_url: None,
        template: &template,
        parameters: Vec::new(),
        capabilities: requirements::capabilities(&template),
    };
    // A bucket deleted behind CloudFormation's back can't come back by an update (the
    // template is unchanged): the stack goes and comes again.
    if let Some(bucket) = toolkit::assets_bucket(aws)?
        && !bucket_exists(aws, &bucket)?
        && let Some(s) = stack::describe(aws, toolkit::TOOLKIT_STACK)?
    {
        eprintln!(
            "[bootstrap] the assets bucket {bucket} is gone: recreating stack {}",
            toolkit::TOOLKIT_STACK
        );
        stack::delete(aws, &s, timeout)?;
    }
    let survey = flow::survey(aws, toolkit::TOOLKIT_STACK)?;
    match flow::prepare(aws, &target, survey, timeout)? {
        Prepared::Unchanged(_) => {}
        Prepared::Changes {
            kind,
            deployed_template,
        } => {
            if let Some(proposal) =
                flow::propose(aws, &target, kind, deployed_template.as_ref(), timeout)?
                && flow::apply(aws, toolkit::TOOLKIT_STACK, &proposal, yes, timeout)?
                    == Applied::Declined
            {
                bail!(
                    "the toolkit stack was not deployed: there is no assets bucket to deploy with"
                );
            }
        }
    }
    toolkit::assets_bucket(aws)?.with_context(|| {
        format!(
            "stack {} has no {} resource after bootstrapping",
            toolkit::TOOLKIT_STACK,
            toolkit::BUCKET_LOGICAL_ID
        )
    })
}

//! `cargo xtask synth`: an app's route table + stage config + asset manifest → its stack →
//! the assembly.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, Result};
use assembly::{Architecture, Assembly, AssetManifest, MANIFEST_FILE, NewAssembly, StackInfo};
use cargo_metadata::Metadata;
use clap::ValueEnum;
use infra::app::App;
use infra::config::StageConfig;

use crate::build::{self, BuildOptions, BuildProfile};
use crate::process::Cmd;
use crate::{sources, workspace};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    /// `template.json` (what deploy sends) plus `template.yaml` to read.
    Yaml,
}

/// The stage commands work on unless `--stage` names another.
const DEFAULT_STAGE: &str = "dev";

/// Which app and stage a command is about.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct AppStage {
    /// The app (one route table in infra/src/apps/).
    #[arg(long, default_value = infra::apps::DEFAULT.name)]
    pub app: String,
    /// The stage (infra/stages/<app>/<stage>.yaml).
    #[arg(long, default_value = DEFAULT_STAGE)]
    pub stage: String,
}

impl Default for AppStage {
    /// What every command works on unless told: the default app's dev stage.
    fn default() -> AppStage {
        AppStage {
            app: infra::apps::DEFAULT.name.into(),
            stage: DEFAULT_STAGE.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub target: AppStage,
    pub format: Format,
    /// The assembly folder [default: target/assembly/<app>/<stage>].
    pub out: Option<PathBuf>,
    /// Overrides the stage config's architecture (`dev` and tests run this machine's).
    pub arch: Option<Architecture>,
    /// Which build of the functions the assembly carries (`dev` runs the local one).
    pub profile: BuildProfile,
}

/// Where an app's stage is synthesized unless told: `target/assembly/<app>/<stage>`.
pub fn assembly_dir(target_dir: &Path, app: &str, stage: &str) -> PathBuf {
    target_dir.join("assembly").join(app).join(stage)
}

pub fn synth(opts: &SynthOptions) -> Result<PathBuf> {
    let app = load_app(&opts.target.app)?;
    let config = load_stage(app, &opts.target.stage)?;
    let arch = opts.arch.unwrap_or(config.architecture());

    let metadata = workspace::metadata()?;
    let target_dir: PathBuf = metadata.target_directory.clone().into();
    let assets_dir = build::default_out(&target_dir, opts.profile, arch);
    let packages = app.packages();
    // The app's functions only: its assembly holds what its template runs.
    let manifest =
        fresh_assets(&metadata, &assets_dir, opts.profile, arch, &packages)?.only(&packages);

    let started = Instant::now();
    let synthesized = app.synth(&config, &manifest)?;
    let json = synthesized.template.to_json();
    let yaml = match opts.format {
        Format::Json => None,
        Format::Yaml => Some(synthesized.template.to_yaml()?),
    };
    let synthesis = started.elapsed();
    for warning in &synthesized.warnings {
        eprintln!("[synth] {warning}");
    }

    let dir = opts
        .out
        .clone()
        .unwrap_or_else(|| assembly_dir(&target_dir, app.name, &opts.target.stage));
    NewAssembly {
        template_json: &json,
        template_yaml: yaml.as_deref(),
        manifest: &manifest,
        assets_dir: &assets_dir,
        stack: &config.stack_info(&opts.target.stage),
    }
    .write(&dir)?;
    eprintln!(
        "[synth] app {} stage {} ({arch}): {} resources in {:.2} ms → {}",
        app.name,
        opts.target.stage,
        synthesized.template.resource_count(),
        synthesis.as_secs_f64() * 1000.0,
        dir.display()
    );
    Ok(dir)
}

/// [`synth`] by a child process: builds infra's `synth` binary from the sources as they are
/// now and has it write the assembly. `dev --watch` uses it once the app's infrastructure
/// code changed, since the model compiled into this xtask is the one it started with.
pub fn synth_in_child(opts: &SynthOptions) -> Result<PathBuf> {
    let metadata = workspace::metadata()?;
    let target_dir: PathBuf = metadata.target_directory.clone().into();
    let root = workspace::root();
    let stage_file = infra::config::stage_file(&opts.target.app, &opts.target.stage);
    if !stage_file.is_file() {
        anyhow::bail!(
            "app `{}` has no stage `{}`: {} does not exist",
            opts.target.app,
            opts.target.stage,
            stage_file.display()
        );
    }
    // The architecture as the in-process synth picks it: the stage file's unless told.
    let arch = match opts.arch {
        Some(arch) => arch,
        None => load_stage(load_app(&opts.target.app)?, &opts.target.stage)?.architecture(),
    };
    let assets_dir = build::default_out(&target_dir, opts.profile, arch);
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| assembly_dir(&target_dir, &opts.target.app, &opts.target.stage));

    let started = Instant::now();
    // The functions' local profile: its dependencies are compiled already, and it is
    // incremental.
    Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--profile",
            "local",
            "-p",
            "infra",
            "--bin",
            "synth",
        ])
        .current_dir(&root)
        .run()
        .context(
            "the app's infrastructure code does not compile: fix the errors above and save again",
        )?;
    let synth = target_dir.join("local").join("synth");
    // The packages the edited model names, which the compiled-in one may not know.
    let listed = Cmd::new(&synth)
        .args(["--app", &opts.target.app, "--packages"])
        .current_dir(&root)
        .read()
        .context("the edited model does not list its functions")?;
    let packages: Vec<&str> = listed.lines().filter(|l| !l.is_empty()).collect();
    fresh_assets(&metadata, &assets_dir, opts.profile, arch, &packages)?;
    Cmd::new(&synth)
        .args(["--app", &opts.target.app, "--stage-file"])
        .arg(&stage_file)
        .arg("--assets")
        .arg(assets_dir.join(MANIFEST_FILE))
        .arg("--out")
        .arg(&out)
        .arg("--assembly")
        .current_dir(&root)
        .output()
        .and_then(|output| {
            if output.status.success() {
                for warning in String::from_utf8_lossy(&output.stderr).lines() {
                    eprintln!("[synth] {warning}");
                }
                Ok(())
            } else {
                anyhow::bail!(
                    "the synthesis failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )
            }
        })?;
    eprintln!(
        "[synth] app {} stage {} ({arch}), by the infra sources as they are now, in {:.1} s → {}",
        opts.target.app,
        opts.target.stage,
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(out)
}

/// The app `--app` names.
pub fn load_app(name: &str) -> Result<&'static App> {
    Ok(infra::apps::find(name)?)
}

/// An app's stage config; a stage without a file is an error listing the app's stages.
pub fn load_stage(app: &App, stage: &str) -> Result<StageConfig> {
    let config_path = infra::config::stage_file(app.name, stage);
    if !config_path.is_file() {
        let known: Vec<String> = infra::config::stage_files(app.name)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        anyhow::bail!(
            "app `{}` has no stage `{stage}`: {} does not exist. Its stages: {}. Add one by copying a stage file",
            app.name,
            config_path.display(),
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    }
    Ok(StageConfig::load(&config_path)?)
}

/// The manifest of `assets_dir`, building first those of `packages` whose zip is missing or
/// older than a source it is built from: a no-op `synth` doesn't pay for a cargo invocation,
/// and an app's synth doesn't build other apps' functions.
fn fresh_assets(
    metadata: &Metadata,
    assets_dir: &Path,
    profile: BuildProfile,
    arch: Architecture,
    packages: &[&str],
) -> Result<AssetManifest> {
    let manifest_path = assets_dir.join(MANIFEST_FILE);
    let wanted: Vec<String> = packages.iter().map(|p| (*p).to_owned()).collect();
    let manifest = AssetManifest::read(&manifest_path).ok();
    let stale = match &manifest {
        Some(manifest) if manifest.architecture == arch => {
            stale_packages(metadata, &manifest_path, manifest, &wanted)?
        }
        _ => wanted.clone(),
    };
    match manifest {
        Some(manifest) if stale.is_empty() => Ok(manifest),
        _ => {
            eprintln!(
                "[synth] the zips of {} are missing or stale: building them",
                stale.join(", ")
            );
            Ok(build::build(&BuildOptions {
                arch,
                profile,
                packages: stale,
                out: Some(assets_dir.to_owned()),
            })?
            .manifest)
        }
    }
}

/// The packages of `wanted` the manifest lacks, whose zip is gone, or whose zip is older than
/// a source it is built from: its own crate, the code under `functions/` that is not a
/// function crate (`shared`...), the workspace's build files. Another function's edit leaves
/// it fresh. A build refreshes the time of every zip it makes, even one it already had.
fn stale_packages(
    metadata: &Metadata,
    manifest_path: &Path,
    manifest: &AssetManifest,
    wanted: &[String],
) -> Result<Vec<String>> {
    let root = workspace::root();
    let functions = workspace::functions(metadata)?;
    let mut common = SystemTime::UNIX_EPOCH;
    for file in sources::ROOT_BUILD_FILES {
        if let Ok(meta) = fs::metadata(root.join(file)) {
            common = common.max(meta.modified()?);
        }
    }
    sources::walk(&root.join("functions"), &mut |path, meta| {
        let in_a_function = functions.iter().any(|f| path.starts_with(&f.manifest_dir));
        if !in_a_function && let Ok(modified) = meta.modified() {
            common = common.max(modified);
        }
    })?;
    let mut stale = Vec::new();
    for package in wanted {
        let own = match functions.iter().find(|f| &f.package == package) {
            Some(function) => sources::newest_under(&function.manifest_dir)?,
            // Not a function crate (any more): the build says so.
            None => SystemTime::now(),
        };
        let built_at = manifest
            .function(package)
            .and_then(|f| fs::metadata(manifest_path.with_file_name(&f.zip)).ok())
            .and_then(|meta| meta.modified().ok());
        if built_at.is_none_or(|built_at| built_at < common.max(own)) {
            stale.push(package.clone());
        }
    }
    Ok(stale)
}

/// Which assembly a command works on: an app's stage to synthesize first, or one already
/// written.
#[derive(Debug, Clone, clap::Args)]
pub struct AssemblyArgs {
    #[command(flatten)]
    pub target: AppStage,
    /// Use this assembly as it is (written by `cargo xtask synth`) instead of synthesizing.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["arch"])]
    pub assembly: Option<PathBuf>,
    /// Build and synthesize for this architecture instead of the stage's.
    #[arg(long)]
    pub arch: Option<Architecture>,
}

impl AssemblyArgs {
    /// Synthesizes (unless `--assembly`) and reads the assembly.
    pub fn assembly(&self) -> Result<Assembly> {
        let dir = match &self.assembly {
            Some(dir) => dir.clone(),
            None => synth(&SynthOptions {
                target: self.target.clone(),
                format: Format::Json,
                out: None,
                arch: self.arch,
                profile: BuildProfile::Release,
            })?,
        };
        Ok(Assembly::read(&dir)?)
    }

    /// Where the stack goes, without building anything (for `destroy`).
    pub fn stack_info(&self) -> Result<StackInfo> {
        if let Some(dir) = &self.assembly {
            return Ok(StackInfo::read(dir)?);
        }
        let app = load_app(&self.target.app)?;
        Ok(load_stage(app, &self.target.stage)?.stack_info(&self.target.stage))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn a_zip_is_stale_by_its_own_time_and_a_missing_one_always() {
        let dir = tempfile::tempdir().unwrap();
        let manifest_path = dir.path().join(MANIFEST_FILE);
        let asset = |package: &str| assembly::FunctionAsset {
            package: package.to_owned(),
            architecture: Architecture::X86_64,
            zip: PathBuf::from(format!("{package}.zip")),
            sha256: "0".repeat(64),
            size: 1,
            binary_size: 1,
        };
        let manifest = AssetManifest {
            version: assembly::MANIFEST_VERSION,
            architecture: Architecture::X86_64,
            functions: vec![asset("echo"), asset("connect")],
        };
        // Both zips newer than any source; then echo's from 1970.
        for package in ["echo", "connect"] {
            fs::write(dir.path().join(format!("{package}.zip")), "zip").unwrap();
        }
        fs::File::options()
            .write(true)
            .open(dir.path().join("echo.zip"))
            .unwrap()
            .set_modified(SystemTime::UNIX_EPOCH)
            .unwrap();
        let metadata = workspace::metadata().unwrap();
        let wanted: Vec<String> = ["echo", "connect", "default"].map(String::from).into();
        assert_eq!(
            stale_packages(&metadata, &manifest_path, &manifest, &wanted).unwrap(),
            vec!["echo", "default"],
            "echo is older than its sources, default is not in the manifest"
        );
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        target: AppStage,
    }

    #[test]
    fn the_flags_default_to_what_commands_use_without_them() {
        assert_eq!(Cli::parse_from(["x"]).target, AppStage::default());
        assert_eq!(AppStage::default().app, "echo");
        let chat = Cli::parse_from(["x", "--app", "chat", "--stage", "prod"]).target;
        assert_eq!((chat.app.as_str(), chat.stage.as_str()), ("chat", "prod"));
    }

    /// What `dev --watch` does after an infra edit gives the assembly `dev` started with:
    /// the same template, manifest and stack, from the local build of the functions.
    #[test]
    #[ignore = "builds every function with the local profile (minutes): `cargo xtask test` runs it"]
    fn a_synthesis_by_a_child_process_writes_what_the_in_process_one_does() {
        let scratch = tempfile::tempdir().unwrap();
        let opts = |name: &str| SynthOptions {
            target: AppStage::default(),
            format: Format::Json,
            out: Some(scratch.path().join(name)),
            arch: Some(Architecture::host().expect("a Lambda architecture")),
            profile: BuildProfile::Local,
        };
        let in_process = synth(&opts("in-process")).unwrap();
        let in_child = synth_in_child(&opts("child")).unwrap();
        assert_eq!(in_child, scratch.path().join("child"));
        for file in [assembly::TEMPLATE_FILE, MANIFEST_FILE, assembly::STACK_FILE] {
            assert_eq!(
                fs::read_to_string(in_process.join(file)).unwrap(),
                fs::read_to_string(in_child.join(file)).unwrap(),
                "{file}"
            );
        }
        let read = Assembly::read(&in_child).unwrap();
        assert!(
            read.manifest
                .functions
                .iter()
                .all(|f| in_child.join(&f.zip).is_file())
        );
    }
}

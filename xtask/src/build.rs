//! `cargo xtask build`: every function crate → a build → reproducible zip named by its
//! sha256 → `assets.json`.
//!
//! Two builds: `release`, what deploys get (cargo-lambda, the stage's architecture, the
//! tuned release profile, one package per cargo call so features don't unify), and `local`,
//! what `cargo xtask dev` and the tests run (plain cargo for this machine, the `local`
//! profile: incremental, no LTO, every package in one cargo call). Each has its own assets
//! folder.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use assembly::{
    Architecture, AssetManifest, FunctionAsset, MANIFEST_FILE, MANIFEST_VERSION, human_size,
    write_atomically,
};

use crate::process::Cmd;
use crate::tools;
use crate::workspace::{self, FunctionCrate};
use assembly::bundle;

/// Which build of the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BuildProfile {
    /// What deploys get: cargo-lambda, `[profile.release]`.
    Release,
    /// Quick to rebuild, for runs on this machine: plain cargo, `[profile.local]`.
    Local,
}

impl BuildProfile {
    fn folder(self) -> &'static str {
        match self {
            BuildProfile::Release => "assets",
            BuildProfile::Local => "assets-local",
        }
    }
}

#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub arch: Architecture,
    pub profile: BuildProfile,
    /// Build only these packages (all function crates when empty).
    pub packages: Vec<String>,
    /// Where the zips and `assets.json` go (default: `target/wsecho/assets[-local]/<arch>`).
    pub out: Option<PathBuf>,
}

/// Where `build` puts a profile's and architecture's assets by default.
pub fn default_out(target_dir: &Path, profile: BuildProfile, arch: Architecture) -> PathBuf {
    target_dir
        .join("wsecho")
        .join(profile.folder())
        .join(arch.as_str())
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Built {
    pub manifest: AssetManifest,
}

pub fn build(opts: &BuildOptions) -> Result<Built> {
    let metadata = workspace::metadata()?;
    let all = workspace::functions(&metadata)?;
    let selected = select(&all, &opts.packages)?;
    let target_dir: PathBuf = metadata.target_directory.clone().into();
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| default_out(&target_dir, opts.profile, opts.arch));
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let assets = match opts.profile {
        BuildProfile::Release => build_release(opts, &metadata, &selected, &out)?,
        BuildProfile::Local => build_local(opts.arch, &metadata, &selected, &out)?,
    };

    let manifest_path = out.join(MANIFEST_FILE);
    let manifest = merge(&manifest_path, opts.arch, assets, &all)?;
    write_atomically(&manifest_path, manifest.to_json().as_bytes())?;
    prune(&out, &manifest)?;
    eprintln!("[build] wrote {}", manifest_path.display());
    Ok(Built { manifest })
}

/// Every selected package in one `cargo build --profile local` for this machine.
fn build_local(
    arch: Architecture,
    metadata: &cargo_metadata::Metadata,
    selected: &[FunctionCrate],
    out: &Path,
) -> Result<Vec<FunctionAsset>> {
    if Architecture::host() != Some(arch) {
        anyhow::bail!(
            "the local build is for this machine ({}), not {arch}: use `--profile release` for another architecture",
            Architecture::host()
                .map_or_else(|| "no Lambda architecture".to_owned(), |a| a.to_string())
        );
    }
    let names: Vec<&str> = selected.iter().map(|f| f.package.as_str()).collect();
    eprintln!("[build] {} ({arch}, local)", names.join(", "));
    let started = Instant::now();
    let mut cargo = Cmd::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())).args([
        "build",
        "--profile",
        "local",
        "--quiet",
    ]);
    for function in selected {
        cargo = cargo.args(["--package", &function.package, "--bin", &function.bin]);
    }
    cargo
        .current_dir(&metadata.workspace_root)
        .run()
        .with_context(|| {
            format!(
                "building {} failed; fix the compile errors above and save again (or run `cargo xtask build --profile local`)",
                names.join(", ")
            )
        })?;
    let bin_dir = metadata.target_directory.as_std_path().join("local");
    let mut assets = Vec::new();
    for function in selected {
        assets.push(package(function, arch, &bin_dir.join(&function.bin), out)?);
    }
    eprintln!(
        "[build] {} built and zipped in {:.1}s",
        names.join(", "),
        started.elapsed().as_secs_f64()
    );
    Ok(assets)
}

/// Each selected package with cargo-lambda for the Lambda architecture `opts.arch`.
fn build_release(
    opts: &BuildOptions,
    metadata: &cargo_metadata::Metadata,
    selected: &[FunctionCrate],
    out: &Path,
) -> Result<Vec<FunctionAsset>> {
    let target_dir: PathBuf = metadata.target_directory.clone().into();
    ensure_rust_target(opts.arch)?;
    let cargo_lambda = tools::CARGO_LAMBDA.ensure()?;
    // cargo-lambda finds zig through `python3 -m ziglang` in its own venv.
    let path = prepend_path(&tools::CARGO_LAMBDA.bin_dir())?;
    let lambda_dir = target_dir.join("lambda").join(opts.arch.as_str());

    let mut assets = Vec::new();
    for function in selected {
        eprintln!(
            "[build] {} ({}, release, {})",
            function.package,
            opts.arch,
            rust_target(opts.arch)
        );
        let started = Instant::now();
        // One package per cargo call: features unify only within a call, so `connect` is not
        // built with the SDK that `echo` turns on in `shared`.
        Cmd::new(&cargo_lambda)
            .args(["lambda", "build", "--release", "--quiet"])
            .args(["--target", rust_target(opts.arch)])
            .args(["--compiler", "cargo-zigbuild"])
            // Our [profile.release] is tuned on purpose; don't let cargo-lambda override it.
            .arg("--disable-optimizations")
            .args(["--package", &function.package, "--bin", &function.bin])
            .arg("--lambda-dir")
            .arg(&lambda_dir)
            .env("PATH", &path)
            .current_dir(&metadata.workspace_root)
            .run()
            .with_context(|| {
                format!(
                    "building function `{}` ({}) failed; fix the compile errors above and run \
                     `cargo xtask build` again",
                    function.package,
                    function.manifest_dir.display()
                )
            })?;
        let binary_path = lambda_dir.join(&function.bin).join(bundle::BOOTSTRAP);
        let asset = package(function, opts.arch, &binary_path, out)?;
        eprintln!(
            "[build] {} done in {:.1}s: {} ({} zipped, {} binary)",
            function.package,
            started.elapsed().as_secs_f64(),
            asset.zip.display(),
            human_size(asset.size),
            human_size(asset.binary_size)
        );
        assets.push(asset);
    }
    Ok(assets)
}

fn select(all: &[FunctionCrate], wanted: &[String]) -> Result<Vec<FunctionCrate>> {
    if wanted.is_empty() {
        return Ok(all.to_vec());
    }
    wanted
        .iter()
        .map(|name| {
            all.iter()
                .find(|f| &f.package == name)
                .cloned()
                .with_context(|| {
                    let known: Vec<&str> = all.iter().map(|f| f.package.as_str()).collect();
                    format!(
                        "`{name}` is not a function crate; the functions are: {}",
                        known.join(", ")
                    )
                })
        })
        .collect()
}

/// Zips one built binary and writes it as `<sha256>.zip`.
pub fn package(
    function: &FunctionCrate,
    arch: Architecture,
    binary_path: &Path,
    out: &Path,
) -> Result<FunctionAsset> {
    let binary = fs::read(binary_path).with_context(|| {
        format!(
            "the build reported success but {} is missing",
            binary_path.display()
        )
    })?;
    let zip = bundle::zip_bootstrap(&binary)?;
    let sha256 = assembly::sha256_hex(&zip);
    let file = PathBuf::from(format!("{sha256}.zip"));
    let zip_path = out.join(&file);
    // Content-addressed: an existing file with this name already has these bytes. Its time
    // is refreshed all the same: synth tells a stale zip by it.
    if zip_path.exists() {
        fs::File::options()
            .write(true)
            .open(&zip_path)
            .and_then(|file| file.set_modified(std::time::SystemTime::now()))
            .with_context(|| format!("cannot touch {}", zip_path.display()))?;
    } else {
        write_atomically(&zip_path, &zip)?;
    }
    Ok(FunctionAsset {
        package: function.package.clone(),
        architecture: arch,
        zip: file,
        sha256,
        size: zip.len() as u64,
        binary_size: binary.len() as u64,
    })
}

/// Keeps the earlier entries of functions not rebuilt this time (a `--package` build),
/// drops entries of crates that no longer exist.
fn merge(
    manifest_path: &Path,
    arch: Architecture,
    built: Vec<FunctionAsset>,
    all: &[FunctionCrate],
) -> Result<AssetManifest> {
    let mut functions = built;
    if let Ok(previous) = AssetManifest::read(manifest_path)
        && previous.architecture == arch
    {
        for old in previous.functions {
            let still_exists = all.iter().any(|f| f.package == old.package);
            let rebuilt = functions.iter().any(|f| f.package == old.package);
            if still_exists && !rebuilt && manifest_path.with_file_name(&old.zip).exists() {
                functions.push(old);
            }
        }
    }
    functions.sort_by(|a, b| a.package.cmp(&b.package));
    Ok(AssetManifest {
        version: MANIFEST_VERSION,
        architecture: arch,
        functions,
    })
}

/// Removes zips the manifest no longer names, so the folder doesn't grow with every change.
fn prune(out: &Path, manifest: &AssetManifest) -> Result<()> {
    for entry in fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))? {
        let path = entry?.path();
        let is_zip = path.extension().is_some_and(|e| e == "zip");
        let named = manifest
            .functions
            .iter()
            .any(|f| path.file_name() == Some(f.zip.as_os_str()));
        if is_zip && !named {
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The Rust target triple Lambda's `provided.al2023` runtime runs.
fn rust_target(arch: Architecture) -> &'static str {
    match arch {
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
    }
}

fn ensure_rust_target(arch: Architecture) -> Result<()> {
    let triple = rust_target(arch);
    let installed = Cmd::new("rustup")
        .args(["target", "list", "--installed"])
        .missing_hint(format!(
            "rustup is needed to add the `{triple}` target; or build for this machine with `--arch {}`",
            Architecture::host().unwrap_or(Architecture::X86_64)
        ))
        .read()?;
    if installed.lines().any(|l| l.trim() == triple) {
        return Ok(());
    }
    eprintln!("[build] adding the Rust target {triple} (first build for {arch})");
    Cmd::new("rustup")
        .args(["target", "add", triple])
        .run()
        .with_context(|| {
            format!("cannot add the Rust target {triple}: run `rustup target add {triple}`")
        })
}

fn prepend_path(dir: &Path) -> Result<std::ffi::OsString> {
    let mut paths = vec![dir.to_owned()];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).context("a tool folder's path cannot go into PATH")
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::time::SystemTime;

    use testenv::Need;

    use super::*;

    /// The build is reproducible: rebuilding unchanged code gives byte-identical zips, so the
    /// same S3 keys, so a deploy uploads nothing. Recompiles two function crates (one with
    /// the management API's client, one with DynamoDB's; every crate is built the same way,
    /// and a fat-LTO release build costs a minute each) for the test assembly's architecture
    /// and zips the result again into a folder of its own.
    #[test]
    #[ignore = "needs the functions built by `cargo xtask test` (and cargo-lambda): it provides them"]
    fn rebuilding_unchanged_code_gives_identical_zips() {
        // echo's from the test assembly, chat-connect (with the DynamoDB SDK) from the chat's.
        let assembly_of = |package: &str| match package {
            "echo" => Need::Assembly.path(),
            _ => testenv::app_assembly("chat"),
        };
        let first_of = |package: &str| {
            AssetManifest::read(&assembly_of(package).join(MANIFEST_FILE))
                .unwrap()
                .function(package)
                .unwrap_or_else(|| panic!("{package} is not in its app's assembly"))
                .clone()
        };

        // Make cargo really compile every function crate again, not reuse its last output; the
        // old times are put back afterwards so the next `synth` doesn't rebuild for nothing.
        const PACKAGES: [&str; 2] = ["echo", "chat-connect"];
        let functions = workspace::functions(&workspace::metadata().unwrap()).unwrap();
        let mut touched = Vec::new();
        for function in functions
            .iter()
            .filter(|f| PACKAGES.contains(&f.package.as_str()))
        {
            let main = function.manifest_dir.join("src").join("main.rs");
            let before = fs::metadata(&main).and_then(|m| m.modified()).unwrap();
            set_modified(&main, SystemTime::now());
            touched.push((main, before));
        }

        let out = tempfile::tempdir().unwrap();
        let second = build(&BuildOptions {
            arch: Architecture::host().expect("tests build for this machine"),
            profile: BuildProfile::Release,
            packages: PACKAGES.map(str::to_owned).to_vec(),
            out: Some(out.path().to_owned()),
        });
        for (file, before) in touched {
            set_modified(&file, before);
        }
        let second = second.unwrap();

        assert_eq!(second.manifest.functions.len(), PACKAGES.len());
        for b in &second.manifest.functions {
            let a = &first_of(&b.package);
            let assembly = assembly_of(&b.package);
            assert_eq!(
                a.sha256, b.sha256,
                "{}: a rebuild of unchanged code changed the zip",
                a.package
            );
            let first_zip = fs::read(assembly.join(&a.zip)).unwrap();
            let second_zip = fs::read(out.path().join(&b.zip)).unwrap();
            assert_eq!(first_zip, second_zip, "{}: zips differ", a.package);
            // The key is the content's address.
            assert_eq!(assembly::sha256_hex(&second_zip), b.sha256);
            assert_eq!(b.zip.to_str().unwrap(), format!("{}.zip", b.sha256));
            assert_eq!(b.size, second_zip.len() as u64);
        }
    }

    fn set_modified(file: &Path, time: SystemTime) {
        File::options()
            .write(true)
            .open(file)
            .and_then(|f| f.set_modified(time))
            .unwrap_or_else(|e| panic!("cannot set the time of {}: {e}", file.display()));
    }

    #[test]
    fn an_unknown_package_is_refused_with_the_list() {
        let out = tempfile::tempdir().unwrap().path().join("never-written");
        let err = build(&BuildOptions {
            arch: Architecture::X86_64,
            profile: BuildProfile::Release,
            packages: vec!["no-such-function".into()],
            out: Some(out.clone()),
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`no-such-function` is not a function crate"),
            "{err}"
        );
        assert!(err.contains("echo") && err.contains("connect"), "{err}");
        assert!(!out.exists());
    }

    /// The function crates are exactly the packages the apps' route tables name: a crate no
    /// route uses, or a route whose crate is missing, is caught here rather than at deploy.
    #[test]
    fn the_function_crates_are_the_packages_of_the_route_tables() {
        let functions = workspace::functions(&workspace::metadata().unwrap()).unwrap();
        let names: Vec<&str> = functions.iter().map(|f| f.package.as_str()).collect();
        let mut routed: Vec<&str> = infra::apps::ALL
            .iter()
            .flat_map(|app| app.packages())
            .collect();
        routed.sort_unstable();
        routed.dedup();
        assert_eq!(names, routed);
        for f in &functions {
            assert!(
                f.manifest_dir
                    .starts_with(workspace::root().join("functions"))
            );
            assert_eq!(f.bin, f.package);
        }
    }
}

//! `cargo xtask build`: every function crate → a build → reproducible zip named by its
//! sha256 → `assets.json`.
//!
//! Two builds: `release`, what deploys get (cargo-lambda, the stage's architecture, the
//! tuned release profile, one package per cargo call so features don't unify), and `local`,
//! what `cargo xtask dev` and the tests run (plain cargo for this machine, the `local`
//! profile: incremental, no LTO, every package in one cargo call). Each has its own assets
//! folder.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use assembly::{
    Architecture, AssetManifest, FunctionAsset, MANIFEST_FILE, MANIFEST_VERSION, human_size,
    write_atomically,
};

use crate::process::{Cmd, Stream};
use crate::progress::{self, Board, Step};
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
    // On a terminal a row per function says where it is; otherwise the plain lines.
    let board = progress::enabled().then(|| Board::new(&names));
    if board.is_none() {
        eprintln!("[build] {} ({arch}, local)", names.join(", "));
    }
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
    let cargo = cargo.current_dir(&metadata.workspace_root);
    match &board {
        None => cargo.run(),
        Some(board) => run_on_board(cargo, board, selected),
    }
    .with_context(|| {
        format!(
            "building {} failed; fix the compile errors above and save again (or run `cargo xtask build --profile local`)",
            names.join(", ")
        )
    })?;
    let bin_dir = metadata.target_directory.as_std_path().join("local");
    let mut assets = Vec::new();
    for function in selected {
        let asset = zip_on_board(board.as_ref(), function, || {
            package(function, arch, &bin_dir.join(&function.bin), out)
        })?;
        if let Some(board) = &board {
            board.set(
                &function.package,
                Step::Done(format!(
                    "{} zipped ({} binary) in {:.1}s",
                    human_size(asset.size),
                    human_size(asset.binary_size),
                    started.elapsed().as_secs_f64()
                )),
            );
        }
        assets.push(asset);
    }
    if board.is_none() {
        eprintln!(
            "[build] {} built and zipped in {:.1}s",
            names.join(", "),
            started.elapsed().as_secs_f64()
        );
    }
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

    let names: Vec<&str> = selected.iter().map(|f| f.package.as_str()).collect();
    let board = progress::enabled().then(|| Board::new(&names));
    let mut assets = Vec::new();
    for function in selected {
        if board.is_none() {
            eprintln!(
                "[build] {} ({}, release, {})",
                function.package,
                opts.arch,
                rust_target(opts.arch)
            );
        }
        let started = Instant::now();
        // One package per cargo call: features unify only within a call, so `connect` is not
        // built with the SDK that `echo` turns on in `shared`.
        let cargo = Cmd::new(&cargo_lambda)
            .args(["lambda", "build", "--release", "--quiet"])
            .args(["--target", rust_target(opts.arch)])
            .args(["--compiler", "cargo-zigbuild"])
            // Our [profile.release] is tuned on purpose; don't let cargo-lambda override it.
            .arg("--disable-optimizations")
            .args(["--package", &function.package, "--bin", &function.bin])
            .arg("--lambda-dir")
            .arg(&lambda_dir)
            .env("PATH", &path)
            .current_dir(&metadata.workspace_root);
        match &board {
            None => cargo.run(),
            Some(board) => run_on_board(cargo, board, std::slice::from_ref(function)),
        }
        .with_context(|| {
            format!(
                "building function `{}` ({}) failed; fix the compile errors above and run \
                 `cargo xtask build` again",
                function.package,
                function.manifest_dir.display()
            )
        })?;
        let binary_path = lambda_dir.join(&function.bin).join(bundle::BOOTSTRAP);
        let asset = zip_on_board(board.as_ref(), function, || {
            package(function, opts.arch, &binary_path, out)
        })?;
        let done = format!(
            "{} zipped ({} binary) in {:.1}s",
            human_size(asset.size),
            human_size(asset.binary_size),
            started.elapsed().as_secs_f64()
        );
        match &board {
            Some(board) => board.set(&function.package, Step::Done(done)),
            None => eprintln!(
                "[build] {} done in {:.1}s: {} ({} zipped, {} binary)",
                function.package,
                started.elapsed().as_secs_f64(),
                asset.zip.display(),
                human_size(asset.size),
                human_size(asset.binary_size)
            ),
        }
        assets.push(asset);
    }
    Ok(assets)
}

/// Runs a cargo build (plain cargo or cargo-lambda) for the board: its rows say how far each
/// of `functions` got, and everything cargo says is printed above them in full.
///
/// Driven by cargo's JSON messages, not its `Compiling x` lines: those are for people (cargo
/// words and colours them as it likes, and `--quiet` hides them), while the messages are a
/// documented interface that both cargo and cargo-lambda pass through, and with
/// `json-diagnostic-rendered-ansi` they carry each compiler message as rustc rendered it, in
/// colour, so nothing the compiler says is lost.
fn run_on_board(cargo: Cmd, board: &Board, functions: &[FunctionCrate]) -> Result<()> {
    let mut crates = HashSet::new();
    for function in functions {
        board.set(&function.package, Step::Compiling { crates: 0 });
    }
    let mut built = HashSet::new();
    let result = cargo
        .arg("--message-format=json-diagnostic-rendered-ansi")
        .run_streams(|stream, line| {
            let said = match stream {
                Stream::Stderr => CargoLine::Show(line.to_owned()),
                Stream::Stdout => read_cargo_line(line, functions),
            };
            match said {
                CargoLine::Artifact {
                    package_id,
                    function,
                } => {
                    crates.insert(package_id);
                    if let Some(function) = function {
                        board.set(&function, Step::Built);
                        built.insert(function);
                    }
                    for f in functions.iter().filter(|f| !built.contains(&f.package)) {
                        board.set(
                            &f.package,
                            Step::Compiling {
                                crates: crates.len(),
                            },
                        );
                    }
                }
                CargoLine::Show(text) => board.println(&text),
                CargoLine::Quiet => {}
            }
        });
    if result.is_err() {
        board.fail_unfinished();
    }
    result
}

/// Zips one function, its row saying so (and failed if the zip can't be made).
fn zip_on_board(
    board: Option<&Board>,
    function: &FunctionCrate,
    zip: impl FnOnce() -> Result<FunctionAsset>,
) -> Result<FunctionAsset> {
    if let Some(board) = board {
        board.set(&function.package, Step::Zipping);
    }
    let asset = zip();
    if let (Some(board), Err(_)) = (board, &asset) {
        board.set(&function.package, Step::Failed);
    }
    asset
}

/// What one line cargo printed on stdout under `--message-format=json-…` means for the board.
#[derive(Debug, PartialEq, Eq)]
enum CargoLine {
    /// A crate (`package_id`) has finished; `function` names the function crate whose binary
    /// this is.
    Artifact {
        package_id: String,
        function: Option<String>,
    },
    /// To print as is: a compiler message as rustc rendered it, or a line that is not one of
    /// cargo's messages.
    Show(String),
    /// Nothing for the user: a build script ran, the build ended, a message kind we don't know.
    Quiet,
}

fn read_cargo_line(line: &str, functions: &[FunctionCrate]) -> CargoLine {
    use cargo_metadata::Message;
    let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
        return CargoLine::Show(line.to_owned());
    };
    if value.get("reason").is_none() {
        return CargoLine::Show(line.to_owned());
    }
    match serde_json::from_value::<Message>(value) {
        Ok(Message::CompilerArtifact(artifact)) => {
            let function = functions.iter().find(|f| {
                artifact.target.is_bin()
                    && artifact.target.name == f.bin
                    && artifact.manifest_path.as_std_path() == f.manifest_dir.join("Cargo.toml")
            });
            CargoLine::Artifact {
                package_id: artifact.package_id.repr,
                function: function.map(|f| f.package.clone()),
            }
        }
        Ok(Message::CompilerMessage(message)) => match message.message.rendered {
            Some(rendered) => CargoLine::Show(rendered.trim_end().to_owned()),
            None => CargoLine::Show(message.message.message),
        },
        Ok(Message::TextLine(text)) => CargoLine::Show(text),
        _ => CargoLine::Quiet,
    }
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

    /// cargo's JSON messages, as `--message-format=json-diagnostic-rendered-ansi` prints them
    /// (trimmed to the fields that matter), tell the board which function's binary is ready,
    /// and every compiler message reaches the user as rustc rendered it.
    #[test]
    fn cargo_messages_say_which_function_finished_and_keep_compiler_messages() {
        let functions = [FunctionCrate {
            package: "echo".into(),
            bin: "echo".into(),
            manifest_dir: "/w/functions/echo".into(),
        }];
        let artifact = |id: &str, manifest: &str, kind: &str, name: &str| {
            serde_json::json!({
                "reason": "compiler-artifact",
                "package_id": id,
                "manifest_path": manifest,
                "target": {"kind": [kind], "crate_types": [kind], "name": name,
                           "src_path": "/src/main.rs", "edition": "2024",
                           "doc": true, "doctest": false, "test": true},
                "profile": {"opt_level": "2", "debuginfo": 0, "debug_assertions": false,
                            "overflow_checks": false, "test": false},
                "features": [], "filenames": [], "executable": null, "fresh": false
            })
            .to_string()
        };
        let read = |line: &str| read_cargo_line(line, &functions);

        let echo = "path+file:///w/functions/echo#0.1.0";
        assert_eq!(
            read(&artifact(
                echo,
                "/w/functions/echo/Cargo.toml",
                "bin",
                "echo"
            )),
            CargoLine::Artifact {
                package_id: echo.into(),
                function: Some("echo".into())
            }
        );
        // A dependency, and a library target of the function's own package, are crates done.
        let serde = "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0";
        assert_eq!(
            read(&artifact(serde, "/r/serde/Cargo.toml", "lib", "serde")),
            CargoLine::Artifact {
                package_id: serde.into(),
                function: None
            }
        );
        assert_eq!(
            read(&artifact(
                echo,
                "/w/functions/echo/Cargo.toml",
                "lib",
                "echo"
            )),
            CargoLine::Artifact {
                package_id: echo.into(),
                function: None
            }
        );

        let rendered =
            "\u{1b}[1merror[E0425]\u{1b}[0m: cannot find value `x`\n --> src/main.rs:1:1\n";
        let message = serde_json::json!({
            "reason": "compiler-message",
            "package_id": echo,
            "manifest_path": "/w/functions/echo/Cargo.toml",
            "target": {"kind": ["bin"], "crate_types": ["bin"], "name": "echo",
                       "src_path": "/src/main.rs", "edition": "2024",
                       "doc": true, "doctest": false, "test": true},
            "message": {"message": "cannot find value `x`", "code": null, "level": "error",
                        "spans": [], "children": [], "rendered": rendered}
        });
        assert_eq!(
            read(&message.to_string()),
            CargoLine::Show(rendered.trim_end().into())
        );

        assert_eq!(
            read(r#"{"reason":"build-finished","success":false}"#),
            CargoLine::Quiet
        );
        assert_eq!(
            read(r#"{"reason":"some-future-message"}"#),
            CargoLine::Quiet
        );
        // What a build script or cargo-lambda prints on stdout is shown as is.
        for line in ["Finished release", "{not json", r#"{"no":"reason"}"#] {
            assert_eq!(read(line), CargoLine::Show(line.into()));
        }
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

//! `synth`: an app, a stage file and an asset manifest in, `template.json` out, and nothing
//! else.
//!
//! The synthesis step alone, as a small release binary, so `cargo xtask bench` can time it
//! against `cdk synth` process for process (cargo and the build are not in the way):
//!
//! With `--assembly` it writes the whole assembly instead (template, manifest, zips,
//! `stack.json`): `cargo xtask dev --watch` runs it as a child process once the app's
//! infrastructure code changed, so the running gateway picks up the new model without a
//! restart (as `cdk synth` runs the app).
//!
//! ```sh
//! cargo build --release -p infra --bin synth
//! target/release/synth --app echo --stage-file infra/stages/echo/dev.yaml \
//!     --assets target/wsecho/assets/arm64/assets.json --out /tmp/out
//! ```

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use assembly::{AssetManifest, NewAssembly, TEMPLATE_FILE, write_atomically};
use infra::config::StageConfig;

const USAGE: &str =
    "usage: synth [--app NAME] --stage-file STAGE.yaml --assets assets.json --out DIR [--assembly]

Synthesizes an app's stack for a stage and writes DIR/template.json (atomically).
  --assembly          write the whole assembly into DIR instead (template.json, the manifest
                      and its zips, stack.json), replacing DIR's previous one atomically
  --app NAME          the app (infra/src/apps/), default: echo
  --stage-file PATH   the stage config, e.g. infra/stages/echo/dev.yaml
  --assets PATH       the asset manifest `cargo xtask build` wrote, e.g.
                      target/wsecho/assets/arm64/assets.json
  --out DIR           where template.json goes (created if missing)

usage: synth [--app NAME] --packages
Prints the function packages the app's routes run, one per line.";

#[derive(Debug, PartialEq, Eq)]
struct Args {
    app: String,
    stage_file: PathBuf,
    assets: PathBuf,
    out: PathBuf,
    assembly: bool,
}

/// What went wrong, said to the user; usage mistakes also get the usage text.
enum Failure {
    Usage(String),
    Run(String),
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = if argv.iter().any(|arg| arg == "--packages") {
        packages(&argv)
    } else {
        parse(argv.into_iter()).and_then(|args| run(&args))
    };
    match result {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(path)) => {
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Run(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `--app NAME --packages`: prints the function packages the app's route table names, one
/// per line, so that `cargo xtask dev --watch` builds what the edited model needs, and no more.
fn packages(argv: &[OsString]) -> Result<Option<PathBuf>, Failure> {
    let app = match argv {
        [flag] if flag == "--packages" => infra::apps::DEFAULT.name.to_owned(),
        [a, name, p] | [p, a, name] if a == "--app" && p == "--packages" => {
            name.to_string_lossy().into_owned()
        }
        _ => {
            return Err(Failure::Usage(
                "--packages takes only --app NAME".to_owned(),
            ));
        }
    };
    let app = infra::apps::find(&app).map_err(|e| Failure::Usage(e.to_string()))?;
    for package in app.packages() {
        println!("{package}");
    }
    Ok(None)
}

/// `Ok(None)` means `--help` was asked for (and printed).
fn parse(mut argv: impl Iterator<Item = OsString>) -> Result<Option<Args>, Failure> {
    let (mut app, mut stage_file, mut assets, mut out) = (None, None, None, None);
    let mut assembly = false;
    while let Some(arg) = argv.next() {
        let slot = match arg.to_str() {
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return Ok(None);
            }
            Some("--assembly") => {
                assembly = true;
                continue;
            }
            Some("--app") => &mut app,
            Some("--stage-file") => &mut stage_file,
            Some("--assets") => &mut assets,
            Some("--out") => &mut out,
            _ => {
                return Err(Failure::Usage(format!(
                    "unexpected argument `{}`",
                    arg.to_string_lossy()
                )));
            }
        };
        let flag = arg.to_string_lossy().into_owned();
        let value = argv
            .next()
            .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))?;
        if slot.replace(PathBuf::from(value)).is_some() {
            return Err(Failure::Usage(format!("{flag} is given twice")));
        }
    }
    let need = |value: Option<PathBuf>, flag: &str| {
        value.ok_or_else(|| Failure::Usage(format!("{flag} is required")))
    };
    Ok(Some(Args {
        app: app.map_or_else(
            || infra::apps::DEFAULT.name.to_owned(),
            |a| a.to_string_lossy().into_owned(),
        ),
        stage_file: need(stage_file, "--stage-file")?,
        assets: need(assets, "--assets")?,
        out: need(out, "--out")?,
        assembly,
    }))
}

fn run(args: &Option<Args>) -> Result<Option<PathBuf>, Failure> {
    let Some(args) = args else {
        return Ok(None);
    };
    let run_error = |e: &dyn std::fmt::Display| Failure::Run(e.to_string());
    let app = infra::apps::find(&args.app).map_err(|e| Failure::Usage(e.to_string()))?;
    let config = StageConfig::load(&args.stage_file).map_err(|e| run_error(&e))?;
    // The app's functions only: its assembly holds what its template runs.
    let manifest = AssetManifest::read(&args.assets)
        .map_err(|e| run_error(&e))?
        .only(&app.packages());
    let synthesized = app.synth(&config, &manifest).map_err(|e| run_error(&e))?;
    for warning in &synthesized.warnings {
        eprintln!("{warning}");
    }
    let json = synthesized.template.to_json();
    if args.assembly {
        let stage = args
            .stage_file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let assets_dir = args.assets.parent().unwrap_or(Path::new("."));
        return NewAssembly {
            template_json: &json,
            template_yaml: None,
            manifest: &manifest,
            assets_dir,
            stack: &config.stack_info(&stage),
        }
        .write(&args.out)
        .map(|()| Some(args.out.clone()))
        .map_err(|e| run_error(&e));
    }
    let written = fs::create_dir_all(&args.out)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let path = args.out.join(TEMPLATE_FILE);
            write_atomically(&path, json.as_bytes())
                .map(|()| path)
                .map_err(|e| e.to_string())
        });
    written
        .map(Some)
        .map_err(|e| Failure::Run(format!("{e}; check that --out names a writable folder")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Args>, Failure> {
        parse(list.iter().map(OsString::from))
    }

    fn usage_error(list: &[&str]) -> String {
        match args(list) {
            Err(Failure::Usage(m)) => m,
            Err(Failure::Run(m)) => panic!("not a usage error: {m}"),
            Ok(a) => panic!("accepted: {a:?}"),
        }
    }

    #[test]
    fn the_flags_parse_and_the_app_defaults_to_echo() {
        let parsed = args(&["--out", "o", "--stage-file", "s.yaml", "--assets", "a.json"]);
        assert_eq!(
            parsed.ok().flatten(),
            Some(Args {
                app: "echo".into(),
                stage_file: "s.yaml".into(),
                assets: "a.json".into(),
                out: "o".into(),
                assembly: false,
            })
        );
    }

    #[test]
    fn packages_takes_only_the_app() {
        let list = |args: &[&str]| {
            let argv: Vec<OsString> = args.iter().map(OsString::from).collect();
            packages(&argv)
        };
        assert!(matches!(list(&["--app", "chat", "--packages"]), Ok(None)));
        assert!(matches!(list(&["--packages", "--app", "echo"]), Ok(None)));
        assert!(matches!(
            list(&["--packages", "--out", "o"]),
            Err(Failure::Usage(m)) if m.contains("only --app")
        ));
        assert!(matches!(
            list(&["--app", "nope", "--packages"]),
            Err(Failure::Usage(_))
        ));
    }

    #[test]
    fn usage_mistakes_name_the_flag() {
        assert_eq!(
            usage_error(&["--stage-file", "s", "--assets", "a"]),
            "--out is required"
        );
        assert_eq!(usage_error(&["--stage-file"]), "--stage-file needs a value");
        assert_eq!(
            usage_error(&["--out", "a", "--out", "b"]),
            "--out is given twice"
        );
        assert_eq!(
            usage_error(&["--verbose"]),
            "unexpected argument `--verbose`"
        );
    }

    #[test]
    fn an_unknown_app_is_a_usage_error_listing_the_apps() {
        let parsed = args(&[
            "--app",
            "nope",
            "--stage-file",
            "s",
            "--assets",
            "a",
            "--out",
            "o",
        ])
        .ok()
        .flatten();
        match run(&parsed) {
            Err(Failure::Usage(m)) => assert!(m.contains("`nope`") && m.contains("echo"), "{m}"),
            _ => panic!("an unknown app must be refused"),
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wsecho-synth-bin-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// An asset manifest for the echo app's packages in `dir`, with a small file as each zip.
    fn echo_assets(dir: &Path) -> PathBuf {
        let app = infra::apps::find("echo").unwrap();
        let manifest = infra::snapshot::stand_in_assets(&app.packages());
        for function in &manifest.functions {
            fs::write(dir.join(&function.zip), &function.package).unwrap();
        }
        let path = dir.join("assets.json");
        fs::write(&path, manifest.to_json()).unwrap();
        path
    }

    #[test]
    fn synthesizes_the_dev_stage_into_template_json_and_nothing_else() {
        let dir = scratch("ok");
        let assets = echo_assets(&dir);
        let manifest = AssetManifest::read(&assets).unwrap();
        let out = dir.join("out");
        let written = run(&Some(Args {
            app: "echo".into(),
            stage_file: infra::config::stage_file("echo", "dev"),
            assets: dir.join("assets.json"),
            out: out.clone(),
            assembly: false,
        }))
        .unwrap_or_else(|_| panic!("the dev stage synthesizes"));
        assert_eq!(written, Some(out.join("template.json")));
        let text = fs::read_to_string(out.join("template.json")).unwrap();
        let template: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            template.pointer("/Resources/EchoFunction/Properties/Code/S3Key"),
            Some(&serde_json::json!(
                manifest
                    .functions
                    .iter()
                    .find(|f| f.package == "echo")
                    .unwrap()
                    .s3_key()
            ))
        );
        // The temporary file was renamed into place, not left beside it.
        let names: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["template.json"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn with_assembly_it_writes_an_assembly_dev_and_deploy_can_read() {
        let dir = scratch("assembly");
        let assets = echo_assets(&dir);
        let out = dir.join("assembly");
        let written = run(&Some(Args {
            app: "echo".into(),
            stage_file: infra::config::stage_file("echo", "dev"),
            assets,
            out: out.clone(),
            assembly: true,
        }))
        .unwrap_or_else(|_| panic!("the dev stage synthesizes"));
        assert_eq!(written, Some(out.clone()));
        let read = assembly::Assembly::read(&out).expect("a readable assembly");
        assert_eq!(read.stack.stage, "dev");
        assert_eq!(read.stack.stack_name, "wsecho-dev");
        assert_eq!(read.manifest.functions.len(), 4);
        for function in &read.manifest.functions {
            assert!(
                out.join(&function.zip).is_file(),
                "{}",
                function.zip.display()
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_stage_file_is_a_clear_error() {
        // Its own existing folder: the failed run must leave no template in it.
        let dir =
            std::env::temp_dir().join(format!("wsecho-synth-bin-missing-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let parsed = Some(Args {
            app: "echo".into(),
            stage_file: dir.join("nope.yaml"),
            assets: dir.join("assets.json"),
            out: dir.clone(),
            assembly: false,
        });
        match run(&parsed) {
            Err(Failure::Run(m)) => assert!(m.contains("nope.yaml"), "{m}"),
            _ => panic!("a missing stage file must fail"),
        }
        assert!(!dir.join("template.json").exists());
        let _ = fs::remove_dir_all(&dir);
    }
}

//! The build is reproducible: rebuilding unchanged code gives byte-identical zips, so the
//! same S3 keys, so a deploy uploads nothing.
//!
//! Needs the first build of `cargo xtask test` (env `WSECHO_ASSETS`); this test recompiles
//! every function crate and zips the result again into a folder of its own.

use std::fs::{self, File};
use std::path::PathBuf;
use std::time::SystemTime;

use assembly::AssetManifest;
use xtask::build::{self, BuildOptions};
use xtask::workspace;

fn first_build() -> (PathBuf, AssetManifest) {
    let path = PathBuf::from(std::env::var_os("WSECHO_ASSETS").expect(
        "WSECHO_ASSETS is not set: run the tests with `cargo xtask test`, which builds the functions first",
    ));
    let manifest = AssetManifest::read(&path).unwrap();
    (path, manifest)
}

#[test]
fn rebuilding_unchanged_code_gives_identical_zips() {
    let (first_path, first) = first_build();
    assert!(!first.functions.is_empty());

    // Make cargo really compile every function crate again, not reuse its last output; the
    // old times are put back afterwards so the next `synth` doesn't rebuild for nothing.
    let functions = workspace::functions(&workspace::metadata().unwrap()).unwrap();
    let mut touched = Vec::new();
    for function in &functions {
        let main = function.manifest_dir.join("src").join("main.rs");
        let before = fs::metadata(&main).and_then(|m| m.modified()).unwrap();
        set_modified(&main, SystemTime::now());
        touched.push((main, before));
    }

    let out = std::env::temp_dir().join(format!("wsecho-rebuild-{}", std::process::id()));
    let second = build::build(&BuildOptions {
        arch: first.architecture,
        packages: Vec::new(),
        out: Some(out.clone()),
    })
    .unwrap();

    assert_eq!(second.manifest.functions.len(), first.functions.len());
    for (a, b) in first.functions.iter().zip(&second.manifest.functions) {
        assert_eq!(a.package, b.package);
        assert_eq!(
            a.sha256, b.sha256,
            "{}: a rebuild of unchanged code changed the zip",
            a.package
        );
        let first_zip = fs::read(first_path.with_file_name(&a.zip)).unwrap();
        let second_zip = fs::read(out.join(&b.zip)).unwrap();
        assert_eq!(first_zip, second_zip, "{}: zips differ", a.package);
        // The key is the content's address.
        assert_eq!(assembly::sha256_hex(&second_zip), b.sha256);
        assert_eq!(b.zip.to_str().unwrap(), format!("{}.zip", b.sha256));
        assert_eq!(b.size, second_zip.len() as u64);
    }
    fs::remove_dir_all(&out).unwrap();
    for (file, before) in touched {
        set_modified(&file, before);
    }
}

fn set_modified(file: &std::path::Path, time: SystemTime) {
    File::options()
        .write(true)
        .open(file)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("cannot set the time of {}: {e}", file.display()));
}

#[test]
fn an_unknown_package_is_refused_with_the_list() {
    let err = build::build(&BuildOptions {
        arch: assembly::Architecture::X86_64,
        packages: vec!["no-such-function".into()],
        out: Some(std::env::temp_dir().join("wsecho-never-written")),
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`no-such-function` is not a function crate"),
        "{err}"
    );
    assert!(err.contains("echo") && err.contains("connect"), "{err}");
    assert!(!std::env::temp_dir().join("wsecho-never-written").exists());
}

#[test]
fn every_bin_crate_under_functions_is_a_function_and_libraries_are_not() {
    let functions = workspace::functions(&workspace::metadata().unwrap()).unwrap();
    let names: Vec<&str> = functions.iter().map(|f| f.package.as_str()).collect();
    assert_eq!(names, ["connect", "default", "disconnect", "echo"]);
    for f in &functions {
        assert!(
            f.manifest_dir
                .starts_with(workspace::root().join("functions"))
        );
        assert_eq!(f.bin, f.package);
    }
}

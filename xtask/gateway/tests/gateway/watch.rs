//! `Gateway::reload` (what `cargo xtask dev --watch` calls after a rebuild): changed functions
//! get new processes, routes are swapped, and open connections notice nothing but the new
//! behaviour. A broken or unsupported assembly is refused with the old version serving.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

/// The environment testfn sees, through a two-way route.
async fn env_of(client: &mut Client, action: &str) -> Value {
    send(client, json!({"action": action, "do": "env"}).to_string()).await;
    next_json(client).await
}

/// The pid of the process that answered.
async fn pid_of(client: &mut Client, action: &str) -> u32 {
    send(client, json!({"action": action, "do": "pid"}).to_string()).await;
    next_text(client)
        .await
        .parse()
        .expect("testfn replies its pid")
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

fn rewrite_template(asm: &Assembly, template: &Value) {
    write_json(&asm.dir.join("template.json"), template);
}

/// Whether a process runs (a reaped process has no /proc entry, a zombie has state Z).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

async fn stops(pid: u32) {
    tokio::time::timeout(WAIT, async {
        while running(pid) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("process {pid} still runs {WAIT:?} after it was replaced"));
}

/// testfn zipped with one more file: other bytes, another sha256, the same behaviour.
fn other_zip(dir: &Path, marker: &str) -> (String, u64) {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_testfn")).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).unwrap();
    zip.write_all(&binary).unwrap();
    zip.start_file("VERSION", options).unwrap();
    zip.write_all(marker.as_bytes()).unwrap();
    zip.finish().unwrap();
    let bytes = out.into_inner();
    let sha256 = assembly::sha256_hex(&bytes);
    std::fs::write(dir.join(format!("{sha256}.zip")), &bytes).unwrap();
    (sha256, bytes.len() as u64)
}

#[tokio::test]
async fn a_changed_function_serves_the_same_open_connection_and_in_flight_work_finishes() {
    bounded(async {
        // 10 s Timeout: the in-flight invocation sleeps 3 s.
        let mut asm = Assembly::new("reload-env")
            .function("Main", 10)
            .route("$connect", "Main", false)
            .route("$disconnect", "Main", false)
            .route("$default", "Main", true)
            .route("echo", "Main", true)
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        assert_eq!(env_of(&mut client, "echo").await["FROM_TEMPLATE"], "Main");
        let old_pid = pid_of(&mut client, "echo").await;

        // In flight on the old process across the reload.
        send(
            &mut client,
            json!({"action": "echo", "do": "pid", "ms": 3000}).to_string(),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1000)).await;

        asm.functions[0].env["FROM_TEMPLATE"] = json!("Reloaded");
        rewrite_template(&asm, &asm.template());
        let report = gw.reload().expect("the reload succeeds");
        assert_eq!(report.restarted.len(), 1, "{report:?}");
        assert_eq!(report.restarted[0].logical_id, "Main");
        assert_eq!(report.restarted[0].why, vec!["environment"]);
        assert!(
            report.routes.is_empty() && report.removed.is_empty(),
            "{report:?}"
        );
        assert_eq!(
            report.to_string(),
            "restarted testfn (environment)",
            "the line dev --watch prints"
        );

        // The in-flight invocation answers from the old process, which then stops.
        let answered: u32 = next_text(&mut client).await.parse().unwrap();
        assert_eq!(answered, old_pid, "the in-flight invocation moved");
        stops(old_pid).await;

        // Same connection, new behaviour, new process.
        assert_eq!(
            env_of(&mut client, "echo").await["FROM_TEMPLATE"],
            "Reloaded"
        );
        assert_ne!(pid_of(&mut client, "echo").await, old_pid);
        assert_eq!(connection_id(&mut client).await, id);
        assert_eq!(gw.connection_count(), 1);
        assert!(
            !asm.recorded_ids("disconnect").contains(&id),
            "the reload ran $disconnect"
        );

        // Its $disconnect runs on the new function.
        client.close(None).await.unwrap();
        let event = asm.recorded(&id, "disconnect").await;
        assert_eq!(event["requestContext"]["connectionId"], json!(id));
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn new_code_restarts_only_its_function_and_new_routes_apply_at_once() {
    bounded(async {
        let asm = Assembly::new("reload-code")
            .function("Main", 3)
            .function("Other", 3)
            .route("$connect", "Main", false)
            .route("$default", "Main", true)
            .route("echo", "Other", true)
            .write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        let main_pid = pid_of(&mut client, "unrouted").await;
        let other_pid = pid_of(&mut client, "echo").await;
        // No route `added` yet: `$default` (Main) answers.
        assert_eq!(env_of(&mut client, "added").await["FROM_TEMPLATE"], "Main");

        // An unchanged assembly changes nothing: the same warm processes answer.
        let report = gw.reload().unwrap();
        assert!(report.is_empty(), "{report:?}");
        assert_eq!(report.to_string(), "no function or route changed");

        // Other gets a new zip, and a new route `added` invokes it.
        let (sha256, size) = other_zip(&asm.dir, "reload-code");
        let asm = asm.route("added", "Other", true);
        let mut template = asm.template();
        template["Resources"]["Other"]["Properties"]["Code"]["S3Key"] =
            json!(format!("{sha256}.zip"));
        let mut manifest = asm.manifest();
        let mut entry = manifest["functions"][0].clone();
        entry["package"] = json!("testfn-other");
        entry["zip"] = json!(format!("{sha256}.zip"));
        entry["sha256"] = json!(sha256);
        entry["size"] = json!(size);
        manifest["functions"].as_array_mut().unwrap().push(entry);
        write_json(&asm.dir.join("assets.json"), &manifest);
        rewrite_template(&asm, &template);

        let report = gw.reload().expect("the reload succeeds");
        let restarted: Vec<(&str, Vec<&str>)> = report
            .restarted
            .iter()
            .map(|r| (r.logical_id.as_str(), r.why.clone()))
            .collect();
        assert_eq!(restarted, vec![("Other", vec!["code"])]);
        assert_eq!(report.routes, vec!["added".to_owned()]);
        assert!(!report.selection_changed);
        assert!(
            asm.dir
                .join(".dev")
                .join(&sha256)
                .join("bootstrap")
                .is_file(),
            "the new zip was not unpacked"
        );

        assert_eq!(
            pid_of(&mut client, "unrouted").await,
            main_pid,
            "Main was restarted"
        );
        assert_ne!(
            pid_of(&mut client, "echo").await,
            other_pid,
            "Other was not restarted"
        );
        stops(other_pid).await;
        assert_eq!(env_of(&mut client, "added").await["FROM_TEMPLATE"], "Other");
        assert_eq!(connection_id(&mut client).await, id);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_broken_assembly_is_refused_and_the_old_function_keeps_serving_until_a_fix() {
    bounded(async {
        let mut asm = Assembly::standard("reload-broken").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;
        let pid = pid_of(&mut client, "echo").await;

        // A new environment, and code whose zip is missing (a build that did not finish).
        asm.functions[0].env["FROM_TEMPLATE"] = json!("Broken");
        let missing = "0".repeat(64);
        let mut template = asm.template();
        template["Resources"]["Main"]["Properties"]["Code"]["S3Key"] =
            json!(format!("{missing}.zip"));
        let mut manifest = asm.manifest();
        manifest["functions"][0]["zip"] = json!(format!("{missing}.zip"));
        manifest["functions"][0]["sha256"] = json!(missing);
        write_json(&asm.dir.join("assets.json"), &manifest);
        rewrite_template(&asm, &template);

        let error = error_chain(&gw.reload().expect_err("a missing zip is refused"));
        assert!(error.contains("Main"), "{error}");
        assert!(error.contains(&format!("{missing}.zip")), "{error}");
        assert!(error.contains("previous version keeps serving"), "{error}");
        assert_eq!(env_of(&mut client, "echo").await["FROM_TEMPLATE"], "Main");
        assert_eq!(
            pid_of(&mut client, "echo").await,
            pid,
            "the old process was stopped"
        );

        // Unreadable JSON is refused too.
        std::fs::write(asm.dir.join("template.json"), "{ not json").unwrap();
        let error = error_chain(&gw.reload().expect_err("bad JSON is refused"));
        assert!(error.contains("template.json is not valid JSON"), "{error}");
        assert_eq!(env_of(&mut client, "echo").await["FROM_TEMPLATE"], "Main");

        // The next good assembly applies.
        write_json(&asm.dir.join("assets.json"), &asm.manifest());
        asm.functions[0].env["FROM_TEMPLATE"] = json!("Fixed");
        rewrite_template(&asm, &asm.template());
        let report = gw.reload().expect("the fixed assembly reloads");
        assert_eq!(report.restarted.len(), 1, "{report:?}");
        assert_eq!(env_of(&mut client, "echo").await["FROM_TEMPLATE"], "Fixed");
        assert_eq!(connection_id(&mut client).await, id);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_renamed_stage_is_refused_with_a_restart_hint() {
    bounded(async {
        let mut asm = Assembly::standard("reload-stage").write();
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let id = connection_id(&mut client).await;

        asm.functions[0].env["FROM_TEMPLATE"] = json!("Renamed");
        let mut template = asm.template();
        template["Resources"]["Stage"]["Properties"]["StageName"] = json!("prod");
        rewrite_template(&asm, &template);
        let error = error_chain(&gw.reload().expect_err("a new stage is refused"));
        assert!(error.contains("`prod`"), "{error}");
        assert!(error.contains("restart `cargo xtask dev`"), "{error}");

        // Nothing of that assembly applied: not even the function change.
        assert_eq!(env_of(&mut client, "echo").await["FROM_TEMPLATE"], "Main");
        assert_eq!(connection_id(&mut client).await, id);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn after_a_synth_removed_the_unpacked_binaries_a_reload_restores_them() {
    bounded(async {
        // Unpacked into the assembly's own `.dev`, as without `DevOptions::unpacked`.
        let asm = Assembly::standard("reload-unpacked").write_with(true);
        let gw = asm.start().await;
        let mut client = connect(&gw.url()).await;
        let first = pid_of(&mut client, "echo").await;

        // What a synth does to the folder: the unpacked binaries are gone.
        std::fs::remove_dir_all(asm.dir.join(".dev")).unwrap();
        let report = gw.reload().expect("the reload succeeds");
        assert!(report.is_empty(), "{report:?}");
        assert_eq!(
            pid_of(&mut client, "echo").await,
            first,
            "the pool was replaced"
        );

        // A second process starts while the first is busy.
        send(
            &mut client,
            json!({"action": "echo", "do": "pid", "ms": 500}).to_string(),
        )
        .await;
        let second = pid_of(&mut client, "echo").await;
        let busy: u32 = next_text(&mut client).await.parse().unwrap();
        assert_eq!(busy, first);
        assert_ne!(second, first);
        gw.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn an_unpack_folder_of_its_own_is_used_and_pruned_at_start() {
    bounded(async {
        let asm = Assembly::standard("own-unpacked").write_with(true);
        let unpacked = asm.dir.with_extension("unpacked");
        let _ = std::fs::remove_dir_all(&unpacked);
        let stale = unpacked.join("f".repeat(64));
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::write(stale.join("bootstrap"), "an earlier build").unwrap();

        let gw = gateway::start(gateway::DevOptions {
            unpacked: Some(unpacked.clone()),
            ..asm.options()
        })
        .await
        .expect("the gateway starts");
        assert!(!stale.exists(), "the stale binary was kept");
        assert!(!asm.dir.join(".dev").exists(), "unpacked into the assembly");
        let sha256 = asm.manifest()["functions"][0]["sha256"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(unpacked.join(&sha256).join("bootstrap").is_file());

        let mut client = connect(&gw.url()).await;
        assert_eq!(env_of(&mut client, "echo").await["FROM_TEMPLATE"], "Main");
        gw.shutdown().await;
        std::fs::remove_dir_all(&unpacked).unwrap();
    })
    .await;
}

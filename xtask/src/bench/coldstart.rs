//! Cold start: each function binary from spawn to its first Runtime API request
//! (`GET /2018-06-01/runtime/invocation/next`: init done, ready for an event), and its peak
//! memory (VmHWM) at that moment.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use assembly::template::{self, FUNCTION_TYPE, resources_of_type};
use serde_json::Value;

use super::Ctx;
use super::children::{proc_status_bytes, tail};
use super::figures::Unit;
use super::report::{Section, Table, ms_cells};
use super::stats::Samples;
use assembly::Assembly;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
/// The low end of published Node.js cold starts on Lambda (100–200 ms): cited, not measured.
const PUBLISHED_NODE_MS: f64 = 100.0;

/// A function ready to start: its unpacked binary and the environment Lambda would give it.
pub struct Function {
    pub package: String,
    pub binary: PathBuf,
    pub binary_bytes: u64,
    pub environment: BTreeMap<String, String>,
}

/// Unpacks every function's `bootstrap` from the assembly's zips into `dir/<package>/`.
pub fn unpack(assembly_dir: &Path, dir: &Path) -> Result<Vec<Function>> {
    let assembly = Assembly::read(assembly_dir)?;
    let mut functions = Vec::new();
    for asset in &assembly.manifest.functions {
        let zip_path = assembly.zip_path(asset);
        let file = fs::File::open(&zip_path)
            .with_context(|| format!("cannot open {}", zip_path.display()))?;
        let bytes = assembly::bundle::read_bootstrap(file)
            .with_context(|| format!("cannot unpack {}", zip_path.display()))?;
        let out = dir.join(&asset.package);
        fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
        let binary = out.join(assembly::bundle::BOOTSTRAP);
        assembly::write_atomically(&binary, &bytes)?;
        fs::set_permissions(&binary, fs::Permissions::from_mode(0o755))?;
        functions.push(Function {
            package: asset.package.clone(),
            binary,
            binary_bytes: bytes.len() as u64,
            environment: template_environment(&assembly.template, &asset.package),
        });
    }
    Ok(functions)
}

/// The literal `Environment.Variables` the template gives the function of `package`.
fn template_environment(template: &Value, package: &str) -> BTreeMap<String, String> {
    let function = resources_of_type(template, FUNCTION_TYPE)
        .find(|(_, r)| template::package(r) == Some(package));
    let variables = function
        .and_then(|(_, r)| r.pointer("/Properties/Environment/Variables"))
        .and_then(Value::as_object);
    variables
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
        .collect()
}

pub fn run(ctx: &mut Ctx) -> Result<Section> {
    let assembly = ctx.host_assembly()?;
    let dir = ctx.work.join("coldstart");
    let functions = unpack(&assembly, &dir)?;
    let runs = ctx.reps(50, 15);

    let listener = TcpListener::bind("127.0.0.1:0").context("cannot listen on 127.0.0.1")?;
    let api = listener.local_addr()?.to_string();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || serve_runtime_api(listener, tx));

    let mut section = Section::new(
        "Cold start",
        &format!(
            "Each function's release binary for this machine ({}), unpacked from its zip and \
             started as Lambda starts it: the template's environment plus Lambda's \
             (`AWS_LAMBDA_RUNTIME_API` pointing at a listener on 127.0.0.1, function name, \
             memory size, version, log group and stream, region, dummy credentials). Init is \
             the time from spawning the process to its first Runtime API request \
             (`GET {NEXT}`); peak memory is its `VmHWM` from /proc at that moment. {runs} \
             starts per function after 2 unmeasured ones (the binary in the page cache, as on \
             a warm Lambda host). The anchor is published, not measured here: Node.js cold \
             starts on Lambda are reported at 100–200 ms (init duration in AWS's and \
             benchmark write-ups); Lambda's own sandbox setup comes on top of either.",
            ctx.host
        ),
    );
    let mut table = Table::new(&[
        "function",
        "binary",
        "init min",
        "init median",
        "init max",
        "peak memory (median)",
        "peak memory (max)",
        "published Node.js low end / ours",
    ]);
    for function in &functions {
        let log = dir.join(format!("{}.log", function.package));
        for _ in 0..2 {
            start_once(function, &api, &rx, &log)?;
        }
        let mut inits = Vec::new();
        let mut peaks = Vec::new();
        for _ in 0..runs {
            let (init, peak) = start_once(function, &api, &rx, &log)?;
            inits.push(init);
            peaks.push(peak as f64);
        }
        let inits = Samples::from_durations(&inits).context("no samples")?;
        let peaks = Samples::new(peaks).context("no samples")?;
        let id = format!("coldstart.{}", function.package);
        section.summary(&format!("{id}.init"), &inits, Unit::Ms, true);
        section.summary(&format!("{id}.peak_rss"), &peaks, Unit::Bytes, false);
        let ratio = PUBLISHED_NODE_MS / inits.median();
        section.figure(format!("{id}.published_node_ratio"), ratio, Unit::Times);
        let mut row = vec![
            function.package.clone(),
            Unit::Bytes.show(function.binary_bytes as f64),
        ];
        row.extend(ms_cells(&inits));
        row.push(Unit::Bytes.show(peaks.median()));
        row.push(Unit::Bytes.show(peaks.max()));
        row.push(Unit::Times.show(ratio));
        table.row(row);
    }
    section.tables.push(table);
    Ok(section)
}

/// What the listener saw: when a request arrived, its path, and the open connection (kept
/// until the process is stopped so it never sees a closed Runtime API).
struct Arrival {
    at: Instant,
    path: String,
    _stream: TcpStream,
}

fn serve_runtime_api(listener: TcpListener, tx: mpsc::Sender<Arrival>) {
    for stream in listener.incoming().flatten() {
        let tx = tx.clone();
        thread::spawn(move || {
            let _ = read_requests(stream, &tx);
        });
    }
}

/// Reports the request line of each request on the connection (the body, if any, is skipped:
/// only `next` and the error paths matter here).
fn read_requests(mut stream: TcpStream, tx: &mpsc::Sender<Arrival>) -> Result<()> {
    let _ = stream.set_nodelay(true);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        let at = Instant::now();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let path = head
                .lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("")
                .to_owned();
            if !path.ends_with("/invocation/next") {
                // An error report: answer it so the process can go on to exit.
                let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
            }
            let _ = tx.send(Arrival {
                at,
                path,
                _stream: stream.try_clone()?,
            });
            buf.clear();
        }
    }
}

/// One start: (init time, VmHWM in bytes at the first `next`).
fn start_once(
    function: &Function,
    api: &str,
    rx: &mpsc::Receiver<Arrival>,
    log: &Path,
) -> Result<(Duration, u64)> {
    // Anything left over from the previous process is stale.
    while rx.try_recv().is_ok() {}
    let name = format!("wsecho-bench-{}", function.package);
    let mut command = Command::new(&function.binary);
    command
        .env_clear()
        .envs(&function.environment)
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api),
            ("AWS_LAMBDA_FUNCTION_NAME", name.as_str()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]bench"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAWSECHOBENCH00000"),
            ("AWS_SECRET_ACCESS_KEY", "wsecho-bench-not-a-secret"),
            ("AWS_SESSION_TOKEN", "wsecho-bench"),
            ("_HANDLER", "bootstrap"),
            ("TZ", ":UTC"),
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(log)?);
    let spawned = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start {}", function.binary.display()))?;
    let pid = child.id();
    let deadline = spawned + Duration::from_secs(10);
    let outcome = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(arrival) if arrival.path.ends_with("/invocation/next") => {
                let peak = proc_status_bytes(pid, "VmHWM");
                break peak.map(|peak| (arrival.at - spawned, peak));
            }
            Ok(arrival) => {
                break Err(anyhow::anyhow!(
                    "{} reported {} instead of asking for an event",
                    function.package,
                    arrival.path
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err(anyhow::anyhow!("the Runtime API listener stopped"));
            }
        }
        if let Some(status) = child.try_wait()? {
            break Err(anyhow::anyhow!(
                "{} exited ({status}) before asking for an event",
                function.package
            ));
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!(
                "{} did not ask for an event within 10 s",
                function.package
            ));
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    match outcome {
        Ok(measured) => Ok(measured),
        Err(err) => bail!("{err}; its output ({}):\n{}", log.display(), tail(log)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_comes_from_the_template_literals_only() {
        let template = serde_json::json!({"Resources": {
            "EchoFunction": {"Type": FUNCTION_TYPE, "Metadata": {"wsecho:package": "echo"}, "Properties": {
                "Environment": {"Variables": {"RUST_LOG": "info", "API": {"Ref": "Api"}}}}},
            "Other": {"Type": FUNCTION_TYPE, "Metadata": {"wsecho:package": "connect"}, "Properties": {}}
        }});
        let env = template_environment(&template, "echo");
        assert_eq!(env.len(), 1);
        assert_eq!(env["RUST_LOG"], "info");
        assert!(template_environment(&template, "connect").is_empty());
    }
}

//! What the gateway tests share: assemblies written around the `testfn` fixture function, a
//! WebSocket client, a raw HTTP client for the management API, bounded waits.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gateway::{DevOptions, Gateway};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Every test runs under this bound.
pub const TEST_LIMIT: Duration = Duration::from_secs(60);
/// One expected event (a reply, a recorded file) must come within this.
pub const WAIT: Duration = Duration::from_secs(15);

/// An error and its causes, each after a colon: what `cargo xtask` prints, on one line.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}

pub async fn bounded<T>(test: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("the test took longer than its 60 s bound")
}

/// The testfn binary zipped once per test run, with its bootstrap pre-unpacked; test
/// assemblies link to it so each test doesn't copy 10 MB twice.
struct SharedAsset {
    dir: PathBuf,
    sha256: String,
    size: u64,
    binary_size: u64,
}

fn shared_asset() -> &'static SharedAsset {
    static ASSET: OnceLock<SharedAsset> = OnceLock::new();
    ASSET.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("gateway-testfn-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let binary = std::fs::read(env!("CARGO_BIN_EXE_testfn")).unwrap();
        let zip = zip_bootstrap(&binary);
        let sha256 = assembly::sha256_hex(&zip);
        std::fs::write(dir.join(format!("{sha256}.zip")), &zip).unwrap();
        // Unpacked here, once, before any test starts a process: writing an executable while
        // another thread forks can make its exec fail with ETXTBSY.
        let dev = dir.join(".dev").join(&sha256);
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::write(dev.join("bootstrap"), &binary).unwrap();
        std::fs::set_permissions(
            dev.join("bootstrap"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        SharedAsset {
            dir,
            sha256,
            size: zip.len() as u64,
            binary_size: binary.len() as u64,
        }
    })
}

/// A zip holding one `bootstrap` (mode 0755), stored uncompressed to keep tests quick.
pub fn zip_bootstrap(binary: &[u8]) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).unwrap();
    zip.write_all(binary).unwrap();
    zip.finish().unwrap();
    out.into_inner()
}

pub struct Function {
    pub logical_id: String,
    pub timeout_s: u64,
    pub env: Value,
}

pub struct Route {
    pub key: String,
    pub function: String,
    pub two_way: bool,
    /// The integration's `TimeoutInMillis`, when set.
    pub timeout_ms: Option<u64>,
}

/// A template + assets.json written around testfn.
pub struct Assembly {
    pub dir: PathBuf,
    pub selection: String,
    pub functions: Vec<Function>,
    pub routes: Vec<Route>,
    /// More resources, by logical ID (tables, secrets...).
    pub resources: serde_json::Map<String, Value>,
}

impl Assembly {
    pub fn new(name: &str) -> Assembly {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("gateway-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("records")).unwrap();
        Assembly {
            dir,
            selection: "$request.body.action".into(),
            functions: Vec::new(),
            routes: Vec::new(),
            resources: serde_json::Map::new(),
        }
    }

    /// Adds a resource to the template as it is.
    pub fn resource(mut self, logical_id: &str, resource: Value) -> Assembly {
        self.resources.insert(logical_id.into(), resource);
        self
    }

    /// Sets an environment variable of a function (an expression, like `{"Ref": "Table"}`).
    pub fn env(mut self, function: &str, name: &str, value: Value) -> Assembly {
        let f = self
            .functions
            .iter_mut()
            .find(|f| f.logical_id == function)
            .expect("a function of this assembly");
        f.env[name] = value;
        self
    }

    /// `$connect`, `$disconnect`, `$default` and `echo` (two-way), `oneway` (not two-way), all
    /// on one testfn with a 3 s timeout.
    pub fn standard(name: &str) -> Assembly {
        Assembly::new(name)
            .function("Main", 3)
            .route("$connect", "Main", false)
            .route("$disconnect", "Main", false)
            .route("$default", "Main", true)
            .route("echo", "Main", true)
            .route("oneway", "Main", false)
    }

    pub fn selection(mut self, expression: &str) -> Assembly {
        self.selection = expression.into();
        self
    }

    pub fn function(mut self, logical_id: &str, timeout_s: u64) -> Assembly {
        let records = self.records();
        self.functions.push(Function {
            logical_id: logical_id.into(),
            timeout_s,
            env: json!({"TESTFN_RECORD_DIR": records.to_str().unwrap(), "FROM_TEMPLATE": logical_id}),
        });
        self
    }

    pub fn route(mut self, key: &str, function: &str, two_way: bool) -> Assembly {
        self.routes.push(Route {
            key: key.into(),
            function: function.into(),
            two_way,
            timeout_ms: None,
        });
        self
    }

    /// Sets `TimeoutInMillis` on the last route's integration.
    pub fn integration_timeout_ms(mut self, ms: u64) -> Assembly {
        self.routes.last_mut().expect("a route").timeout_ms = Some(ms);
        self
    }

    pub fn records(&self) -> PathBuf {
        self.dir.join("records")
    }

    pub fn template(&self) -> Value {
        let asset = shared_asset();
        let arch = std::env::consts::ARCH.replace("aarch64", "arm64");
        let mut resources = serde_json::Map::new();
        resources.insert("Api".into(), json!({"Type": "AWS::ApiGatewayV2::Api", "Properties": {
            "Name": "gateway-test", "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": self.selection}}));
        resources.insert(
            "Stage".into(),
            json!({"Type": "AWS::ApiGatewayV2::Stage", "Properties": {
            "ApiId": {"Ref": "Api"}, "StageName": "test", "AutoDeploy": true}}),
        );
        for f in &self.functions {
            resources.insert(f.logical_id.clone(), json!({"Type": "AWS::Lambda::Function",
                "Metadata": {"wsecho:package": "testfn"},
                "Properties": {
                    "Code": {"S3Bucket": {"Ref": "AssetsBucket"}, "S3Key": format!("{}.zip", asset.sha256)},
                    "Handler": "bootstrap", "Runtime": "provided.al2023", "Architectures": [arch],
                    "MemorySize": 128, "Timeout": f.timeout_s,
                    "Environment": {"Variables": f.env}}}));
        }
        for (i, r) in self.routes.iter().enumerate() {
            let name: String = r.key.chars().filter(char::is_ascii_alphanumeric).collect();
            let route_id = format!("R{i}{name}Route");
            let integration_id = format!("R{i}{name}Integration");
            // Both forms CDK and hand-written templates use, alternately.
            let (uri, target) = if i % 2 == 0 {
                (
                    json!({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":apigateway:", {"Ref": "AWS::Region"},
                        ":lambda:path/2015-03-31/functions/", {"Fn::GetAtt": [r.function, "Arn"]}, "/invocations"]]}),
                    json!({"Fn::Join": ["", ["integrations/", {"Ref": integration_id}]]}),
                )
            } else {
                (
                    json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{}.Arn}}/invocations", r.function)}),
                    json!({"Fn::Sub": format!("integrations/${{{integration_id}}}")}),
                )
            };
            let mut integration = json!({"Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                "ApiId": {"Ref": "Api"}, "IntegrationType": "AWS_PROXY", "IntegrationUri": uri}});
            if let Some(ms) = r.timeout_ms {
                integration["Properties"]["TimeoutInMillis"] = json!(ms);
            }
            resources.insert(integration_id.clone(), integration);
            let mut route = json!({"Type": "AWS::ApiGatewayV2::Route", "Properties": {
                "ApiId": {"Ref": "Api"}, "RouteKey": r.key, "AuthorizationType": "NONE", "Target": target}});
            if r.two_way {
                route["Properties"]["RouteResponseSelectionExpression"] = json!("$default");
                resources.insert(format!("R{i}{name}RouteResponse"), json!({"Type": "AWS::ApiGatewayV2::RouteResponse",
                    "Properties": {"ApiId": {"Ref": "Api"}, "RouteId": {"Ref": route_id}, "RouteResponseKey": "$default"}}));
            }
            resources.insert(route_id, route);
        }
        resources.extend(self.resources.clone());
        json!({"AWSTemplateFormatVersion": "2010-09-09",
               "Parameters": {"AssetsBucket": {"Type": "String"}},
               "Resources": resources})
    }

    pub fn manifest(&self) -> Value {
        let asset = shared_asset();
        let arch = std::env::consts::ARCH.replace("aarch64", "arm64");
        json!({"version": 1, "architecture": arch, "functions": [{
            "package": "testfn", "architecture": arch, "zip": format!("{}.zip", asset.sha256),
            "sha256": asset.sha256, "size": asset.size, "binary_size": asset.binary_size}]})
    }

    /// Writes template.json and assets.json; links the shared zip (and, unless `fresh`, its
    /// unpacked bootstrap) into the folder.
    pub fn write_with(self, fresh: bool) -> Assembly {
        let asset = shared_asset();
        let zip = format!("{}.zip", asset.sha256);
        std::os::unix::fs::symlink(asset.dir.join(&zip), self.dir.join(&zip)).unwrap();
        if !fresh {
            std::os::unix::fs::symlink(asset.dir.join(".dev"), self.dir.join(".dev")).unwrap();
        }
        write_json(&self.dir.join("template.json"), &self.template());
        write_json(&self.dir.join("assets.json"), &self.manifest());
        self
    }

    pub fn write(self) -> Assembly {
        self.write_with(false)
    }

    pub fn options(&self) -> DevOptions {
        DevOptions::new(&self.dir)
    }

    pub async fn start(&self) -> Gateway {
        gateway::start(self.options())
            .await
            .expect("the gateway starts")
    }

    /// Waits for testfn's record of a `$connect`/`$disconnect` event of this connection.
    pub async fn recorded(&self, connection_id: &str, kind: &str) -> Value {
        let path = self.records().join(format!("{connection_id}.{kind}.json"));
        let found = tokio::time::timeout(WAIT, async {
            loop {
                if let Ok(text) = std::fs::read_to_string(&path)
                    && let Ok(value) = serde_json::from_str::<Value>(&text)
                {
                    return value;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        found.unwrap_or_else(|_| {
            panic!("no {kind} event recorded for {connection_id} within {WAIT:?}")
        })
    }

    /// Connection ids that have a record of this kind.
    pub fn recorded_ids(&self, kind: &str) -> Vec<String> {
        let suffix = format!(".{kind}.json");
        let mut ids: Vec<String> = std::fs::read_dir(self.records())
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(&suffix)
                    .map(str::to_owned)
            })
            .collect();
        ids.sort();
        ids
    }
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap()).unwrap();
}

pub async fn connect(url: &str) -> Client {
    let (client, response) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("the handshake finishes in time")
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    assert_eq!(response.status(), 101);
    client
}

/// The HTTP status a refused handshake got.
pub async fn refused_status(url: &str) -> u16 {
    let result = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("the handshake finishes in time");
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected the handshake to be refused, it was accepted"),
    }
}

pub async fn send(client: &mut Client, text: impl Into<String>) {
    client.send(Message::text(text.into())).await.expect("send");
}

/// The next frame from the gateway (text or close), skipping pings.
pub async fn next(client: &mut Client) -> Message {
    loop {
        let message = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a frame arrives in time")
            .expect("the connection is still open")
            .expect("a valid frame");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

pub async fn next_text(client: &mut Client) -> String {
    match next(client).await {
        Message::Text(text) => text.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

pub async fn next_json(client: &mut Client) -> Value {
    let text = next_text(client).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Sends `{"action": ...}` and returns the event testfn echoes back.
pub async fn echo(client: &mut Client, message: Value) -> Value {
    send(client, message.to_string()).await;
    next_json(client).await
}

/// The connection id, from an echoed event.
pub async fn connection_id(client: &mut Client) -> String {
    let event = echo(client, json!({"action": "echo"})).await;
    event["requestContext"]["connectionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The close frame's code and reason, once the gateway closes.
pub async fn close_frame(client: &mut Client) -> (u16, String) {
    match next(client).await {
        Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

/// A plain HTTP/1.1 request; returns status, lower-cased headers and body.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // What the AWS SDK sends; the gateway must accept it without checking it.
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000\r\nX-Amz-Date: 20261124T000000Z\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // A refusal (413) may come before the whole body is written.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .expect("the response comes in time")
        .unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

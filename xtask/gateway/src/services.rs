//! The AWS services the template's functions use, provided locally: the template's DynamoDB
//! tables and Secrets Manager secrets are created, from their properties, in a moto server the
//! gateway starts on 127.0.0.1 (a free port) and kills when it stops. The functions reach it
//! through the SDK's `AWS_ENDPOINT_URL_<SERVICE>` variables, signing with the run's credentials.
//!
//! - Any other resource type is refused (naming it and its logical ID) unless it needs nothing
//!   at run time locally ([`NOT_NEEDED`]): a function must never run against a resource that
//!   silently does not exist.
//! - A reload reuses the running server and creates only the resources it has not created yet,
//!   so table contents survive `--watch`; a resource removed from the template stays.
//! - Requests are blocking HTTP/1.1 on loopback: they are few (one per resource, at start and
//!   on reloads that add resources) and need no client library.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use assembly::template::{FUNCTION_TYPE, properties, resource_type};
use serde_json::{Map, Value, json};

use crate::error::{Error, Unsupported};
use crate::iam::{self, Credentials};
use crate::intrinsics;
use crate::log::log;
use crate::template::ACCOUNT;
use crate::watchdog::{self, Watched};

pub(crate) const TABLE_TYPE: &str = "AWS::DynamoDB::Table";
pub(crate) const SECRET_TYPE: &str = "AWS::SecretsManager::Secret";

/// Resource types that need nothing at run time locally: the API (the gateway itself), the
/// functions (its process pools), and what only matters in AWS (roles, permissions, logs).
const NOT_NEEDED: &[&str] = &[
    "AWS::ApiGatewayV2::",
    "AWS::ApiGateway::ApiKey",
    "AWS::ApiGateway::UsagePlan",
    "AWS::ApiGateway::UsagePlanKey",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Logs::LogGroup",
];

/// Resource types whose `Ref` a function's environment may use locally.
const REFERABLE: &[&str] = &[
    FUNCTION_TYPE,
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    TABLE_TYPE,
    SECRET_TYPE,
];

/// The properties a table is created with locally; the others (encryption, point-in-time
/// recovery, tags, deletion protection...) change nothing in a local run and are left out.
const TABLE_PROPERTIES: &[&str] = &[
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "TimeToLiveSpecification",
];
/// The properties a secret is created with locally (a `Description` is kept when literal).
const SECRET_PROPERTIES: &[&str] = &["Name", "SecretString", "GenerateSecretString"];

/// How long moto may take to listen (it imports its Python modules first).
const MOTO_START: Duration = Duration::from_secs(30);
/// One request's bound: moto loads a service's backend on its first request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Table,
    Secret,
}

impl Kind {
    fn resource_type(self) -> &'static str {
        match self {
            Kind::Table => TABLE_TYPE,
            Kind::Secret => SECRET_TYPE,
        }
    }

    /// What the banner calls it.
    fn describe(self) -> &'static str {
        match self {
            Kind::Table => "DynamoDB table",
            Kind::Secret => "Secrets Manager secret",
        }
    }

    /// The SDK's `AWS_ENDPOINT_URL_<SERVICE>` variable for its service.
    pub(crate) fn endpoint_variable(self) -> &'static str {
        match self {
            Kind::Table => "AWS_ENDPOINT_URL_DYNAMODB",
            Kind::Secret => "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        }
    }
}

/// A table or secret of the template, with its properties.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Declared {
    pub(crate) logical_id: String,
    pub(crate) kind: Kind,
    properties: Map<String, Value>,
}

/// A created resource: what `Ref` and `Fn::GetAtt` of it give locally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Provided {
    pub(crate) kind: Kind,
    /// `Ref`: the table's name, the secret's ARN.
    pub(crate) physical_id: String,
    /// `Fn::GetAtt` attributes (`Arn`, `StreamArn`, `Id`).
    pub(crate) attributes: BTreeMap<String, String>,
}

/// Whether the template has resources the gateway provides with moto (tables, secrets), so
/// that a caller provisions moto only when it is needed.
pub fn needed(template: &Value) -> bool {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|resources| resources.values())
        .filter_map(|resource| resource.get("Type").and_then(Value::as_str))
        .any(|ty| ty == TABLE_TYPE || ty == SECRET_TYPE)
}

/// The template's tables and secrets; refuses a resource type the gateway cannot provide, and
/// a function environment that refers to a resource without a local value.
pub(crate) fn declared(template: &Value) -> Result<Vec<Declared>, Unsupported> {
    let Some(resources) = template.get("Resources").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for (id, resource) in resources {
        let ty = resource_type(resource).unwrap_or("(no Type)");
        let kind = match ty {
            TABLE_TYPE => Kind::Table,
            SECRET_TYPE => Kind::Secret,
            _ if NOT_NEEDED.iter().any(|t| ty.starts_with(t)) => continue,
            _ => {
                return Err(Unsupported(format!(
                    "{id}: the local gateway cannot provide a {ty} (it provides {TABLE_TYPE} and {SECRET_TYPE} through moto, and runs the API and its functions)"
                )));
            }
        };
        let props = properties(resource).clone();
        let used = match kind {
            Kind::Table => TABLE_PROPERTIES,
            Kind::Secret => SECRET_PROPERTIES,
        };
        for name in used {
            if let Some(path) = props.get(*name).and_then(|v| intrinsic_in(v, name)) {
                return Err(Unsupported(format!(
                    "{id} ({ty}): {path} must be a literal locally (the gateway creates it from its properties)"
                )));
            }
        }
        found.push(Declared {
            logical_id: id.clone(),
            kind,
            properties: props,
        });
    }
    for (id, resource) in resources {
        if resource_type(resource) != Some(FUNCTION_TYPE) {
            continue;
        }
        let Some(vars) = properties(resource)
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        for (name, value) in vars {
            for target in intrinsics::resource_ids(value) {
                let Some(ty) = resources.get(&target).and_then(resource_type) else {
                    continue;
                };
                if !REFERABLE.contains(&ty) {
                    return Err(Unsupported(format!(
                        "{target} ({ty}): {id}'s Environment.Variables.{name} refers to it, and the local gateway cannot provide it (it provides {TABLE_TYPE} and {SECRET_TYPE})"
                    )));
                }
            }
        }
    }
    Ok(found)
}

/// Where a properties value uses an intrinsic function (`Ref`, `Fn::…`), as a property path.
fn intrinsic_in(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && map
                    .keys()
                    .next()
                    .is_some_and(|k| k == "Ref" || k.starts_with("Fn::"))
            {
                return Some(path.to_owned());
            }
            map.iter().find_map(|(k, v)| {
                let path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                intrinsic_in(v, &path)
            })
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| intrinsic_in(v, &format!("{path}[{i}]"))),
        _ => None,
    }
}

/// The local services of one gateway run: the moto server once a template needs it, and what
/// it has created.
pub(crate) struct Services {
    /// The moto_server to run; `None`: a template with tables or secrets is refused.
    moto_server: Option<PathBuf>,
    /// Where moto's output goes.
    log: PathBuf,
    credentials: Credentials,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    moto: Option<Moto>,
    provided: BTreeMap<String, Provided>,
}

/// What [`Services::provide`] made available for one version of the template.
#[derive(Debug, Clone, Default)]
pub(crate) struct Available {
    /// By logical ID, the template's tables and secrets.
    pub(crate) resources: BTreeMap<String, Provided>,
    /// `http://127.0.0.1:PORT`, when the template has any.
    pub(crate) endpoint: Option<String>,
}

/// A snapshot of the running services, for `Gateway::local_services` and the banner.
pub(crate) struct Running {
    pub(crate) endpoint: String,
    pub(crate) pid: u32,
    pub(crate) resources: BTreeMap<String, Provided>,
}

impl Services {
    pub(crate) fn new(
        moto_server: Option<PathBuf>,
        log: PathBuf,
        credentials: Credentials,
    ) -> Self {
        Services {
            moto_server,
            log,
            credentials,
            state: Mutex::new(State::default()),
        }
    }

    /// Creates what `declared` names and was not created yet (starting moto the first time
    /// it is needed); returns every declared resource's local values.
    pub(crate) fn provide(&self, declared: &[Declared]) -> Result<Available, Error> {
        if declared.is_empty() {
            return Ok(Available::default());
        }
        let mut state = self.state.lock().expect("not poisoned");
        if state.moto.is_none() {
            let Some(path) = &self.moto_server else {
                let first = &declared[0];
                return Err(Error::NoLocalServices {
                    logical_id: first.logical_id.clone(),
                    resource_type: first.kind.resource_type(),
                });
            };
            state.moto = Some(Moto::start(path, &self.log)?);
        }
        let State { moto, provided } = &mut *state;
        let moto = moto.as_ref().expect("started above");
        let mut resources = BTreeMap::new();
        for resource in declared {
            let done = provided
                .get(&resource.logical_id)
                .filter(|p| p.kind == resource.kind)
                .cloned();
            let done = match done {
                Some(done) => done,
                None => {
                    let created = moto
                        .create(resource, &self.credentials)
                        .map_err(|problem| Error::LocalService {
                            logical_id: resource.logical_id.clone(),
                            resource_type: resource.kind.resource_type(),
                            endpoint: moto.endpoint.clone(),
                            log: self.log.clone(),
                            problem,
                        })?;
                    log!(
                        "services",
                        "created {} {} ({})",
                        resource.kind.describe(),
                        resource.logical_id,
                        created.physical_id
                    );
                    provided.insert(resource.logical_id.clone(), created.clone());
                    created
                }
            };
            resources.insert(resource.logical_id.clone(), done);
        }
        Ok(Available {
            resources,
            endpoint: Some(moto.endpoint.clone()),
        })
    }

    pub(crate) fn running(&self) -> Option<Running> {
        let state = self.state.lock().expect("not poisoned");
        let moto = state.moto.as_ref()?;
        Some(Running {
            endpoint: moto.endpoint.clone(),
            pid: moto.child.id(),
            resources: state.provided.clone(),
        })
    }

    /// Kills moto now (the gateway stops).
    pub(crate) fn stop(&self) {
        self.state.lock().expect("not poisoned").moto = None;
    }
}

impl Running {
    /// One line: `moto_server at http://…: DynamoDB table ConnectionsTable, …`.
    pub(crate) fn describe(&self) -> String {
        let names: Vec<String> = self
            .resources
            .iter()
            .map(|(id, p)| format!("{} {id}", p.kind.describe()))
            .collect();
        format!(
            "moto_server at {} (pid {}): {}",
            self.endpoint,
            self.pid,
            names.join(", ")
        )
    }
}

/// A moto server on 127.0.0.1, killed when dropped, and by the watchdog if the gateway's
/// process ends first.
struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    endpoint: String,
    addr: SocketAddr,
    /// Listed until moto is killed and reaped (dropped after `child`).
    _watched: Option<Watched>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `path` on a free port and waits (bounded) until it answers.
    fn start(path: &Path, log: &Path) -> Result<Moto, Error> {
        let start_error = |error| Error::StartLocalServices {
            path: path.to_owned(),
            log: log.to_owned(),
            error,
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(start_error)?
            .port();
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(start_error)?;
        }
        let log_file = std::fs::File::create(log).map_err(start_error)?;
        let mut cmd = Command::new(path);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Its own group, which the watchdog kills if the gateway dies first; and out of
            // the terminal's, so Ctrl-C reaches the gateway only, which stops moto after the
            // connections' `$disconnect` (which may still use it).
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(start_error)?)
            .stderr(log_file);
        // moto is a boto program too: none of the developer's AWS settings reach it.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(key);
            }
        }
        // The account the gateway's ARNs name, so moto's ARNs agree with them.
        cmd.env("MOTO_ACCOUNT_ID", ACCOUNT);
        let child = cmd.spawn().map_err(start_error)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut moto = Moto {
            _watched: Some(watchdog::watch(child.id())),
            child,
            endpoint: format!("http://{addr}"),
            addr,
        };
        let deadline = Instant::now() + MOTO_START;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            let exited = moto.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                return Err(Error::LocalServicesSilent {
                    path: path.to_owned(),
                    endpoint: moto.endpoint.clone(),
                    log: log.to_owned(),
                    why: match exited {
                        Some(status) => format!("it exited ({status})"),
                        None => format!("it did not listen within {} s", MOTO_START.as_secs()),
                    },
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        log!(
            "services",
            "moto_server (pid {}) listens on {}",
            moto.child.id(),
            moto.endpoint
        );
        Ok(moto)
    }

    fn create(&self, resource: &Declared, credentials: &Credentials) -> Result<Provided, String> {
        match resource.kind {
            Kind::Table => self.create_table(resource, credentials),
            Kind::Secret => self.create_secret(resource, credentials),
        }
    }

    /// CreateTable with the properties the API shares with CloudFormation, then the TTL.
    /// Point-in-time recovery, encryption, tags and deletion protection change nothing locally.
    fn create_table(
        &self,
        resource: &Declared,
        credentials: &Credentials,
    ) -> Result<Provided, String> {
        let p = &resource.properties;
        let name = p
            .get("TableName")
            .and_then(Value::as_str)
            .unwrap_or(&resource.logical_id)
            .to_owned();
        let mut request = Map::new();
        request.insert("TableName".into(), name.clone().into());
        let passed = TABLE_PROPERTIES.iter().filter(|k| {
            ![
                "TableName",
                "StreamSpecification",
                "TimeToLiveSpecification",
            ]
            .contains(k)
        });
        for key in passed {
            if let Some(value) = p.get(*key) {
                request.insert((*key).into(), value.clone());
            }
        }
        // CloudFormation's StreamSpecification has only the view type; the API also wants
        // streams enabled.
        if let Some(view) = p
            .get("StreamSpecification")
            .and_then(|s| s.get("StreamViewType"))
        {
            request.insert(
                "StreamSpecification".into(),
                json!({"StreamEnabled": true, "StreamViewType": view}),
            );
        }
        let created = self.call(
            credentials,
            Service::DynamoDb,
            "CreateTable",
            &Value::Object(request),
        )?;
        let description = &created["TableDescription"];
        let mut attributes = BTreeMap::new();
        for (attribute, field) in [("Arn", "TableArn"), ("StreamArn", "LatestStreamArn")] {
            if let Some(value) = description.get(field).and_then(Value::as_str) {
                attributes.insert(attribute.to_owned(), value.to_owned());
            }
        }
        if let Some(ttl) = p.get("TimeToLiveSpecification")
            && ttl.get("Enabled").and_then(Value::as_bool) == Some(true)
        {
            self.call(
                credentials,
                Service::DynamoDb,
                "UpdateTimeToLive",
                &json!({"TableName": name, "TimeToLiveSpecification": ttl}),
            )?;
        }
        Ok(Provided {
            kind: Kind::Table,
            physical_id: name,
            attributes,
        })
    }

    /// CreateSecret with `SecretString`, or with a value generated as CloudFormation does
    /// (`GetRandomPassword` with `GenerateSecretString`'s settings, put under
    /// `GenerateStringKey` of `SecretStringTemplate` when it has one).
    fn create_secret(
        &self,
        resource: &Declared,
        credentials: &Credentials,
    ) -> Result<Provided, String> {
        let p = &resource.properties;
        let name = p
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or(&resource.logical_id)
            .to_owned();
        let value = match (p.get("SecretString"), p.get("GenerateSecretString")) {
            (Some(_), Some(_)) => {
                return Err("SecretString and GenerateSecretString exclude each other".into());
            }
            (Some(Value::String(value)), None) => value.clone(),
            (Some(other), None) => {
                return Err(format!("SecretString must be a string, found {other}"));
            }
            (None, generate) => {
                let settings = generate
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                self.generate(&settings, credentials)?
            }
        };
        let mut request = json!({"Name": name, "SecretString": value});
        if let Some(description) = p.get("Description").filter(|d| d.is_string()) {
            request["Description"] = description.clone();
        }
        let created = self.call(
            credentials,
            Service::SecretsManager,
            "CreateSecret",
            &request,
        )?;
        let arn = created["ARN"]
            .as_str()
            .ok_or_else(|| format!("CreateSecret answered without an ARN: {created}"))?
            .to_owned();
        Ok(Provided {
            kind: Kind::Secret,
            physical_id: arn.clone(),
            attributes: BTreeMap::from([("Id".to_owned(), arn)]),
        })
    }

    fn generate(
        &self,
        settings: &Map<String, Value>,
        credentials: &Credentials,
    ) -> Result<String, String> {
        let mut request = settings.clone();
        let template = request.remove("SecretStringTemplate");
        let key = request.remove("GenerateStringKey");
        let answer = self.call(
            credentials,
            Service::SecretsManager,
            "GetRandomPassword",
            &Value::Object(request),
        )?;
        let password = answer["RandomPassword"]
            .as_str()
            .ok_or_else(|| format!("GetRandomPassword answered without a password: {answer}"))?
            .to_owned();
        match (template, key) {
            (None, None) => Ok(password),
            (Some(Value::String(template)), Some(Value::String(key))) => {
                let mut object: Map<String, Value> = serde_json::from_str(&template)
                    .map_err(|e| format!("SecretStringTemplate is not a JSON object: {e}"))?;
                object.insert(key, password.into());
                Ok(Value::Object(object).to_string())
            }
            _ => Err(
                "GenerateSecretString: SecretStringTemplate and GenerateStringKey go together, as strings"
                    .into(),
            ),
        }
    }

    /// One AWS JSON-protocol call, signed with the run's credentials; the answer's JSON, or
    /// the service's error.
    fn call(
        &self,
        credentials: &Credentials,
        service: Service,
        action: &str,
        body: &Value,
    ) -> Result<Value, String> {
        let (signing_name, target, content_type) = match service {
            Service::DynamoDb => (
                "dynamodb",
                format!("DynamoDB_20120810.{action}"),
                "application/x-amz-json-1.0",
            ),
            Service::SecretsManager => (
                "secretsmanager",
                format!("secretsmanager.{action}"),
                "application/x-amz-json-1.1",
            ),
        };
        let body = body.to_string();
        let host = self.addr.to_string();
        let headers = [
            ("Content-Type", content_type),
            ("X-Amz-Target", target.as_str()),
        ];
        let signed = iam::sign_post(
            credentials,
            signing_name,
            &host,
            &headers,
            body.as_bytes(),
            SystemTime::now(),
        );
        let mut request = format!("POST / HTTP/1.1\r\nHost: {host}\r\n");
        for (name, value) in headers
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned()))
            .chain(signed)
        {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        let (status, text) = exchange(&self.addr, request.as_bytes())
            .map_err(|e| format!("{action}: no answer from {}: {e}", self.endpoint))?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            return Err(format!("{action} answered {status}: {answer}"));
        }
        Ok(answer)
    }
}

#[derive(Clone, Copy)]
enum Service {
    DynamoDb,
    SecretsManager,
}

/// Sends a request on a new connection and reads the answer to its end: the status and the
/// body (chunked or not).
fn exchange(addr: &SocketAddr, request: &[u8]) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    stream.write_all(request)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let body = &response[split + 4..];
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let chunked = head.lines().any(|line| {
        line.to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("transfer-encoding:chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or_else(|| bad("bad chunks"))?
    } else {
        body.to_vec()
    };
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(resources: Value) -> Value {
        json!({ "Resources": resources })
    }

    #[test]
    fn tables_and_secrets_are_declared_and_aws_only_types_ignored() {
        let t = template(json!({
            "Table": {"Type": TABLE_TYPE, "Properties": {"KeySchema": []}},
            "Key": {"Type": SECRET_TYPE, "Properties": {}},
            "Role": {"Type": "AWS::IAM::Role"},
            "Logs": {"Type": "AWS::Logs::LogGroup"},
            "Route": {"Type": "AWS::ApiGatewayV2::Route"},
        }));
        let found = declared(&t).unwrap();
        let ids: Vec<(&str, Kind)> = found
            .iter()
            .map(|d| (d.logical_id.as_str(), d.kind))
            .collect();
        assert_eq!(ids, [("Key", Kind::Secret), ("Table", Kind::Table)]);
    }

    #[test]
    fn a_type_it_cannot_provide_is_refused_by_name() {
        let t = template(json!({"Queue": {"Type": "AWS::SQS::Queue"}}));
        let err = declared(&t).unwrap_err().to_string();
        assert!(
            err.contains("Queue") && err.contains("AWS::SQS::Queue"),
            "{err}"
        );
    }

    #[test]
    fn a_function_referring_to_a_resource_without_local_value_is_refused() {
        let t = template(json!({
            "Logs": {"Type": "AWS::Logs::LogGroup"},
            "Fn": {"Type": FUNCTION_TYPE, "Properties": {"Environment": {"Variables": {
                "LOGS": {"Ref": "Logs"}
            }}}},
        }));
        let err = declared(&t).unwrap_err().to_string();
        assert!(
            err.contains("Logs (AWS::Logs::LogGroup)")
                && err.contains("Fn's Environment.Variables.LOGS"),
            "{err}"
        );
    }

    #[test]
    fn intrinsic_properties_are_refused_with_their_path() {
        let t = template(json!({"Table": {"Type": TABLE_TYPE, "Properties": {
            "TableName": {"Fn::Sub": "${AWS::StackName}-t"}
        }}}));
        let err = declared(&t).unwrap_err().to_string();
        assert!(err.contains("Table") && err.contains("TableName"), "{err}");
        // One it does not use locally may be anything.
        let t = template(json!({"Table": {"Type": TABLE_TYPE, "Properties": {
            "SSESpecification": {"KMSMasterKeyId": {"Ref": "Key"}, "SSEEnabled": true},
            "KeySchema": [{"AttributeName": {"Ref": "Name"}, "KeyType": "HASH"}]
        }}}));
        let err = declared(&t).unwrap_err().to_string();
        assert!(err.contains("KeySchema[0].AttributeName"), "{err}");
    }

    #[test]
    fn without_moto_a_table_is_refused_naming_what_provides_it() {
        let t = template(json!({"Table": {"Type": TABLE_TYPE, "Properties": {}}}));
        let services = Services::new(None, PathBuf::from("/nonexistent"), Credentials::generate());
        let err = services
            .provide(&declared(&t).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("Table") && err.contains("moto"), "{err}");
        assert!(services.running().is_none());
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
    }
}

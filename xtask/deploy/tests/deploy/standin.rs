//! A stand-in on 127.0.0.1 for the few AWS calls moto lacks (`lambda get-account-settings`)
//! or answers unlike AWS (`cloudformation get-template` of a stack that never ran, or of a
//! change set): a request a rule matches gets the rule's answer, and every other request goes
//! to moto unchanged. The code under test reaches it as the AWS CLI reaches any endpoint, through
//! `AWS_ENDPOINT_URL_<SERVICE>`, so it runs the real CLI, which parses the stand-in's answers as
//! it would AWS's. It lives as long as the test (a thread, stopped on drop).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use deploy::AwsOptions;
use testenv::Need;
use testenv::moto::{Moto, REGION, aws_env};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as text (query-protocol forms, JSON).
    pub body: String,
}

impl Request {
    /// A header's value (`name` in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query-protocol form field (`Action`, `StackName`...), URL-decoded.
    pub fn form(&self, name: &str) -> Option<String> {
        self.body.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| decode(v))
        })
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An answer: status, content type, body.
pub struct Answer {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

type Rule = Box<dyn Fn(&Request) -> Option<Answer> + Send + Sync>;

pub struct StandIn {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The requests the rules answered.
    pub answered: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Starts one in front of `moto`, answering with the first rule that gives an answer.
    pub fn start(moto: &Moto, rules: Vec<Rule>) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let port = listener.local_addr().unwrap().port();
        let upstream = moto
            .endpoint
            .strip_prefix("http://")
            .expect("moto is plain http")
            .to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new(rules);
        let thread = {
            let (stop, answered) = (stop.clone(), answered.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (rules, answered, upstream) =
                        (rules.clone(), answered.clone(), upstream.clone());
                    thread::spawn(move || {
                        let _ = serve(stream, &rules, &answered, &upstream);
                    });
                }
            })
        };
        StandIn {
            endpoint: format!("http://127.0.0.1:{port}"),
            answered,
            stop,
            port,
            thread: Some(thread),
        }
    }

    /// Options for the code under test: moto for every service but `services` (the
    /// `AWS_ENDPOINT_URL_<SERVICE>` suffixes, e.g. `CLOUDFORMATION`), which go here.
    pub fn options(&self, moto: &Moto, services: &[&str]) -> AwsOptions {
        let mut env = aws_env();
        env.push(("AWS_ENDPOINT_URL".into(), moto.endpoint.clone().into()));
        for service in services {
            env.push((
                format!("AWS_ENDPOINT_URL_{service}").into(),
                self.endpoint.clone().into(),
            ));
        }
        AwsOptions {
            region: Some(REGION.into()),
            profile: None,
            endpoint_url: None,
            cli: Some(Need::AwsCli.path()),
            env,
        }
    }

    /// How many requests a rule answered.
    pub fn answered_count(&self) -> usize {
        self.answered.lock().unwrap().len()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request: its head (up to the blank line) and its body (by Content-Length).
fn read_request(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Request)> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    let request = Request {
        method: first.next().unwrap_or("").to_owned(),
        path: first.next().unwrap_or("").to_owned(),
        headers,
        body: String::from_utf8_lossy(&raw[head_end..]).into_owned(),
    };
    Ok((raw, request))
}

fn serve(
    mut client: TcpStream,
    rules: &[Rule],
    answered: &Mutex<Vec<Request>>,
    upstream: &str,
) -> std::io::Result<()> {
    let (raw, request) = read_request(&mut client)?;
    if let Some(answer) = rules.iter().find_map(|rule| rule(&request)) {
        answered.lock().unwrap().push(request);
        let reason = if answer.status < 400 { "OK" } else { "Error" };
        let response = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             x-amzn-RequestId: standin\r\nConnection: close\r\n\r\n{}",
            answer.status,
            answer.content_type,
            answer.body.len(),
            answer.body
        );
        client.write_all(response.as_bytes())?;
        return client.shutdown(Shutdown::Both);
    }
    // Everything else to moto, asking it to close after answering so the whole answer is
    // what it sends before EOF.
    let text = String::from_utf8_lossy(&raw);
    let head_end = text.find("\r\n\r\n").map_or(raw.len(), |i| i + 4);
    let mut head: Vec<&str> = text[..head_end]
        .trim_end()
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    head.push("Connection: close");
    let mut forwarded = head.join("\r\n").into_bytes();
    forwarded.extend_from_slice(b"\r\n\r\n");
    forwarded.extend_from_slice(&raw[head_end..]);
    let mut moto = TcpStream::connect(upstream)?;
    moto.set_read_timeout(Some(Duration::from_secs(60)))?;
    moto.write_all(&forwarded)?;
    let mut response = Vec::new();
    moto.read_to_end(&mut response)?;
    client.write_all(&response)?;
    client.shutdown(Shutdown::Both)
}

/// A CloudFormation (query protocol) error, as AWS sends one.
pub fn cloudformation_error(code: &str, message: &str) -> Answer {
    Answer {
        status: 400,
        content_type: "text/xml",
        body: format!(
            "<ErrorResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
             <Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
             <RequestId>standin</RequestId></ErrorResponse>"
        ),
    }
}

/// A CloudFormation `GetTemplate` answer with this template.
pub fn template_answer(template: &str) -> Answer {
    let escaped = template
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    Answer {
        status: 200,
        content_type: "text/xml",
        body: format!(
            "<GetTemplateResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
             <GetTemplateResult><TemplateBody>{escaped}</TemplateBody>\
             <StagesAvailable><member>Original</member><member>Processed</member></StagesAvailable>\
             </GetTemplateResult><ResponseMetadata><RequestId>standin</RequestId>\
             </ResponseMetadata></GetTemplateResponse>"
        ),
    }
}

/// A rule: `answer` for the query-protocol action `action` when `also` holds.
pub fn on_action(
    action: &'static str,
    also: impl Fn(&Request) -> bool + Send + Sync + 'static,
    answer: impl Fn(&Request) -> Answer + Send + Sync + 'static,
) -> Rule {
    Box::new(move |r: &Request| {
        (r.form("Action").as_deref() == Some(action) && also(r)).then(|| answer(r))
    })
}

/// A rule: `answer` for `method` on a path starting with `path` (REST protocols).
pub fn on_path(
    method: &'static str,
    path: &'static str,
    answer: impl Fn(&Request) -> Answer + Send + Sync + 'static,
) -> Rule {
    Box::new(move |r: &Request| (r.method == method && r.path.starts_with(path)).then(|| answer(r)))
}

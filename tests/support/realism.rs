//! AWS as it behaves, in front of a [`Moto`]: a small HTTP/1.1 proxy on 127.0.0.1 that
//! mtls is pointed at (`AWS_ENDPOINT_URL`), forwarding each request to moto and applying
//! the documented behaviours moto does not have, one small [`Rule`] each, with delays of
//! seconds instead of minutes:
//!
//! | rule                          | AWS behaviour                                            |
//! |-------------------------------|----------------------------------------------------------|
//! | [`CertificateInUse`]          | ACM DeleteCertificate: ResourceInUseException for a while after the domain that used it is deleted |
//! | [`NewCertificateLag`]         | ACM DescribeCertificate: ResourceNotFoundException right after RequestCertificate, then no validation record for a while |
//! | [`DomainRateLimit`]           | API Gateway: one Create/Update/DeleteDomainName and one DeleteRestApi per 30 s per account (each its own window), HTTP 429 with Retry-After |
//! | [`DomainUpdating`]            | API Gateway: a domain is UPDATING after a create or update, and changes to it are refused (409) until AVAILABLE |
//! | [`VersioningLag`]             | S3: right after versioning is enabled, writes may get no version id |
//! | [`DeletedCertificatesListed`] | ACM: a deleted certificate is still listed for a while; its tags are then "not found" |
//! | [`EndpointNeedsDeployment`]   | API Gateway: disabling the default endpoint takes effect only with a deployment |
//! | [`PublicDns`]                 | ACM validates through public DNS: only a record the registrar's delegation leads to counts |
//! | [`Latency`]                   | every answer takes a while                               |
//! | [`Fault`], [`Hold`]           | the network: a reset, HTTP 500 (once, always), a stall; a request held while the test kills mtls |
//!
//! More rules (per-operation quotas, 404s while versioning propagates) are in
//! [`super::realism_quota`]; tests/README.md maps every AWS operation mtls calls to the
//! rules that model it.
//!
//! Errors are shaped as AWS sends them: JSON `{"__type", "message"}` with
//! `x-amzn-ErrorType` for ACM and API Gateway, XML for S3 and Route 53. Operations are told
//! apart by method and path (S3, API Gateway, Route 53) or `X-Amz-Target` (ACM).
//!
//! Each connection carries one request (`Connection: close` both ways), so the proxy never
//! has to frame a keep-alive stream. Requests are handled one at a time (rules see a
//! consistent world); a stalled answer leaves the queue. What each rule did is in
//! [`Realism::events`], every call and its answer in [`Realism::calls`].
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::moto::Moto;
use super::realism_quota::Quota;

/// Seconds, for rule parameters: stretched by `MTLS_TEST_SLOWDOWN` (one function for every
/// window and timeout of the tests, see [`super::timing`]).
pub use super::timing::secs;

// ------------------------------------------------------------------------------------------
// The proxy
// ------------------------------------------------------------------------------------------

/// The proxy in front of one [`Moto`]; stops on drop (stalled connections are closed).
pub struct Realism {
    shared: Arc<Shared>,
    port: u16,
    moto_env: Vec<(String, String)>,
    /// `TMPDIR` of the runs through this proxy (their temporary files; locks do not depend on
    /// it: they are keyed by account, region and endpoint, in the per-user lock folder).
    tmp: tempfile::TempDir,
}

struct Shared {
    moto_port: u16,
    start: Instant,
    rules: Mutex<Vec<Box<dyn Rule>>>,
    events: Mutex<Vec<Event>>,
    calls: Mutex<Vec<Call>>,
    mutating: AtomicUsize,
    stop: AtomicBool,
}

/// Something a rule did, for the test to check (and to print when it fails).
#[derive(Debug, Clone)]
pub struct Event {
    /// Since the proxy started.
    pub at: Duration,
    /// The rule's name.
    pub rule: &'static str,
    /// What it did.
    pub text: String,
}

/// One request through the proxy and what became of it.
#[derive(Debug, Clone)]
pub struct Call {
    /// When it arrived, since the proxy started.
    pub at: Duration,
    /// When its answer was ready (or withheld), since the proxy started.
    pub done: Duration,
    /// `apigateway`, `acm`, ...
    pub service: String,
    /// `CreateDomainName`, ...
    pub operation: String,
    /// The HTTP status answered; `None` for a reset or a stall.
    pub status: Option<u16>,
    /// `moto`, or the rule that answered (or changed the answer).
    pub by: &'static str,
    /// Its number among mutating calls (1-based), when it is one.
    pub mutating: Option<usize>,
}

impl Realism {
    /// A proxy in front of `moto` applying `rules` (in order: the first that answers a
    /// request wins; every rule sees every answer moto gives).
    pub fn start(moto: &Moto, rules: Vec<Box<dyn Rule>>) -> Realism {
        let moto_port: u16 = moto
            .endpoint_url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("moto's port");
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            moto_port,
            start: Instant::now(),
            rules: Mutex::new(rules),
            events: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            mutating: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let accept = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = accept.clone();
                std::thread::spawn(move || shared.handle(stream));
            }
        });
        Realism {
            shared,
            port,
            moto_env: moto.env(),
            tmp: tempfile::tempdir().expect("a temporary folder"),
        }
    }

    /// `http://127.0.0.1:PORT` of the proxy.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// [`Moto::env`] with the endpoint replaced by the proxy's (and a `TMPDIR` of its
    /// own, shared by every run through it).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .moto_env
            .iter()
            .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
            .cloned()
            .collect();
        env.push(("AWS_ENDPOINT_URL".to_string(), self.endpoint_url()));
        env.push(("TMPDIR".to_string(), self.tmp.path().display().to_string()));
        env
    }

    /// [`Realism::env`] plus `extra`.
    pub fn env_with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env();
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v.to_string()));
        }
        env
    }

    /// Adds a rule (after those given at start).
    pub fn add(&self, rule: Box<dyn Rule>) {
        self.shared.rules.lock().unwrap().push(rule);
    }

    /// Everything the rules did, in order.
    pub fn events(&self) -> Vec<Event> {
        self.shared.events.lock().unwrap().clone()
    }

    /// What the rule named `rule` did.
    pub fn events_of(&self, rule: &str) -> Vec<Event> {
        self.events()
            .into_iter()
            .filter(|e| e.rule == rule)
            .collect()
    }

    /// Every request so far and its answer.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// The calls of `operation`.
    pub fn calls_of(&self, operation: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.operation == operation)
            .collect()
    }

    /// The mutating operations so far, in order (what a fault's `nth` counts).
    pub fn mutating_operations(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| c.mutating.is_some())
            .map(|c| c.operation)
            .collect()
    }

    /// The events and the calls, for a failing assertion's message.
    pub fn report(&self) -> String {
        let mut out = String::from("proxy events:\n");
        for e in self.events() {
            out += &format!("  {:>7.2}s {:<28} {}\n", e.at.as_secs_f64(), e.rule, e.text);
        }
        out += "proxy calls:\n";
        for c in self.calls() {
            out += &format!(
                "  {:>7.2}s {:<10} {:<26} {:>5} {}{}\n",
                c.at.as_secs_f64(),
                c.service,
                c.operation,
                c.status.map_or("-".to_string(), |s| s.to_string()),
                c.by,
                c.mutating
                    .map(|n| format!(" (mutating #{n})"))
                    .unwrap_or_default()
            );
        }
        out
    }
}

impl Drop for Realism {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// What a rule does with a request before moto sees it.
pub enum Verdict {
    /// Let it through (the next rule, then moto).
    Forward,
    /// Answer this instead; moto never sees the request.
    Answer(Response),
    /// Reset the connection (the request is not forwarded).
    Reset,
    /// Never answer (the request is not forwarded).
    Stall,
}

/// What a rule does with moto's answer.
pub enum After {
    /// Deliver it (as the rule may have changed it).
    Deliver,
    /// Reset the connection instead: the request took effect, its answer is lost.
    Reset,
    /// Never answer: the request took effect, the client waits.
    Stall,
}

/// One AWS behaviour. Rules run one request at a time, so they keep plain state.
pub trait Rule: Send {
    /// Its name in events.
    fn name(&self) -> &'static str;
    /// Before moto: let the request through, or answer it.
    fn before(&mut self, _req: &Request, _cx: &Cx) -> Verdict {
        Verdict::Forward
    }
    /// After moto answered: look, change the answer, or withhold it.
    fn after(&mut self, _req: &Request, _resp: &mut Response, _cx: &Cx) -> After {
        After::Deliver
    }
}

/// What a rule knows about the moment: the time, the mutating count, and moto itself.
pub struct Cx<'a> {
    shared: &'a Shared,
    /// Now.
    pub now: Instant,
    /// This request's number among mutating ones (1-based), when it is one.
    pub mutating: Option<usize>,
    rule: std::cell::Cell<&'static str>,
}

impl Cx<'_> {
    /// Records what the rule did.
    pub fn log(&self, text: impl Into<String>) {
        self.shared.events.lock().unwrap().push(Event {
            at: self.now.duration_since(self.shared.start),
            rule: self.rule.get(),
            text: text.into(),
        });
    }

    /// A GET straight to moto (not through the rules): status and body.
    pub fn moto_get(&self, service: &str, path: &str) -> Option<(u16, String)> {
        moto_call(self.shared.moto_port, "GET", path, service, b"")
    }
}

impl Shared {
    fn handle(self: Arc<Self>, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(secs(120.0)));
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        let req = match read_request(&mut reader, &mut writer) {
            Ok(Some(r)) => r,
            _ => return,
        };
        match self.process(&req) {
            Outcome::Respond(resp) => {
                let _ = writer.write_all(&resp.to_bytes(req.method == "HEAD"));
                let _ = writer.flush();
            }
            Outcome::Reset => reset(&writer),
            Outcome::Stall => {
                while !self.stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    fn process(&self, req: &Request) -> Outcome {
        let mut rules = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let mutating = req
            .is_mutating()
            .then(|| self.mutating.fetch_add(1, Ordering::SeqCst) + 1);
        let cx = Cx {
            shared: self,
            now: Instant::now(),
            mutating,
            rule: std::cell::Cell::new(""),
        };
        let mut by: &'static str = "moto";
        let mut verdict = Verdict::Forward;
        for rule in rules.iter_mut() {
            cx.rule.set(rule.name());
            match rule.before(req, &cx) {
                Verdict::Forward => {}
                other => {
                    verdict = other;
                    by = rule.name();
                    break;
                }
            }
        }
        let outcome = match verdict {
            Verdict::Answer(resp) => Outcome::Respond(resp),
            Verdict::Reset => Outcome::Reset,
            Verdict::Stall => Outcome::Stall,
            Verdict::Forward => match forward(self.moto_port, req) {
                Err(e) => {
                    cx.rule.set("proxy");
                    cx.log(format!("{}: moto did not answer: {e}", req.operation()));
                    Outcome::Reset
                }
                Ok(mut resp) => {
                    let mut outcome = Outcome::Respond(Response::empty());
                    let mut withheld = false;
                    for rule in rules.iter_mut() {
                        cx.rule.set(rule.name());
                        match rule.after(req, &mut resp, &cx) {
                            After::Deliver => {}
                            After::Reset if !withheld => {
                                withheld = true;
                                by = rule.name();
                                outcome = Outcome::Reset;
                            }
                            After::Stall if !withheld => {
                                withheld = true;
                                by = rule.name();
                                outcome = Outcome::Stall;
                            }
                            _ => {}
                        }
                    }
                    if withheld {
                        outcome
                    } else {
                        Outcome::Respond(resp)
                    }
                }
            },
        };
        self.calls.lock().unwrap().push(Call {
            at: cx.now.duration_since(self.start),
            done: self.start.elapsed(),
            service: req.service(),
            operation: req.operation(),
            status: match &outcome {
                Outcome::Respond(r) => Some(r.status),
                _ => None,
            },
            by,
            mutating,
        });
        outcome
    }
}

enum Outcome {
    Respond(Response),
    Reset,
    Stall,
}

/// Closes with a TCP reset (SO_LINGER 0) rather than a clean close.
fn reset(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket this function borrows, with a correctly sized value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

// ------------------------------------------------------------------------------------------
// HTTP/1.1, one request per connection
// ------------------------------------------------------------------------------------------

/// A request as the client sent it (a chunked body is decoded).
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query without `?`.
    pub query: String,
    /// Headers in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header, by name without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A string field of the JSON body.
    pub fn json_str(&self, field: &str) -> String {
        self.json()[field].as_str().unwrap_or_default().to_string()
    }

    /// The path's segments, percent-decoded.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect()
    }

    /// The service, from the SigV4 credential scope (`.../us-east-1/acm/aws4_request`).
    pub fn service(&self) -> String {
        self.header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .map(str::to_string)
            .unwrap_or_else(|| {
                if self.path.starts_with("/2013-04-01/") {
                    "route53".into()
                } else if self.header("x-amz-target").is_some() {
                    "acm".into()
                } else {
                    "unknown".into()
                }
            })
    }

    fn query_has(&self, key: &str) -> bool {
        self.query
            .split('&')
            .any(|p| p == key || p.starts_with(&format!("{key}=")))
    }

    /// The API operation, as AWS names it.
    pub fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_string();
        }
        let service = self.service();
        if service == "sts" {
            let form = if self.method == "POST" {
                String::from_utf8_lossy(&self.body).into_owned()
            } else {
                self.query.clone()
            };
            if let Some(a) = form.split('&').find_map(|p| p.strip_prefix("Action=")) {
                return a.to_string();
            }
        }
        let segs = self.segments();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = self.method.as_str();
        let name = match (service.as_str(), m, s.as_slice()) {
            ("apigateway", "POST", ["restapis"]) => "CreateRestApi",
            ("apigateway", "GET", ["restapis"]) => "GetRestApis",
            ("apigateway", "GET", ["restapis", _]) => "GetRestApi",
            ("apigateway", "PUT", ["restapis", _]) => "PutRestApi",
            ("apigateway", "PATCH", ["restapis", _]) => "UpdateRestApi",
            ("apigateway", "DELETE", ["restapis", _]) => "DeleteRestApi",
            ("apigateway", "POST", ["restapis", _, "deployments"]) => "CreateDeployment",
            ("apigateway", "GET", ["restapis", _, "stages"]) => "GetStages",
            ("apigateway", "GET", ["restapis", _, "stages", _]) => "GetStage",
            ("apigateway", "GET", ["restapis", _, "resources"]) => "GetResources",
            ("apigateway", "POST", ["domainnames"]) => "CreateDomainName",
            ("apigateway", "PUT" | "POST", ["tags", _]) => "TagResource",
            ("apigateway", "DELETE", ["tags", _]) => "UntagResource",
            ("apigateway", "GET", ["domainnames"]) => "GetDomainNames",
            ("apigateway", "GET", ["domainnames", _]) => "GetDomainName",
            ("apigateway", "PATCH", ["domainnames", _]) => "UpdateDomainName",
            ("apigateway", "DELETE", ["domainnames", _]) => "DeleteDomainName",
            ("apigateway", "POST", ["domainnames", _, "basepathmappings"]) => {
                "CreateBasePathMapping"
            }
            ("apigateway", "GET", ["domainnames", _, "basepathmappings"]) => "GetBasePathMappings",
            ("apigateway", "DELETE", ["domainnames", _, "basepathmappings", ..]) => {
                "DeleteBasePathMapping"
            }
            ("route53", "POST", ["2013-04-01", "hostedzone"]) => "CreateHostedZone",
            ("route53", "GET", ["2013-04-01", "hostedzone"]) => "ListHostedZones",
            ("route53", "GET", ["2013-04-01", "hostedzonesbyname"]) => "ListHostedZonesByName",
            ("route53", "GET", ["2013-04-01", "hostedzone", _]) => "GetHostedZone",
            ("route53", "DELETE", ["2013-04-01", "hostedzone", _]) => "DeleteHostedZone",
            ("route53", "POST", ["2013-04-01", "hostedzone", _, "rrset"]) => {
                "ChangeResourceRecordSets"
            }
            ("route53", "GET", ["2013-04-01", "hostedzone", _, "rrset"]) => {
                "ListResourceRecordSets"
            }
            ("route53", "GET", ["2013-04-01", "change", _]) => "GetChange",
            ("s3", _, [_]) if self.query_has("versioning") => match m {
                "PUT" => "PutBucketVersioning",
                _ => "GetBucketVersioning",
            },
            ("s3", "GET", [_]) if self.query_has("versions") => "ListObjectVersions",
            ("s3", "PUT", [_]) => "CreateBucket",
            ("s3", "HEAD", [_]) => "HeadBucket",
            ("s3", "DELETE", [_]) => "DeleteBucket",
            ("s3", "GET", [_]) => "ListObjects",
            ("s3", "PUT", [_, _, ..]) => "PutObject",
            ("s3", "HEAD", [_, _, ..]) => "HeadObject",
            ("s3", "GET", [_, _, ..]) => "GetObject",
            ("s3", "DELETE", [_, _, ..]) => "DeleteObject",
            _ => return format!("{m} {}", self.path),
        };
        name.to_string()
    }

    /// Whether it changes state, as [`super::moto::RecordedRequest::is_mutating`] judges:
    /// REST calls by method, RPC calls (ACM, STS) by action name.
    pub fn is_mutating(&self) -> bool {
        if self.method == "GET" || self.method == "HEAD" {
            return false;
        }
        let rpc = self.header("x-amz-target").is_some() || self.service() == "sts";
        if rpc {
            let action = self.operation();
            return !["Describe", "List", "Get"]
                .iter()
                .any(|p| action.starts_with(p));
        }
        true
    }

    /// `s3://bucket/key` of an S3 object request, `bucket` of a bucket request.
    fn s3_target(&self) -> (String, String) {
        let segs = self.segments();
        (
            segs.first().cloned().unwrap_or_default(),
            segs.get(1..).map(|k| k.join("/")).unwrap_or_default(),
        )
    }
}

/// An answer, moto's or a rule's.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (decoded when moto sent it chunked).
    pub body: Vec<u8>,
}

impl Response {
    fn empty() -> Response {
        Response {
            status: 200,
            reason: "OK".into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Whether it is a 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header, by name without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Removes a header; whether it was there.
    pub fn remove_header(&mut self, name: &str) -> bool {
        let before = self.headers.len();
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        before != self.headers.len()
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Replaces the body with `value`.
    pub fn set_json(&mut self, value: &Value) {
        self.body = serde_json::to_vec(value).unwrap();
    }

    /// The bytes to send, with `Content-Length` and `Connection: close` (a HEAD answer
    /// keeps the length moto gave and has no body).
    fn to_bytes(&self, head: bool) -> Vec<u8> {
        let mut out = format!("HTTP/1.1 {} {}\r\n", self.status, self.reason);
        for (k, v) in &self.headers {
            let k_low = k.to_ascii_lowercase();
            if matches!(
                k_low.as_str(),
                "transfer-encoding" | "connection" | "keep-alive"
            ) {
                continue;
            }
            if k_low == "content-length" && !head {
                continue;
            }
            out += &format!("{k}: {v}\r\n");
        }
        if !head {
            out += &format!("Content-Length: {}\r\n", self.body.len());
        }
        out += "Connection: close\r\n\r\n";
        let mut bytes = out.into_bytes();
        if !head {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn request_id() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 32) as u32,
        n & 0xffff,
        (t & 0xfff) as u32,
        n & 0xfff,
        t & 0xffff_ffff_ffff
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An error answer shaped as `service` sends it: JSON with `x-amzn-ErrorType` (ACM's JSON
/// 1.1, API Gateway's REST-JSON), XML `<Error>` (S3), XML `<ErrorResponse>` (Route 53, STS).
pub fn aws_error(service: &str, status: u16, code: &str, message: &str) -> Response {
    let id = request_id();
    let (content_type, body, mut headers) = match service {
        "s3" => (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{id}</RequestId><HostId>{id}</HostId></Error>",
                xml_escape(message)
            ),
            vec![("x-amz-request-id".to_string(), id.clone())],
        ),
        "route53" | "sts" => (
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://{service}.amazonaws.com/doc/\"><Error><Type>{}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                if status >= 500 { "Receiver" } else { "Sender" },
                xml_escape(message)
            ),
            vec![("x-amzn-RequestId".to_string(), id.clone())],
        ),
        "acm" => (
            "application/x-amz-json-1.1",
            json!({ "__type": code, "message": message }).to_string(),
            vec![
                ("x-amzn-RequestId".to_string(), id.clone()),
                ("x-amzn-ErrorType".to_string(), code.to_string()),
            ],
        ),
        _ => (
            "application/json",
            json!({ "__type": code, "message": message }).to_string(),
            vec![
                ("x-amzn-RequestId".to_string(), id.clone()),
                ("x-amzn-ErrorType".to_string(), code.to_string()),
            ],
        ),
    };
    headers.push(("Content-Type".to_string(), content_type.to_string()));
    headers.push(("Date".to_string(), http_date()));
    Response {
        status,
        reason: reason_phrase(status).to_string(),
        headers,
        body: body.into_bytes(),
    }
}

fn http_date() -> String {
    // Not parsed by the SDK for errors; a fixed, well-formed value is enough.
    "Mon, 01 Jan 2024 00:00:00 GMT".to_string()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_line(reader: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if reader.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    Ok(Some(
        String::from_utf8_lossy(&buf)
            .trim_end_matches(['\r', '\n'])
            .to_string(),
    ))
}

fn read_headers(reader: &mut impl BufRead) -> std::io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    while let Some(line) = read_line(reader)? {
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok(headers)
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.unwrap_or_default();
        let size = usize::from_str_radix(line.split(';').next().unwrap_or("0").trim(), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while let Some(l) = read_line(reader)? {
                if l.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let _ = read_line(reader)?;
    }
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> std::io::Result<Option<Request>> {
    let Some(line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let headers = read_headers(reader)?;
    if header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = if header(&headers, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        read_chunked(reader)?
    } else {
        let len: usize = header(&headers, "content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        body
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Some(Request {
        method: method.to_string(),
        target: target.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    }))
}

/// Sends `req` to moto on a new connection and reads the whole answer.
fn forward(moto_port: u16, req: &Request) -> std::io::Result<Response> {
    let mut s = TcpStream::connect(("127.0.0.1", moto_port))?;
    s.set_read_timeout(Some(secs(120.0)))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, req.target);
    for (k, v) in &req.headers {
        let low = k.to_ascii_lowercase();
        if matches!(
            low.as_str(),
            "connection" | "keep-alive" | "transfer-encoding" | "content-length" | "expect"
        ) {
            continue;
        }
        head += &format!("{k}: {v}\r\n");
    }
    head += &format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        req.body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(&req.body)?;
    s.flush()?;
    let mut reader = BufReader::new(s);
    parse_response(&mut reader, req.method == "HEAD")
}

fn parse_response(reader: &mut impl BufRead, head: bool) -> std::io::Result<Response> {
    let status_line = read_line(reader)?
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no status line"))?;
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, status_line.clone()))?;
    let reason = parts.next().unwrap_or("").to_string();
    let headers = read_headers(reader)?;
    let body = if head {
        Vec::new()
    } else if header(&headers, "transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        read_chunked(reader)?
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(Response {
        status,
        reason,
        headers,
        body,
    })
}

/// A call straight to moto: a dummy SigV4 credential scope tells moto the service (it
/// checks no signature).
pub fn moto_call(
    port: u16,
    method: &str,
    path: &str,
    service: &str,
    body: &[u8],
) -> Option<(u16, String)> {
    let req = Request {
        method: method.to_string(),
        target: path.to_string(),
        path: path.split('?').next().unwrap_or(path).to_string(),
        query: path.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default(),
        headers: vec![
            ("Host".into(), format!("127.0.0.1:{port}")),
            (
                "Authorization".into(),
                format!(
                    "AWS4-HMAC-SHA256 Credential={}/20240101/{}/{service}/aws4_request, SignedHeaders=host, Signature=0",
                    super::moto::ACCESS_KEY,
                    super::moto::REGION
                ),
            ),
        ],
        body: body.to_vec(),
    };
    let mut req = req;
    if !body.is_empty() {
        // Only with a body: moto reads a GET with a JSON content type as another protocol.
        req.headers
            .push(("Content-Type".into(), "application/json".into()));
    }
    let resp = forward(port, &req).ok()?;
    Some((
        resp.status,
        String::from_utf8_lossy(&resp.body).into_owned(),
    ))
}

// ------------------------------------------------------------------------------------------
// Route 53 as the rules read it (straight from moto)
// ------------------------------------------------------------------------------------------

/// Every `<tag>...</tag>` in `xml`.
fn xml_blocks<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

fn xml_text(xml: &str, tag: &str) -> Option<String> {
    xml_blocks(xml, tag).first().map(|s| s.trim().to_string())
}

/// A hosted zone as moto lists it.
#[derive(Debug, Clone)]
pub struct ZoneInfo {
    /// The bare id.
    pub id: String,
    /// The name, with the final dot.
    pub name: String,
    /// Whether it is private.
    pub private: bool,
}

/// A record set as moto lists it.
#[derive(Debug, Clone)]
pub struct RecordInfo {
    /// The name, with the final dot.
    pub name: String,
    /// `NS`, `CNAME`, ...
    pub record_type: String,
    /// The values.
    pub values: Vec<String>,
}

/// Every hosted zone in moto.
pub fn moto_zones(port: u16) -> Vec<ZoneInfo> {
    let Some((200, xml)) = moto_call(port, "GET", "/2013-04-01/hostedzone", "route53", b"") else {
        return Vec::new();
    };
    xml_blocks(&xml, "HostedZone")
        .into_iter()
        .map(|z| ZoneInfo {
            id: xml_text(z, "Id")
                .unwrap_or_default()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            name: xml_text(z, "Name").unwrap_or_default(),
            private: xml_text(z, "PrivateZone").as_deref() == Some("true"),
        })
        .collect()
}

/// Every record set of a zone in moto.
pub fn moto_records(port: u16, zone_id: &str) -> Vec<RecordInfo> {
    let path = format!("/2013-04-01/hostedzone/{zone_id}/rrset");
    let Some((200, xml)) = moto_call(port, "GET", &path, "route53", b"") else {
        return Vec::new();
    };
    xml_blocks(&xml, "ResourceRecordSet")
        .into_iter()
        .map(|r| RecordInfo {
            name: xml_text(r, "Name").unwrap_or_default(),
            record_type: xml_text(r, "Type").unwrap_or_default(),
            values: xml_blocks(r, "Value")
                .into_iter()
                .map(|v| v.trim().to_string())
                .collect(),
        })
        .collect()
}

fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

/// Whether `name` is `zone` or inside it.
fn within(name: &str, zone: &str) -> bool {
    let (n, z) = (fqdn(name), fqdn(zone));
    n == z || n.ends_with(&format!(".{z}"))
}

// ------------------------------------------------------------------------------------------
// The rules
// ------------------------------------------------------------------------------------------

fn left(until: Instant, now: Instant) -> f64 {
    until.saturating_duration_since(now).as_secs_f64()
}

/// Rule 1. ACM keeps counting a certificate "in use" for a while after the custom domain
/// that used it is deleted: DeleteCertificate answers ResourceInUseException until then.
pub struct CertificateInUse {
    lasts: Duration,
    used_by: HashMap<String, Vec<String>>,
    locked: HashMap<String, Instant>,
}

impl CertificateInUse {
    pub const NAME: &'static str = "certificate in use";

    /// In use for `lasts` after the domain is deleted.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(CertificateInUse {
            lasts,
            used_by: HashMap::new(),
            locked: HashMap::new(),
        })
    }
}

impl Rule for CertificateInUse {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        if req.operation() != "DeleteCertificate" {
            return Verdict::Forward;
        }
        let arn = req.json_str("CertificateArn");
        match self.locked.get(&arn) {
            Some(&until) if cx.now < until => {
                cx.log(format!(
                    "DeleteCertificate {arn}: ResourceInUseException ({:.1} s left)",
                    left(until, cx.now)
                ));
                Verdict::Answer(aws_error(
                    "acm",
                    400,
                    "ResourceInUseException",
                    &format!("Certificate {arn} is in use."),
                ))
            }
            _ => Verdict::Forward,
        }
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "CreateDomainName" | "GetDomainName" | "UpdateDomainName" => {
                if let Some(d) = resp.json() {
                    let arns = [
                        "regionalCertificateArn",
                        "certificateArn",
                        "ownershipVerificationCertificateArn",
                    ]
                    .iter()
                    .filter_map(|f| d[*f].as_str().map(str::to_string))
                    .collect();
                    if let Some(name) = d["domainName"].as_str() {
                        self.used_by.insert(name.to_string(), arns);
                    }
                }
            }
            "DeleteDomainName" => {
                let name = req.segments().get(1).cloned().unwrap_or_default();
                for arn in self.used_by.remove(&name).unwrap_or_default() {
                    cx.log(format!(
                        "DeleteDomainName {name}: {arn} stays in use for {:.1} s",
                        self.lasts.as_secs_f64()
                    ));
                    self.locked.insert(arn, cx.now + self.lasts);
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Rule 2. Right after RequestCertificate, DescribeCertificate does not know the
/// certificate for a while, then shows it without its DNS validation record for a while.
pub struct NewCertificateLag {
    unknown: Duration,
    no_record: Duration,
    born: HashMap<String, Instant>,
}

impl NewCertificateLag {
    pub const NAME: &'static str = "new certificate lag";

    /// Unknown for `unknown`, then without a record until `no_record` after the request.
    pub fn new(unknown: Duration, no_record: Duration) -> Box<Self> {
        Box::new(NewCertificateLag {
            unknown,
            no_record,
            born: HashMap::new(),
        })
    }
}

impl Rule for NewCertificateLag {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        if req.operation() != "DescribeCertificate" {
            return Verdict::Forward;
        }
        let arn = req.json_str("CertificateArn");
        match self.born.get(&arn) {
            Some(&born) if cx.now < born + self.unknown => {
                cx.log(format!(
                    "DescribeCertificate {arn}: ResourceNotFoundException"
                ));
                Verdict::Answer(aws_error(
                    "acm",
                    400,
                    "ResourceNotFoundException",
                    &format!("Could not find certificate {arn}."),
                ))
            }
            _ => Verdict::Forward,
        }
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "RequestCertificate" => {
                if let Some(arn) = resp
                    .json()
                    .and_then(|j| j["CertificateArn"].as_str().map(str::to_string))
                {
                    cx.log(format!(
                        "RequestCertificate: {arn} is unknown for {:.1} s",
                        self.unknown.as_secs_f64()
                    ));
                    self.born.insert(arn, cx.now);
                }
            }
            "DescribeCertificate" => {
                let arn = req.json_str("CertificateArn");
                let Some(&born) = self.born.get(&arn) else {
                    return After::Deliver;
                };
                if cx.now >= born + self.no_record {
                    return After::Deliver;
                }
                if let Some(mut j) = resp.json() {
                    let cert = &mut j["Certificate"];
                    cert["Status"] = json!("PENDING_VALIDATION");
                    if let Some(options) = cert["DomainValidationOptions"].as_array_mut() {
                        for o in options {
                            if let Some(o) = o.as_object_mut() {
                                o.remove("ResourceRecord");
                                o.insert("ValidationStatus".into(), json!("PENDING_VALIDATION"));
                            }
                        }
                    }
                    resp.set_json(&j);
                    cx.log(format!(
                        "DescribeCertificate {arn}: no validation record yet"
                    ));
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Rule 3. API Gateway allows one CreateDomainName, UpdateDomainName, DeleteDomainName
/// and DeleteRestApi per 30 s per account, **each its own window** (API Gateway developer
/// guide, "Amazon API Gateway quotas"); others get HTTP 429 TooManyRequestsException with
/// `Retry-After` (whole seconds). A [`Quota`] over those four operations.
pub struct DomainRateLimit;

impl DomainRateLimit {
    pub const NAME: &'static str = "domain rate limit";
    const LIMITED: [&'static str; 4] = [
        "CreateDomainName",
        "UpdateDomainName",
        "DeleteDomainName",
        "DeleteRestApi",
    ];

    /// One call of each operation per `per` ([`Quota::after_another_caller`] applies). A
    /// [`Quota`] under this rule's name, so the tests keep naming the rule they mean.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(per: Duration) -> Box<Quota> {
        Quota::named(Self::NAME, &Self::LIMITED, per)
    }
}

/// Rule 4. A custom domain is UPDATING for a while after a create or an update; changes
/// to it (and to its mappings) get 409 ConflictException until it is AVAILABLE again.
pub struct DomainUpdating {
    lasts: Duration,
    until: HashMap<String, Instant>,
}

impl DomainUpdating {
    pub const NAME: &'static str = "domain updating";

    /// UPDATING for `lasts` after each create and update.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(DomainUpdating {
            lasts,
            until: HashMap::new(),
        })
    }

    fn busy(&self, domain: &str, now: Instant) -> Option<Instant> {
        self.until.get(domain).copied().filter(|&u| now < u)
    }

    fn mark(resp: &mut Response) {
        if let Some(mut j) = resp.json() {
            j["domainNameStatus"] = json!("UPDATING");
            j["domainNameStatusMessage"] = json!("Updating Domain Name");
            resp.set_json(&j);
        }
    }
}

impl Rule for DomainUpdating {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        let op = req.operation();
        if !matches!(
            op.as_str(),
            "UpdateDomainName"
                | "DeleteDomainName"
                | "CreateBasePathMapping"
                | "DeleteBasePathMapping"
        ) {
            return Verdict::Forward;
        }
        let domain = req.segments().get(1).cloned().unwrap_or_default();
        match self.busy(&domain, cx.now) {
            Some(until) => {
                cx.log(format!(
                    "{op} {domain}: 409 ConflictException, still UPDATING for {:.1} s",
                    left(until, cx.now)
                ));
                Verdict::Answer(aws_error(
                    "apigateway",
                    409,
                    "ConflictException",
                    "There is already an update in progress",
                ))
            }
            None => Verdict::Forward,
        }
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "CreateDomainName" | "UpdateDomainName" => {
                let domain = resp
                    .json()
                    .and_then(|j| j["domainName"].as_str().map(str::to_string))
                    .unwrap_or_default();
                cx.log(format!(
                    "{}: {domain} is UPDATING for {:.1} s",
                    req.operation(),
                    self.lasts.as_secs_f64()
                ));
                self.until.insert(domain, cx.now + self.lasts);
                Self::mark(resp);
            }
            "GetDomainName" => {
                let domain = req.segments().get(1).cloned().unwrap_or_default();
                if let Some(until) = self.busy(&domain, cx.now) {
                    cx.log(format!(
                        "GetDomainName {domain}: UPDATING ({:.1} s left)",
                        left(until, cx.now)
                    ));
                    Self::mark(resp);
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Rule 5. Right after versioning is enabled on a bucket, writes (and reads of the
/// latest version) come back without a version id for a while.
pub struct VersioningLag {
    lasts: Duration,
    until: HashMap<String, Instant>,
}

impl VersioningLag {
    pub const NAME: &'static str = "versioning lag";

    /// No version ids for `lasts` after PutBucketVersioning.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(VersioningLag {
            lasts,
            until: HashMap::new(),
        })
    }
}

impl Rule for VersioningLag {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        let (bucket, key) = req.s3_target();
        match req.operation().as_str() {
            "PutBucketVersioning" => {
                cx.log(format!(
                    "PutBucketVersioning {bucket}: writes get no version id for {:.1} s",
                    self.lasts.as_secs_f64()
                ));
                self.until.insert(bucket, cx.now + self.lasts);
            }
            op @ ("PutObject" | "HeadObject") => {
                if let Some(&until) = self.until.get(&bucket).filter(|&&u| cx.now < u) {
                    if resp.remove_header("x-amz-version-id") {
                        cx.log(format!(
                            "{op} s3://{bucket}/{key}: answered without a version id ({:.1} s left)",
                            left(until, cx.now)
                        ));
                    }
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Rule 6. A deleted certificate is still listed for a while; its tags (and description)
/// are then ResourceNotFoundException.
pub struct DeletedCertificatesListed {
    lasts: Duration,
    summaries: HashMap<String, Value>,
    ghosts: HashMap<String, (Value, Instant)>,
}

impl DeletedCertificatesListed {
    pub const NAME: &'static str = "deleted certificates listed";

    /// Listed for `lasts` after DeleteCertificate.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(DeletedCertificatesListed {
            lasts,
            summaries: HashMap::new(),
            ghosts: HashMap::new(),
        })
    }

    fn ghost(&self, arn: &str, now: Instant) -> bool {
        self.ghosts.get(arn).is_some_and(|(_, u)| now < *u)
    }
}

impl Rule for DeletedCertificatesListed {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        let op = req.operation();
        if !matches!(
            op.as_str(),
            "ListTagsForCertificate" | "DescribeCertificate" | "GetCertificate"
        ) {
            return Verdict::Forward;
        }
        let arn = req.json_str("CertificateArn");
        if self.ghost(&arn, cx.now) {
            cx.log(format!(
                "{op} {arn}: ResourceNotFoundException (deleted, still listed)"
            ));
            return Verdict::Answer(aws_error(
                "acm",
                400,
                "ResourceNotFoundException",
                &format!("Could not find certificate {arn}."),
            ));
        }
        Verdict::Forward
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "ListCertificates" => {
                let Some(mut j) = resp.json() else {
                    return After::Deliver;
                };
                let mut listed = HashSet::new();
                for s in j["CertificateSummaryList"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                {
                    if let Some(arn) = s["CertificateArn"].as_str() {
                        listed.insert(arn.to_string());
                        self.summaries.insert(arn.to_string(), s.clone());
                    }
                }
                let mut added = Vec::new();
                for (arn, (summary, until)) in &self.ghosts {
                    if cx.now < *until && !listed.contains(arn) {
                        if let Some(list) = j["CertificateSummaryList"].as_array_mut() {
                            list.push(summary.clone());
                            added.push(arn.clone());
                        }
                    }
                }
                if !added.is_empty() {
                    cx.log(format!(
                        "ListCertificates: still lists deleted {}",
                        added.join(", ")
                    ));
                    resp.set_json(&j);
                }
            }
            "DeleteCertificate" => {
                let arn = req.json_str("CertificateArn");
                if let Some(summary) = self.summaries.get(&arn) {
                    cx.log(format!(
                        "DeleteCertificate {arn}: still listed for {:.1} s",
                        self.lasts.as_secs_f64()
                    ));
                    self.ghosts
                        .insert(arn, (summary.clone(), cx.now + self.lasts));
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Rule 8. Disabling a REST API's default endpoint takes effect only with a deployment:
/// until one, its existing stages still answer on `execute-api`. The rule tracks which
/// APIs are in that state ([`EndpointNeedsDeployment::STALE`] events, cleared by
/// [`EndpointNeedsDeployment::APPLIED`] ones).
pub struct EndpointNeedsDeployment {
    stages: HashMap<String, HashSet<String>>,
    stale: HashSet<String>,
}

impl EndpointNeedsDeployment {
    pub const NAME: &'static str = "endpoint needs deployment";
    pub const STALE: &'static str = "still serves";
    pub const APPLIED: &'static str = "now applies";

    pub fn new() -> Box<Self> {
        Box::new(EndpointNeedsDeployment {
            stages: HashMap::new(),
            stale: HashSet::new(),
        })
    }

    /// The APIs whose default-endpoint change is not deployed, from the proxy's events.
    pub fn undeployed(realism: &Realism) -> Vec<String> {
        let mut stale: Vec<String> = Vec::new();
        for e in realism.events_of(Self::NAME) {
            let api = e
                .text
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .trim_end_matches(':')
                .to_string();
            if e.text.contains(Self::STALE) {
                stale.push(api);
            } else if e.text.contains(Self::APPLIED) {
                stale.retain(|a| *a != api);
            }
        }
        stale
    }
}

impl Rule for EndpointNeedsDeployment {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        let api = req.segments().get(1).cloned().unwrap_or_default();
        match req.operation().as_str() {
            "CreateDeployment" => {
                let stage = req.json_str("stageName");
                self.stages.entry(api.clone()).or_default().insert(stage);
                if self.stale.remove(&api) {
                    cx.log(format!(
                        "CreateDeployment {api}: the default endpoint setting {}",
                        Self::APPLIED
                    ));
                }
            }
            "UpdateRestApi" => {
                let touches = req.json()["patchOperations"].as_array().is_some_and(|ops| {
                    ops.iter()
                        .any(|o| o["path"] == "/disableExecuteApiEndpoint")
                });
                let stages = self.stages.get(&api).cloned().unwrap_or_default();
                if touches && !stages.is_empty() {
                    let mut names: Vec<String> = stages.into_iter().collect();
                    names.sort();
                    cx.log(format!(
                        "UpdateRestApi {api}: disableExecuteApiEndpoint changed; stages {} {} the default endpoint until a deployment",
                        names.join(", "),
                        Self::STALE
                    ));
                    self.stale.insert(api);
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Rule 12. ACM validates through public DNS: a requested certificate stays
/// PENDING_VALIDATION until its validation CNAME resolves from the internet, that is in
/// the hosted zone the registrar delegates to (`registrar`: the names whose zone in this
/// account the registrar points at), or in a zone that one delegates to with NS records.
pub struct PublicDns {
    registrar: Vec<String>,
    validated: HashSet<String>,
}

impl PublicDns {
    pub const NAME: &'static str = "public dns";

    /// The registrar delegates each of `registered` to this account's zone of that name.
    pub fn new(registered: &[&str]) -> Box<Self> {
        Box::new(PublicDns {
            registrar: registered.iter().map(|r| fqdn(r)).collect(),
            validated: HashSet::new(),
        })
    }

    /// Why `name` does not resolve publicly, or `Ok` when it does.
    fn resolves(&self, cx: &Cx, name: &str) -> Result<(), String> {
        let port = cx.shared.moto_port;
        let zones: Vec<ZoneInfo> = moto_zones(port)
            .into_iter()
            .filter(|z| !z.private)
            .collect();
        let Some(registered) = self
            .registrar
            .iter()
            .filter(|r| within(name, r))
            .max_by_key(|r| r.len())
        else {
            return Err(format!(
                "no registrar delegates a domain that contains {name}"
            ));
        };
        let Some(mut zone) = zones.iter().find(|z| fqdn(&z.name) == *registered) else {
            return Err(format!(
                "the registrar delegates {registered} to no hosted zone of this account"
            ));
        };
        for _ in 0..8 {
            let records = moto_records(port, &zone.id);
            let delegation = records
                .iter()
                .filter(|r| {
                    r.record_type == "NS"
                        && fqdn(&r.name) != fqdn(&zone.name)
                        && within(name, &r.name)
                })
                .max_by_key(|r| r.name.len());
            if let Some(ns) = delegation {
                zone = zones
                    .iter()
                    .find(|z| fqdn(&z.name) == fqdn(&ns.name))
                    .ok_or_else(|| {
                        format!(
                            "{} delegates {} to a zone outside this account",
                            zone.name, ns.name
                        )
                    })?;
                continue;
            }
            return if records
                .iter()
                .any(|r| r.record_type == "CNAME" && fqdn(&r.name) == fqdn(name))
            {
                Ok(())
            } else {
                Err(format!(
                    "{} (the zone public DNS reaches) has no CNAME {name}",
                    zone.name
                ))
            };
        }
        Err("delegation loop".into())
    }
}

impl Rule for PublicDns {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() || req.operation() != "DescribeCertificate" {
            return After::Deliver;
        }
        let Some(mut j) = resp.json() else {
            return After::Deliver;
        };
        let cert = &mut j["Certificate"];
        let arn = cert["CertificateArn"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cert["Type"] != "AMAZON_ISSUED"
            || cert["Status"] != "ISSUED"
            || self.validated.contains(&arn)
        {
            return After::Deliver;
        }
        let names: Vec<String> = cert["DomainValidationOptions"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(|v| v["ResourceRecord"]["Name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let problems: Vec<String> = names
            .iter()
            .filter_map(|n| self.resolves(cx, n).err())
            .collect();
        if problems.is_empty() && !names.is_empty() {
            cx.log(format!(
                "DescribeCertificate {arn}: validation record resolves publicly: ISSUED"
            ));
            self.validated.insert(arn);
            return After::Deliver;
        }
        cert["Status"] = json!("PENDING_VALIDATION");
        if let Some(options) = cert["DomainValidationOptions"].as_array_mut() {
            for o in options {
                o["ValidationStatus"] = json!("PENDING_VALIDATION");
            }
        }
        resp.set_json(&j);
        cx.log(format!(
            "DescribeCertificate {arn}: PENDING_VALIDATION: {}",
            problems.join("; ")
        ));
        After::Deliver
    }
}

/// Every answer takes `each` (AWS is not on loopback).
pub struct Latency {
    each: Duration,
}

impl Latency {
    pub const NAME: &'static str = "latency";

    pub fn new(each: Duration) -> Box<Self> {
        Box::new(Latency { each })
    }
}

impl Rule for Latency {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, _req: &Request, _cx: &Cx) -> Verdict {
        std::thread::sleep(self.each);
        Verdict::Forward
    }
}

/// What goes wrong with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The connection is reset before the request reaches AWS.
    Reset,
    /// HTTP 500 (AWS's internal error, shaped as the service sends it), once.
    Error500Once,
    /// HTTP 500 for this call and every later one of the same operation and path.
    Error500Always,
    /// The request reaches AWS and takes effect, and its answer never comes.
    Stall,
}

impl FaultKind {
    pub const ALL: [FaultKind; 4] = [
        FaultKind::Reset,
        FaultKind::Error500Once,
        FaultKind::Error500Always,
        FaultKind::Stall,
    ];
}

/// A fault on the `nth` mutating call that reaches the proxy (1-based).
pub struct Fault {
    nth: usize,
    kind: FaultKind,
    hit: Option<(String, String)>,
    stall_this: bool,
}

impl Fault {
    pub const NAME: &'static str = "fault";

    pub fn new(nth: usize, kind: FaultKind) -> Box<Self> {
        Box::new(Fault {
            nth,
            kind,
            hit: None,
            stall_this: false,
        })
    }

    fn internal_error(service: &str) -> Response {
        let (code, message) = match service {
            "s3" => ("InternalError", "We encountered an internal error. Please try again."),
            _ => (
                "InternalFailure",
                "The request processing has failed because of an unknown error, exception or failure.",
            ),
        };
        aws_error(service, 500, code, message)
    }
}

impl Rule for Fault {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        let op = req.operation();
        if let Some((hit_op, hit_path)) = &self.hit {
            if self.kind == FaultKind::Error500Always && *hit_op == op && *hit_path == req.path {
                cx.log(format!("{op}: HTTP 500 again"));
                return Verdict::Answer(Self::internal_error(&req.service()));
            }
            return Verdict::Forward;
        }
        if cx.mutating != Some(self.nth) {
            return Verdict::Forward;
        }
        self.hit = Some((op.clone(), req.path.clone()));
        cx.log(format!(
            "{:?} on mutating call #{}: {} {op}",
            self.kind,
            self.nth,
            req.service()
        ));
        match self.kind {
            FaultKind::Reset => Verdict::Reset,
            FaultKind::Error500Once | FaultKind::Error500Always => {
                Verdict::Answer(Self::internal_error(&req.service()))
            }
            FaultKind::Stall => {
                self.stall_this = true;
                Verdict::Forward
            }
        }
    }

    fn after(&mut self, _req: &Request, _resp: &mut Response, _cx: &Cx) -> After {
        if std::mem::take(&mut self.stall_this) {
            After::Stall
        } else {
            After::Deliver
        }
    }
}

/// Holds the `nth` call of `operation` (after moto applied it when `forward`) and never
/// answers: the test kills mtls once [`Hold::reached`] says so.
pub struct Hold {
    operation: String,
    nth: usize,
    forward: bool,
    seen: usize,
    holding: bool,
}

impl Hold {
    pub const NAME: &'static str = "hold";

    pub fn new(operation: &str, nth: usize, forward: bool) -> Box<Self> {
        Box::new(Hold {
            operation: operation.to_string(),
            nth,
            forward,
            seen: 0,
            holding: false,
        })
    }

    /// Whether the held call has arrived (and, when forwarded, taken effect).
    pub fn reached(realism: &Realism) -> bool {
        !realism.events_of(Self::NAME).is_empty()
    }
}

impl Rule for Hold {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        if req.operation() != self.operation {
            return Verdict::Forward;
        }
        self.seen += 1;
        if self.seen != self.nth {
            return Verdict::Forward;
        }
        if self.forward {
            self.holding = true;
            Verdict::Forward
        } else {
            cx.log(format!("{} #{}: held, not sent", self.operation, self.nth));
            Verdict::Stall
        }
    }

    fn after(&mut self, _req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if std::mem::take(&mut self.holding) {
            cx.log(format!(
                "{} #{}: applied (HTTP {}), answer held",
                self.operation, self.nth, resp.status
            ));
            After::Stall
        } else {
            After::Deliver
        }
    }
}

// ------------------------------------------------------------------------------------------
// Fixtures: a PKI made once, and what exists in moto
// ------------------------------------------------------------------------------------------

/// A fresh working folder holding the walkthrough's keys and certificates for `domain`,
/// copied from a set made once per test process (key generation is the slow part of a
/// setup, and each test here runs several).
pub fn workdir_with_pki(domain: &str) -> tempfile::TempDir {
    static MADE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    static KEEP: OnceLock<Mutex<Vec<tempfile::TempDir>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let source = {
        let mut made = made.lock().unwrap();
        match made.get(domain) {
            Some(p) => p.clone(),
            None => {
                let dir = tempfile::tempdir().unwrap();
                super::cli::mtls(
                    dir.path(),
                    &["run", "pki.rhai", "--var", &format!("domain={domain}")],
                )
                .success();
                let path = dir.path().to_path_buf();
                KEEP.get_or_init(Default::default).lock().unwrap().push(dir);
                made.insert(domain.to_string(), path.clone());
                path
            }
        }
    };
    let dir = tempfile::tempdir().unwrap();
    for f in super::cli::PKI_FILES {
        std::fs::copy(source.join(f), dir.path().join(f)).unwrap();
    }
    dir
}

/// What exists in moto for `domain`, counted straight from moto.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// Every public hosted zone of the account (names).
    pub zones: Vec<String>,
    /// REST APIs tagged for the domain (ids).
    pub apis: Vec<String>,
    /// Paths of the (first) tagged API.
    pub api_paths: Vec<String>,
    /// Whether its default endpoint is disabled, as moto stores it (read from moto's own
    /// JSON, not through mtls's wrapper: the convergence check must not share a bug of the
    /// code it checks).
    pub endpoint_disabled: bool,
    /// Its stages.
    pub stages: Vec<String>,
    /// Imported certificates tagged for the domain (ARNs).
    pub imported: Vec<String>,
    /// Requested certificates tagged for the domain (ARNs).
    pub requested: Vec<String>,
    /// Whether the custom domain exists, and its truststore version.
    pub domain: Option<Option<String>>,
    /// Its API mappings.
    pub mappings: usize,
}

impl Inventory {
    /// Reads it.
    pub fn of(moto: &Moto, domain: &str) -> Inventory {
        let port: u16 = moto
            .endpoint_url()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let aws = rt
            .block_on(mtls::aws::Aws::connect(&moto.settings()))
            .unwrap();
        let mut inv = Inventory {
            zones: moto_zones(port)
                .into_iter()
                .filter(|z| !z.private)
                .map(|z| z.name)
                .collect(),
            ..Default::default()
        };
        let apis = rt
            .block_on(
                aws.apigateway().list_rest_apis(|a| {
                    a.tags.get("mtls:domain").map(String::as_str) == Some(domain)
                }),
            )
            .unwrap();
        inv.apis = apis.iter().map(|a| a.id.clone()).collect();
        if let Some(api) = apis.first() {
            inv.endpoint_disabled = endpoint_disabled_in_moto(port, &api.id);
            inv.api_paths = rt
                .block_on(aws.apigateway().resource_paths(&api.id))
                .unwrap();
            inv.stages = rt.block_on(aws.apigateway().stage_names(&api.id)).unwrap();
        }
        let mut by_domain = mtls::aws::Tags::new();
        by_domain.insert("mtls:domain".into(), domain.into());
        for c in rt
            .block_on(aws.acm().find_certificates(None, &by_domain))
            .unwrap()
        {
            match c.tags.get("mtls:role").map(String::as_str) {
                Some("server") => inv.imported.push(c.arn),
                Some("ownership-verification") => inv.requested.push(c.arn),
                _ => {}
            }
        }
        inv.domain = rt
            .block_on(aws.apigateway().domain_name(domain))
            .unwrap()
            .map(|d| d.truststore_version);
        if inv.domain.is_some() {
            let path = format!("/domainnames/{domain}/basepathmappings");
            if let Some((200, body)) = moto_call(port, "GET", &path, "apigateway", b"") {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                inv.mappings = v["item"].as_array().map_or(0, Vec::len);
            }
        }
        inv
    }

    /// What exists more than once (a run that is not over yet may still lack things).
    pub fn duplicates(&self) -> Vec<String> {
        let mut d = Vec::new();
        if self.zones.len() > 1 {
            d.push(format!("zones: {:?}", self.zones));
        }
        for (what, list) in [
            ("APIs tagged for the domain", &self.apis),
            ("imported certificates", &self.imported),
            ("requested certificates", &self.requested),
        ] {
            if list.len() > 1 {
                d.push(format!("{what}: {list:?}"));
            }
        }
        if self.stages.len() > 1 {
            d.push(format!("stages: {:?}", self.stages));
        }
        if self.mappings > 1 {
            d.push(format!("{} mappings", self.mappings));
        }
        d
    }

    /// Whether setup's work is whole, and made once: one zone, one API (with the PetStore
    /// definition, its default endpoint off, its stage), one imported and one requested
    /// certificate, one domain (with a truststore version), one mapping.
    pub fn problems(&self, zone: &str) -> Vec<String> {
        let mut p = Vec::new();
        let zones: Vec<&String> = self.zones.iter().collect();
        if zones != [&fqdn(zone)] {
            p.push(format!("zones: {zones:?}, want [{}]", fqdn(zone)));
        }
        if self.apis.len() != 1 {
            p.push(format!("{} APIs tagged for the domain", self.apis.len()));
        }
        if !self.api_paths.iter().any(|x| x == "/pets") {
            p.push(format!("the API has no /pets: {:?}", self.api_paths));
        }
        if !self.endpoint_disabled {
            p.push("the default endpoint is on".into());
        }
        if self.stages.len() != 1 {
            p.push(format!("stages: {:?}", self.stages));
        }
        if self.imported.len() != 1 {
            p.push(format!("imported certificates: {:?}", self.imported));
        }
        if self.requested.len() != 1 {
            p.push(format!("requested certificates: {:?}", self.requested));
        }
        match &self.domain {
            Some(Some(_)) => {}
            Some(None) => p.push("the domain has no truststore version".into()),
            None => p.push("no custom domain".into()),
        }
        if self.mappings != 1 {
            p.push(format!("{} mappings", self.mappings));
        }
        p
    }
}

/// `disableExecuteApiEndpoint` of REST API `api_id` as moto answers GetRestApi (false when
/// it cannot be read: the check then reports the endpoint on). moto stores what the patch
/// said (tests/support/moto.rs reads "true"/"false" as AWS does), so a run that sent
/// "false", or never sent the patch, shows here as an endpoint that is on.
fn endpoint_disabled_in_moto(port: u16, api_id: &str) -> bool {
    moto_call(
        port,
        "GET",
        &format!("/restapis/{api_id}"),
        "apigateway",
        b"",
    )
    .filter(|(status, _)| *status == 200)
    .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
    .is_some_and(|v| v["disableExecuteApiEndpoint"] == Value::Bool(true))
}

/// Asserts [`Inventory::problems`] is empty, printing `context` otherwise.
#[track_caller]
pub fn assert_converged(moto: &Moto, domain: &str, zone: &str, context: &str) {
    let inv = Inventory::of(moto, domain);
    let problems = inv.problems(zone);
    assert!(
        problems.is_empty(),
        "not one of each resource: {problems:?}\n{inv:#?}\n{context}"
    );
}

/// Two runs for one domain at the same time took turns: both succeeded, the account holds
/// exactly one of each resource, and one of them said it waited for the other's lock.
#[track_caller]
pub fn assert_took_turns(
    moto: &Moto,
    domain: &str,
    first: &std::process::Output,
    second: &std::process::Output,
    context: &str,
) {
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    for run in [first, second] {
        assert!(run.status.success(), "{}\n{context}", text(run));
    }
    assert_converged(moto, domain, domain, context);
    assert!(
        text(first).contains("waiting for it to finish")
            || text(second).contains("waiting for it to finish"),
        "neither run waited:\n{}\n{}",
        text(first),
        text(second)
    );
}

/// A path in `dir`, for messages.
pub fn show(dir: &Path) -> String {
    dir.display().to_string()
}

/// Runs `f` on each case, `workers` at a time, and returns each case's outcome in order
/// (a panic in `f` is that case's `Err`).
pub fn run_parallel<C: Sync, F>(cases: &[C], workers: usize, f: F) -> Vec<Result<String, String>>
where
    F: Fn(&C) -> Result<String, String> + Sync,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<String, String>>>> =
        Mutex::new((0..cases.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(case)))
                    .unwrap_or_else(|p| {
                        Err(p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_else(|| "panicked".to_string()))
                    });
                results.lock().unwrap()[i] = Some(out);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("not run".into())))
        .collect()
}

/// How many cases run at once: `MTLS_TEST_WORKERS`, else 3.
pub fn workers() -> usize {
    std::env::var("MTLS_TEST_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

//! The proxy: hyper's HTTP/1.1 server on 127.0.0.1, in front of one moto. Each request is
//! read whole, handed to the rules ([`Rule::before`]), forwarded to moto with hyper's client
//! when they let it through, shown to the rules again with moto's answer ([`Rule::after`]),
//! recorded ([`Realism::calls`]) and answered, reset or stalled.
//!
//! Each connection carries one request (keep-alive is off, so hyper answers with
//! `Connection: close`): a reset or a stall then hits exactly the call it was meant for.
//! A reset drops the connection with SO_LINGER 0, so the client sees a TCP RST, not a clean
//! close.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{watch, Notify};

use super::message::{Request, Response};
use super::moto_client::{forward, moto_call, runtime};
use crate::support::moto::Moto;

/// The proxy in front of one [`Moto`]; stops on drop (stalled connections are closed).
pub struct Realism {
    shared: Arc<Shared>,
    port: u16,
    /// Dropping it stops the proxy: the accept loop and every connection (a stalled one
    /// too) watch it.
    _stop: watch::Sender<()>,
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
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener for tokio");
        let shared = Arc::new(Shared {
            moto_port: moto.port(),
            start: Instant::now(),
            rules: Mutex::new(rules),
            events: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            mutating: AtomicUsize::new(0),
        });
        let (stop, stopped) = watch::channel(());
        let rt = runtime();
        let listener = {
            let _in_runtime = rt.enter();
            tokio::net::TcpListener::from_std(listener).expect("the proxy's listener")
        };
        rt.spawn(accept(listener, shared.clone(), stopped));
        Realism {
            shared,
            port,
            _stop: stop,
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

    /// moto's port, for calls straight to it (not through the rules).
    pub fn moto_port(&self) -> u16 {
        self.shared.moto_port
    }

    /// A GET straight to moto (not through the rules): status and body.
    pub fn moto_get(&self, service: &str, path: &str) -> Option<(u16, String)> {
        moto_call(self.shared.moto_port, "GET", path, service, b"")
    }
}

impl Shared {
    /// Runs the rules and moto on one request, one request at a time (the rules' lock is
    /// held throughout, so rules see a consistent world). Blocking: rules may sleep or call
    /// moto themselves, so it runs on tokio's blocking threads.
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
            Verdict::Forward => match Handle::current().block_on(forward(self.moto_port, req)) {
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

// ------------------------------------------------------------------------------------------
// HTTP: hyper's server, one request per connection
// ------------------------------------------------------------------------------------------

/// Accepts connections until the proxy stops.
async fn accept(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    stopped: watch::Receiver<()>,
) {
    let mut stop = stopped.clone();
    loop {
        tokio::select! {
            // The sender is dropped with the proxy: `changed` then fails.
            _ = stop.changed() => return,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(serve(stream, shared.clone(), stopped.clone()));
                }
            }
        }
    }
}

/// Serves one connection: the request's outcome decides whether it is answered, reset (a
/// TCP RST, with nothing written) or held open until the proxy stops.
async fn serve(stream: TcpStream, shared: Arc<Shared>, mut stopped: watch::Receiver<()>) {
    let reset = Arc::new(Notify::new());
    let service = {
        let reset = reset.clone();
        service_fn(move |req| answer(req, shared.clone(), reset.clone()))
    };
    let mut conn = http1::Builder::new()
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let reset_now = tokio::select! {
        _ = &mut conn => false,
        _ = reset.notified() => true,
        // The proxy stopped: the connection (a stalled one too) is dropped, so closed.
        _ = stopped.changed() => false,
    };
    if reset_now {
        // SO_LINGER 0: the close that follows (the connection is dropped here, its pending
        // answer with it) is a TCP reset. Failing to set it leaves a clean close.
        let parts = conn.into_parts();
        let _ = socket2::SockRef::from(parts.io.inner()).set_linger(Some(Duration::ZERO));
    }
}

/// The answer to one request, after the rules and moto. A reset or a stall never answers:
/// a reset asks [`serve`] to drop the connection, a stall waits until the proxy stops.
async fn answer(
    req: hyper::Request<Incoming>,
    shared: Arc<Shared>,
    reset: Arc<Notify>,
) -> Result<hyper::Response<Full<Bytes>>, hyper::Error> {
    let head = req.method() == Method::HEAD;
    let request = read_request(req).await?;
    let outcome = tokio::task::spawn_blocking(move || shared.process(&request)).await;
    match outcome {
        Ok(Outcome::Respond(resp)) => return Ok(to_hyper(resp, head)),
        Ok(Outcome::Reset) => reset.notify_one(),
        // A rule panicked: the connection is reset, and the test's report shows no answer.
        Err(_) => reset.notify_one(),
        Ok(Outcome::Stall) => {}
    }
    std::future::pending().await
}

/// The request as the rules see it, its body read whole (hyper decodes a chunked body and
/// answers `Expect: 100-continue`).
async fn read_request(req: hyper::Request<Incoming>) -> Result<Request, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes().to_vec();
    let target = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    Ok(Request {
        method: parts.method.as_str().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: header_pairs(&parts.headers),
        target,
        body,
    })
}

/// Headers as name and text pairs, in order (names lower case, as hyper reads them).
pub(super) fn header_pairs(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// `resp` as hyper sends it. hyper frames it: it writes the body's `Content-Length` (a rule
/// may have changed the body) and `Connection: close`, so moto's framing headers are left
/// out; a HEAD answer keeps moto's length, which describes the body it does not carry.
fn to_hyper(resp: Response, head: bool) -> hyper::Response<Full<Bytes>> {
    let body = if head {
        Bytes::new()
    } else {
        Bytes::from(resp.body)
    };
    let mut out = hyper::Response::new(Full::new(body));
    *out.status_mut() =
        StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(resp.reason.into_bytes()) {
        out.extensions_mut().insert(reason);
    }
    for (k, v) in &resp.headers {
        let framing = matches!(
            k.to_ascii_lowercase().as_str(),
            "transfer-encoding" | "connection" | "keep-alive"
        );
        if framing || (k.eq_ignore_ascii_case("content-length") && !head) {
            continue;
        }
        if let (Ok(k), Ok(v)) = (
            HeaderName::try_from(k.as_str()),
            HeaderValue::try_from(v.as_str()),
        ) {
            out.headers_mut().append(k, v);
        }
    }
    out
}

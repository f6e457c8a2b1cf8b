//! The network between mtls and AWS: every answer takes a while ([`Latency`]), a call is
//! reset, answered 500 or stalled ([`Fault`]), a call is held while the test kills mtls
//! ([`Hold`]). AWS SDKs and Tools reference guide, "Retry behavior": such transient errors
//! are what the SDK's standard retries are for.

use std::time::Duration;

use crate::support::realism::{aws_error, After, Cx, Realism, Request, Response, Rule, Verdict};

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

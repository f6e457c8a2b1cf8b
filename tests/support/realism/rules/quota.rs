//! Fixed per-account quotas: API Gateway's 429 with Retry-After, ACM's and Route 53's
//! throttling. The request over a quota is not processed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::left;
use crate::support::realism::{aws_error, After, Cx, Request, Response, Rule, Verdict};

/// API Gateway's fixed quotas for creating, deploying and managing an API (API Gateway
/// developer guide, "Amazon API Gateway quotas", limits.html): each operation allows one
/// call per its window per account (CreateRestApi for a regional API: 3 s; CreateDeployment:
/// 5 s; CreateDomainName, UpdateDomainName, DeleteDomainName, DeleteRestApi: 30 s each),
/// and a call within the window gets HTTP 429 `TooManyRequestsException` ("The request has
/// reached its throttling limit. Retry after the specified time period.", API reference)
/// with `Retry-After` in whole seconds. The request is not processed.
pub struct Quota {
    name: &'static str,
    per: Duration,
    operations: Vec<&'static str>,
    another_caller: bool,
    last: HashMap<String, Instant>,
}

impl Quota {
    pub const NAME: &'static str = "api quota";

    /// One call of each of `operations` per `per`, each operation its own window.
    pub fn new(operations: &[&'static str], per: Duration) -> Box<Self> {
        Self::named(Self::NAME, operations, per)
    }

    /// [`Quota::new`] under another rule name (its events carry that name).
    pub fn named(name: &'static str, operations: &[&'static str], per: Duration) -> Box<Self> {
        Box::new(Quota {
            name,
            per,
            operations: operations.to_vec(),
            another_caller: false,
            last: HashMap::new(),
        })
    }

    /// ACM's and Route 53's throttling, HTTP 400 with a code of their own and no
    /// Retry-After: ACM `ThrottlingException` ("The request was denied because it exceeded a
    /// quota", ACM API reference, ImportCertificate, Errors); Route 53 `Throttling` ("Rate
    /// exceeded", five requests per second per account: Route 53 developer guide, "Quotas").
    /// Like API Gateway's 429, the request was not processed.
    pub fn throttling(operations: &[&'static str], per: Duration) -> Box<Self> {
        Self::named(Self::THROTTLING, operations, per)
    }

    /// The name of [`Quota::throttling`]'s events.
    pub const THROTTLING: &'static str = "service throttling";

    /// As if someone else in the account had made each such call just before mtls's
    /// first: mtls's first call of each operation is refused.
    pub fn after_another_caller(mut self: Box<Self>) -> Box<Self> {
        self.another_caller = true;
        self
    }

    /// API Gateway's 429 answer, asking to wait `retry_after` whole seconds.
    fn too_many_requests(retry_after: u64) -> Response {
        let mut r = aws_error(
            "apigateway",
            429,
            "TooManyRequestsException",
            "Too Many Requests",
        );
        r.headers
            .push(("Retry-After".into(), retry_after.to_string()));
        r
    }
}

impl Rule for Quota {
    fn name(&self) -> &'static str {
        self.name
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        let op = req.operation();
        if !self.operations.contains(&op.as_str()) {
            return Verdict::Forward;
        }
        if self.another_caller && !self.last.contains_key(&op) {
            self.last.insert(op.clone(), cx.now);
        }
        match self.last.get(&op) {
            Some(&last) if cx.now < last + self.per => {
                let retry_after = left(last + self.per, cx.now).ceil().max(1.0) as u64;
                if self.name == Self::THROTTLING {
                    let service = req.service();
                    let (code, message) = match service.as_str() {
                        "route53" => ("Throttling", "Rate exceeded"),
                        _ => ("ThrottlingException", "Rate exceeded"),
                    };
                    cx.log(format!("{op}: 400 {code}"));
                    return Verdict::Answer(aws_error(&service, 400, code, message));
                }
                cx.log(format!(
                    "{op}: 429 TooManyRequestsException, Retry-After: {retry_after}"
                ));
                Verdict::Answer(Self::too_many_requests(retry_after))
            }
            _ => Verdict::Forward,
        }
    }

    fn after(&mut self, req: &Request, resp: &mut Response, _cx: &Cx) -> After {
        let op = req.operation();
        if resp.is_success() && self.operations.contains(&op.as_str()) {
            self.last.insert(op, Instant::now());
        }
        After::Deliver
    }
}

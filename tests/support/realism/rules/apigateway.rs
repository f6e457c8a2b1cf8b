//! API Gateway rules for custom domains and REST APIs: the per-account rate of domain
//! changes, a domain UPDATING after a change, a default-endpoint switch that waits for a
//! deployment.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{left, Quota};
use crate::support::realism::{aws_error, After, Cx, Realism, Request, Response, Rule, Verdict};

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

//! More of AWS as it behaves (see [`super::realism`] for the proxy and the first rules):
//!
//! | rule                  | AWS behaviour                                                        |
//! |-----------------------|----------------------------------------------------------------------|
//! | [`Quota`]             | API Gateway: fixed per-account quotas, one window per operation, HTTP 429 with Retry-After |
//! | [`VersioningNotFound`]| S3: for a while after versioning is first enabled, reads of a new object answer 404 NoSuchKey (and API Gateway cannot read it as a truststore) |
//! | [`ChangePending`]     | Route 53: a record change is PENDING until it reaches every name server, then INSYNC |
//!
//! Windows are seconds instead of AWS's seconds-to-minutes, so the suite stays fast.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::realism::{aws_error, After, Cx, Request, Response, Rule, Verdict};

/// Seconds left until `until`, for event texts.
fn left(until: Instant, now: Instant) -> f64 {
    until.saturating_duration_since(now).as_secs_f64()
}

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

/// S3: "After enabling versioning on a bucket for the first time, it may take up to 15
/// minutes for the change to fully propagate across the S3 system. During this time, GET
/// requests for objects created or updated after enabling versioning may result in HTTP
/// 404 NoSuchKey errors." (S3 user guide, "Enabling versioning on buckets",
/// manage-versioning-examples.html). Modelled as: an object written within `lasts` of the
/// bucket's PutBucketVersioning answers GetObject and HeadObject (any version) with 404
/// until that window ends. API Gateway reads the truststore object when a domain is created
/// or updated (developer guide, rest-api-mutual-tls: "you must have permissions to access
/// the S3 object"), so CreateDomainName or UpdateDomainName naming such an object gets 400
/// BadRequestException (the error the API reference lists for both).
pub struct VersioningNotFound {
    lasts: Duration,
    /// Bucket -> the end of its propagation window.
    buckets: HashMap<String, Instant>,
    /// `s3://bucket/key` of new objects -> until when they answer 404.
    unseen: HashMap<String, Instant>,
    /// Domain -> its truststore URI, from CreateDomainName (moto does not keep it).
    truststores: HashMap<String, String>,
}

impl VersioningNotFound {
    pub const NAME: &'static str = "versioning not found";

    /// New objects answer 404 until `lasts` after versioning is enabled on their bucket.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(VersioningNotFound {
            lasts,
            buckets: HashMap::new(),
            unseen: HashMap::new(),
            truststores: HashMap::new(),
        })
    }

    /// `s3://bucket/key` of an S3 object request.
    fn object_uri(req: &Request) -> Option<String> {
        match req.segments().as_slice() {
            [bucket, key @ ..] if !key.is_empty() => {
                Some(format!("s3://{bucket}/{}", key.join("/")))
            }
            _ => None,
        }
    }

    /// The truststore a domain call makes API Gateway read: the request's own, or (for an
    /// update that changes only the version) the one the domain was created with.
    fn truststore_of(&self, req: &Request) -> Option<String> {
        let body = req.json();
        match req.operation().as_str() {
            "CreateDomainName" => body["mutualTlsAuthentication"]["truststoreUri"]
                .as_str()
                .map(str::to_string),
            "UpdateDomainName" => {
                let patches = body["patchOperations"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                let touches = |path: &str| patches.iter().find(|p| p["path"] == path);
                if let Some(uri) = touches("/mutualTlsAuthentication/truststoreUri") {
                    return uri["value"].as_str().map(str::to_string);
                }
                touches("/mutualTlsAuthentication/truststoreVersion")?;
                let domain = req.segments().get(1).cloned().unwrap_or_default();
                self.truststores.get(&domain).cloned()
            }
            _ => None,
        }
    }

    /// Until when `uri` answers 404, if it still does.
    fn unseen_until(&self, uri: &str, now: Instant) -> Option<Instant> {
        self.unseen.get(uri).copied().filter(|&u| now < u)
    }
}

impl Rule for VersioningNotFound {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        let op = req.operation();
        if let "GetObject" | "HeadObject" = op.as_str() {
            let Some(uri) = Self::object_uri(req) else {
                return Verdict::Forward;
            };
            if let Some(until) = self.unseen_until(&uri, cx.now) {
                cx.log(format!(
                    "{op} {uri}: 404 NoSuchKey ({:.1} s left)",
                    left(until, cx.now)
                ));
                return Verdict::Answer(aws_error(
                    "s3",
                    404,
                    "NoSuchKey",
                    "The specified key does not exist.",
                ));
            }
            return Verdict::Forward;
        }
        let Some(uri) = self.truststore_of(req) else {
            return Verdict::Forward;
        };
        match self.unseen_until(&uri, cx.now) {
            Some(until) => {
                cx.log(format!(
                    "{op}: 400 BadRequestException, API Gateway cannot read {uri} ({:.1} s left)",
                    left(until, cx.now)
                ));
                Verdict::Answer(aws_error(
                    "apigateway",
                    400,
                    "BadRequestException",
                    &format!("Unable to read the truststore at {uri}: NoSuchKey"),
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
            "PutBucketVersioning" => {
                let bucket = req.segments().first().cloned().unwrap_or_default();
                // Only the first enabling propagates; a repeat changes nothing.
                if !self.buckets.contains_key(&bucket) {
                    cx.log(format!(
                        "PutBucketVersioning {bucket}: new objects answer 404 for {:.1} s",
                        self.lasts.as_secs_f64()
                    ));
                    self.buckets.insert(bucket, cx.now + self.lasts);
                }
            }
            // A bucket made again under the same name propagates its versioning again.
            "DeleteBucket" => {
                let bucket = req.segments().first().cloned().unwrap_or_default();
                self.buckets.remove(&bucket);
            }
            "PutObject" => {
                let bucket = req.segments().first().cloned().unwrap_or_default();
                let window = self.buckets.get(&bucket).copied().filter(|&u| cx.now < u);
                if let (Some(until), Some(uri)) = (window, Self::object_uri(req)) {
                    cx.log(format!(
                        "PutObject {uri}: new while versioning propagates, 404 for {:.1} s",
                        left(until, cx.now)
                    ));
                    self.unseen.insert(uri, until);
                }
            }
            "CreateDomainName" => {
                if let (Some(name), Some(uri)) = (
                    req.json()["domainName"].as_str().map(str::to_string),
                    self.truststore_of(req),
                ) {
                    self.truststores.insert(name, uri);
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Route 53: a change is `PENDING` until it has propagated to all of Route 53's
/// authoritative name servers, then `INSYNC` (Route 53 API reference, ChangeInfo and
/// GetChange: "PENDING indicates that the changes in this request have not propagated to
/// all Amazon Route 53 DNS servers"; the developer guide says this usually takes within
/// 60 seconds). moto answers `INSYNC` at once; this rule answers `PENDING` for `lasts`
/// after each ChangeResourceRecordSets, in its answer and in GetChange.
pub struct ChangePending {
    lasts: Duration,
    until: HashMap<String, Instant>,
}

impl ChangePending {
    pub const NAME: &'static str = "change pending";

    /// Each change PENDING for `lasts`.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(ChangePending {
            lasts,
            until: HashMap::new(),
        })
    }

    /// The change id of a `<ChangeInfo>` (`/change/C123` -> `C123`).
    fn change_id(xml: &str) -> Option<String> {
        let start = xml.find("<Id>")? + "<Id>".len();
        let end = start + xml[start..].find("</Id>")?;
        xml[start..end].rsplit('/').next().map(str::to_string)
    }

    fn mark_pending(resp: &mut Response) {
        let xml = String::from_utf8_lossy(&resp.body)
            .replace("<Status>INSYNC</Status>", "<Status>PENDING</Status>");
        resp.body = xml.into_bytes();
    }
}

impl Rule for ChangePending {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "ChangeResourceRecordSets" => {
                if let Some(id) = Self::change_id(&String::from_utf8_lossy(&resp.body)) {
                    cx.log(format!(
                        "ChangeResourceRecordSets: {id} PENDING for {:.1} s",
                        self.lasts.as_secs_f64()
                    ));
                    self.until.insert(id, cx.now + self.lasts);
                    Self::mark_pending(resp);
                }
            }
            "GetChange" => {
                let id = req.segments().last().cloned().unwrap_or_default();
                match self.until.get(&id) {
                    Some(&until) if cx.now < until => {
                        cx.log(format!(
                            "GetChange {id}: PENDING ({:.1} s left)",
                            left(until, cx.now)
                        ));
                        Self::mark_pending(resp);
                    }
                    Some(_) => cx.log(format!("GetChange {id}: INSYNC")),
                    None => {}
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

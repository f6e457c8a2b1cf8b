//! S3 rules: versioning takes a while to propagate after it is first enabled (writes get
//! no version id, new objects answer 404).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::left;
use crate::support::realism::{aws_error, After, Cx, Request, Response, Rule, Verdict};

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

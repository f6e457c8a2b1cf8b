//! ACM rules: a certificate stays "in use" after its domain goes, a new certificate is not
//! known (then has no validation record) for a while, a deleted certificate stays listed.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::left;
use crate::support::realism::{aws_error, After, Cx, Request, Response, Rule, Verdict};

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

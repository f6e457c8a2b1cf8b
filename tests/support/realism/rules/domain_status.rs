//! API Gateway rules for a custom domain's status: the statuses API Gateway gives a domain
//! that waits for its owner, which moto never gives (API Gateway API reference,
//! DomainName.domainNameStatus: AVAILABLE, UPDATING, PENDING, PENDING_CERTIFICATE_REIMPORT,
//! PENDING_OWNERSHIP_VERIFICATION, FAILED).
//!
//! | rule                          | AWS behaviour                                            |
//! |-------------------------------|----------------------------------------------------------|
//! | [`ReimportAcrossIssuers`]     | a certificate re-imported over the ARN a domain presents, from another issuer, leaves the domain PENDING_CERTIFICATE_REIMPORT until it presents another certificate |
//! | [`OwnershipExpired`]          | an expired ownership verification certificate: ACM reports it EXPIRED, the domain is PENDING_OWNERSHIP_VERIFICATION and refuses every other update until the certificate is replaced |

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::support::moto::Moto;
use crate::support::realism::{
    aws_error, moto_request, After, Cx, Realism, Request, Response, Rule, Verdict,
};

/// An ACM JSON call straight to moto (not through the rules): `GetCertificate`, ...
fn acm_call(port: u16, action: &str, body: &Value) -> Option<Value> {
    let target = format!("CertificateManager.{action}");
    let headers = [
        ("X-Amz-Target", target.as_str()),
        ("Content-Type", "application/x-amz-json-1.1"),
    ];
    let (_, answer) = moto_request(
        port,
        "POST",
        "/",
        "acm",
        &headers,
        body.to_string().as_bytes(),
    )?;
    serde_json::from_str(&answer).ok()
}

/// The certificates of a PEM text.
fn certs(pem: &str) -> Vec<mtls::pki::ParsedCert> {
    mtls::pki::ParsedCert::all_from_pem("", pem).unwrap_or_default()
}

/// A blob field of an ACM JSON request (base64 of the PEM).
fn blob(req: &Request, field: &str) -> String {
    use base64::Engine;
    let b64 = req.json_str(field);
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The patch paths of an UpdateDomainName request, in order.
pub fn patch_paths(req: &Request) -> Vec<String> {
    req.json()["patchOperations"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .map(|o| o["path"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The domain of an API Gateway `/domainnames/NAME...` request.
fn domain_of(req: &Request) -> String {
    req.segments().get(1).cloned().unwrap_or_default()
}

/// Sets a domain's status in a GetDomainName answer (or each of GetDomainNames's items).
fn set_status(resp: &mut Response, domain: &str, status: &str, message: &str) -> bool {
    let Some(mut j) = resp.json() else {
        return false;
    };
    let mut hit = false;
    let mut mark = |d: &mut Value| {
        if d["domainName"] == domain {
            d["domainNameStatus"] = json!(status);
            d["domainNameStatusMessage"] = json!(message);
            hit = true;
        }
    };
    match j["item"].as_array_mut() {
        Some(items) => items.iter_mut().for_each(&mut mark),
        None => mark(&mut j),
    }
    resp.set_json(&j);
    hit
}

/// API Gateway developer guide, rest-api-mutual-tls: "If a certificate is directly
/// re-imported into ACM, the issuer must stay the same"; a re-imported certificate that
/// breaks the domain's rules leaves it PENDING_CERTIFICATE_REIMPORT. Here: an
/// ImportCertificate over an ARN a domain presents, whose new certificate the CA of the
/// old one did not issue (another issuer name or key), puts every domain presenting that
/// ARN in PENDING_CERTIFICATE_REIMPORT; GetDomainName and GetDomainNames answer so until
/// an UpdateDomainName moves the domain to another certificate.
pub struct ReimportAcrossIssuers {
    moto_port: u16,
    /// Domain -> the ARN re-imported across issuers.
    pending: HashMap<String, String>,
    /// The domains presenting the ARN of the re-import in flight.
    presenting: Vec<String>,
    crossed: bool,
}

impl ReimportAcrossIssuers {
    pub const NAME: &'static str = "reimport across issuers";
    /// In the event of a re-import that left a domain pending.
    pub const PENDING: &'static str = "is PENDING_CERTIFICATE_REIMPORT";
    pub const MESSAGE: &'static str =
        "The imported certificate's issuer does not match the certificate it replaces";

    pub fn new(moto: &Moto) -> Box<Self> {
        Box::new(ReimportAcrossIssuers {
            moto_port: moto.port(),
            pending: HashMap::new(),
            presenting: Vec::new(),
            crossed: false,
        })
    }

    /// The domains (from moto) that present `arn`.
    fn domains_presenting(&self, cx: &Cx, arn: &str) -> Vec<String> {
        let Some((200, body)) = cx.moto_get("apigateway", "/domainnames") else {
            return Vec::new();
        };
        let j: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        j["item"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|d| d["regionalCertificateArn"] == arn)
                    .filter_map(|d| d["domainName"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the CA that issued the certificate now under `arn` also issued `new_pem`.
    fn same_issuer(&self, arn: &str, new_pem: &str) -> bool {
        let Some(old) = acm_call(
            self.moto_port,
            "GetCertificate",
            &json!({ "CertificateArn": arn }),
        ) else {
            return true;
        };
        let (Some(new), Some(old_leaf)) = (
            certs(new_pem).into_iter().next(),
            certs(old["Certificate"].as_str().unwrap_or_default())
                .into_iter()
                .next(),
        ) else {
            return true;
        };
        let old_chain = certs(old["CertificateChain"].as_str().unwrap_or_default());
        match old_chain.first() {
            Some(ca) => old_leaf.is_issued_by(ca) && new.is_issued_by(ca),
            // No chain: the issuer names must match at least.
            None => match (new.info(), old_leaf.info()) {
                (Ok(n), Ok(o)) => n.issuer == o.issuer,
                _ => true,
            },
        }
    }
}

impl Rule for ReimportAcrossIssuers {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        self.crossed = false;
        if req.operation() != "ImportCertificate" {
            return Verdict::Forward;
        }
        let arn = req.json_str("CertificateArn");
        if arn.is_empty() {
            return Verdict::Forward;
        }
        let presenting = self.domains_presenting(cx, &arn);
        if !presenting.is_empty() && !self.same_issuer(&arn, &blob(req, "Certificate")) {
            self.crossed = true;
            self.presenting = presenting;
        }
        Verdict::Forward
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "ImportCertificate" if self.crossed => {
                let arn = req.json_str("CertificateArn");
                for d in std::mem::take(&mut self.presenting) {
                    cx.log(format!(
                        "ImportCertificate over {arn} from another issuer: {d} {}",
                        Self::PENDING
                    ));
                    self.pending.insert(d, arn.clone());
                }
            }
            "UpdateDomainName" => {
                let domain = domain_of(req);
                let moved = patch_paths(req)
                    .iter()
                    .any(|p| p == "/regionalCertificateArn");
                if moved && self.pending.remove(&domain).is_some() {
                    cx.log(format!(
                        "UpdateDomainName {domain}: presents another certificate, AVAILABLE again"
                    ));
                }
            }
            "GetDomainName" | "GetDomainNames" => {
                for d in self.pending.keys() {
                    if set_status(resp, d, "PENDING_CERTIFICATE_REIMPORT", Self::MESSAGE) {
                        cx.log(format!("{}: {d} {}", req.operation(), Self::PENDING));
                    }
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// API Gateway developer guide, rest-api-mutual-tls: when the ownership verification
/// certificate expires (ACM renews it only while its validation record stays: ACM user
/// guide, dns-renewal-validation), the domain goes PENDING_OWNERSHIP_VERIFICATION and all
/// other updates to it are locked until `ownershipVerificationCertificateArn` is replaced.
/// Here, from the start: ACM reports `expired` (the ownership certificate's ARN) EXPIRED
/// with a validity in the past; GetDomainName answers PENDING_OWNERSHIP_VERIFICATION; an
/// UpdateDomainName carrying any other patch gets 400 BadRequestException; one that only
/// replaces the ownership certificate (with another ARN) goes through and unlocks the
/// domain. Every UpdateDomainName of the domain is logged with its patch paths.
pub struct OwnershipExpired {
    domain: String,
    expired: String,
    locked: bool,
}

impl OwnershipExpired {
    pub const NAME: &'static str = "ownership expired";
    /// In the event of an UpdateDomainName refused while locked.
    pub const REFUSED: &'static str = "refused while PENDING_OWNERSHIP_VERIFICATION";
    /// The prefix of the event logged for each UpdateDomainName: `patch paths: a, b`.
    pub const PATCH: &'static str = "patch paths:";
    pub const MESSAGE: &'static str = "The ownership verification certificate has expired";

    pub fn new(domain: &str, expired_arn: &str) -> Box<Self> {
        Box::new(OwnershipExpired {
            domain: domain.to_string(),
            expired: expired_arn.to_string(),
            locked: true,
        })
    }

    /// The patch paths of each UpdateDomainName the domain received, in order.
    pub fn updates(realism: &Realism) -> Vec<Vec<String>> {
        realism
            .events_of(Self::NAME)
            .iter()
            .filter_map(|e| e.text.split_once(Self::PATCH))
            .map(|(_, paths)| {
                paths
                    .split(',')
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect()
            })
            .collect()
    }

    /// Marks the expired certificate in an ACM answer (its summary or its description).
    fn expire(&self, cert: &mut Value) -> bool {
        if cert["CertificateArn"] != self.expired.as_str() {
            return false;
        }
        cert["Status"] = json!("EXPIRED");
        cert["NotAfter"] = json!(1_600_000_000);
        true
    }
}

impl Rule for OwnershipExpired {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn before(&mut self, req: &Request, cx: &Cx) -> Verdict {
        if req.operation() != "UpdateDomainName" || domain_of(req) != self.domain {
            return Verdict::Forward;
        }
        let paths = patch_paths(req);
        cx.log(format!(
            "UpdateDomainName {}: {} {}",
            self.domain,
            Self::PATCH,
            paths.join(", ")
        ));
        let others = paths
            .iter()
            .any(|p| p != "/ownershipVerificationCertificateArn");
        if self.locked && others {
            cx.log(format!(
                "UpdateDomainName {}: {}",
                self.domain,
                Self::REFUSED
            ));
            return Verdict::Answer(aws_error(
                "apigateway",
                400,
                "BadRequestException",
                "Updates are locked while the domain name is PENDING_OWNERSHIP_VERIFICATION: update ownershipVerificationCertificateArn first",
            ));
        }
        Verdict::Forward
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "DescribeCertificate" => {
                if let Some(mut j) = resp.json() {
                    if self.expire(&mut j["Certificate"]) {
                        resp.set_json(&j);
                        cx.log(format!("DescribeCertificate {}: EXPIRED", self.expired));
                    }
                }
            }
            "ListCertificates" => {
                if let Some(mut j) = resp.json() {
                    let mut hit = false;
                    for c in j["CertificateSummaryList"]
                        .as_array_mut()
                        .into_iter()
                        .flatten()
                    {
                        hit |= self.expire(c);
                    }
                    if hit {
                        resp.set_json(&j);
                    }
                }
            }
            "UpdateDomainName" if self.locked && domain_of(req) == self.domain => {
                let replaced = req.json()["patchOperations"].as_array().is_some_and(|ops| {
                    ops.iter().any(|o| {
                        o["path"] == "/ownershipVerificationCertificateArn"
                            && o["value"] != self.expired.as_str()
                    })
                });
                if replaced {
                    self.locked = false;
                    cx.log(format!(
                        "UpdateDomainName {}: ownership certificate replaced, AVAILABLE again",
                        self.domain
                    ));
                }
            }
            "GetDomainName" | "GetDomainNames" if self.locked => {
                let status = "PENDING_OWNERSHIP_VERIFICATION";
                let marked = set_status(resp, &self.domain, status, Self::MESSAGE);
                if marked {
                    cx.log(format!("{}: {} {status}", req.operation(), self.domain));
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

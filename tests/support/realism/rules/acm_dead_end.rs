//! ACM's dead ends for a requested certificate, as a [`Rule`] of the realism proxy: moto issues every requested certificate, AWS may not.
//!
//! ACM API reference, CertificateDetail (`Status`, `FailureReason`): "ACM makes repeated
//! attempts to validate a certificate for 72 hours and then times out. If a certificate
//! shows status FAILED or VALIDATION_TIMED_OUT, delete the request, correct the issue with
//! DNS validation or Email validation, and try again." Neither status is ever left: a
//! certificate in one stays in it (the same reference lists ISSUED as the only way out of
//! PENDING_VALIDATION).
use serde_json::{json, Value};

use crate::support::realism::{After, Cx, Request, Response, Rule};

/// A status ACM ends a requested certificate in, instead of ISSUED.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadEnd {
    /// `FAILED`, with a `FailureReason` (CAA_ERROR here: a CAA record of the domain does
    /// not let Amazon issue for it; ACM user guide, troubleshooting-caa).
    Failed,
    /// `VALIDATION_TIMED_OUT`: the validation CNAME was not found within 72 hours.
    ValidationTimedOut,
}

impl DeadEnd {
    /// The status as ACM reports it.
    pub fn status(self) -> &'static str {
        match self {
            DeadEnd::Failed => "FAILED",
            DeadEnd::ValidationTimedOut => "VALIDATION_TIMED_OUT",
        }
    }

    fn failure_reason(self) -> Option<&'static str> {
        match self {
            DeadEnd::Failed => Some("CAA_ERROR"),
            DeadEnd::ValidationTimedOut => None,
        }
    }
}

/// The `nth` certificate requested through the proxy (RequestCertificate, 1-based) ends in
/// `dead_end`: DescribeCertificate and ListCertificates report that status for it (and a
/// FAILED validation for its domain), whatever moto says. Later requests are left alone, so
/// a re-run that requests a new certificate can succeed.
pub struct CertificateDeadEnd {
    nth: usize,
    dead_end: DeadEnd,
    requested: usize,
    arn: Option<String>,
}

impl CertificateDeadEnd {
    pub const NAME: &'static str = "certificate dead end";

    pub fn new(nth: usize, dead_end: DeadEnd) -> Box<Self> {
        Box::new(CertificateDeadEnd {
            nth,
            dead_end,
            requested: 0,
            arn: None,
        })
    }

    /// The certificate of `detail` (a DescribeCertificate `Certificate` or a
    /// ListCertificates summary) given the dead end's status, when it is the one.
    fn rewrite(&self, detail: &mut Value) -> bool {
        if self.arn.is_none() || detail["CertificateArn"].as_str() != self.arn.as_deref() {
            return false;
        }
        detail["Status"] = json!(self.dead_end.status());
        if let Some(reason) = self.dead_end.failure_reason() {
            detail["FailureReason"] = json!(reason);
        }
        if let Some(options) = detail["DomainValidationOptions"].as_array_mut() {
            for o in options {
                o["ValidationStatus"] = json!("FAILED");
            }
        }
        true
    }
}

impl Rule for CertificateDeadEnd {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() || req.service() != "acm" {
            return After::Deliver;
        }
        let Some(mut body) = resp.json() else {
            return After::Deliver;
        };
        let operation = req.operation();
        let changed = match operation.as_str() {
            "RequestCertificate" => {
                self.requested += 1;
                if self.requested == self.nth {
                    let arn = body["CertificateArn"].as_str().unwrap_or_default();
                    cx.log(format!(
                        "RequestCertificate #{}: {arn} will be {}",
                        self.nth,
                        self.dead_end.status()
                    ));
                    self.arn = Some(arn.to_string());
                }
                false
            }
            "DescribeCertificate" => self.rewrite(&mut body["Certificate"]),
            "ListCertificates" => body["CertificateSummaryList"]
                .as_array_mut()
                .is_some_and(|list| list.iter_mut().fold(false, |any, s| self.rewrite(s) | any)),
            _ => false,
        };
        if changed {
            cx.log(format!("{operation}: {}", self.dead_end.status()));
            resp.set_json(&body);
        }
        After::Deliver
    }
}

//! The certificate rules AWS applies, as data: one table of [`Rule`]s, and the functions
//! that apply them and return [`Finding`]s.
//!
//! `mtls check`, the `check_truststore` / `check_acm_import` primitives that `setup.rhai`
//! runs before its first AWS call (and so `mtls plan`), and the reuse checks of the PKI
//! steps all report through these functions, so one problem has one id and one message
//! wherever it is found.
//!
//! The files: `rules.rs` (the table: [`Rule`], [`Severity`] and every rule as a constant),
//! and the checks by the scope of their rules: `certificate.rs` (what ACM and API Gateway
//! require of any certificate, and its expiry), `ca.rs` (what a CA needs to issue),
//! `truststore.rs` (API Gateway's truststore), `acm.rs` (an ACM import and the domain its
//! certificate covers), `revocation.rs` (a certificate against its CA's revocation list).
//! Here: the entry points, re-exported, and the [`Finding`] they all return.

use std::fmt;

use x509_parser::certificate::X509Certificate;

use super::inspect::ParsedCert;
use crate::error::Error;

mod acm;
mod ca;
mod certificate;
mod revocation;
mod rules;
mod truststore;

#[cfg(test)]
mod mutants_tests;
#[cfg(test)]
mod tests;

pub use acm::{acm_import, domain, AcmFiles};
pub use ca::cannot_issue;
pub(crate) use certificate::STRONG_SIGNATURES;
pub use certificate::{aws_problems, certificate, expiring, expiry_within, parse_window, Expiry};
pub use revocation::revocation;
pub use rules::*;
pub use truststore::{truststore, truststore_unreadable};

/// One problem found: the rule, the file, the certificate (by subject and SHA-256
/// fingerprint, when one can be named) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The rule's id.
    pub rule: &'static str,
    /// The rule's severity.
    pub severity: Severity,
    /// The file, as given.
    pub file: String,
    /// The certificate's subject, `C=JP, ST=Tokyo, O=Example, CN=...`; `None` for a finding
    /// about a whole file that could not be read as certificates.
    pub subject: Option<String>,
    /// SHA-256 of the certificate's DER, colon-separated upper-case hex.
    pub sha256: Option<String>,
    /// What is wrong, naming the value found.
    pub message: String,
    /// The rule's advice.
    pub fix: &'static str,
}

impl Finding {
    fn new(
        rule: &'static Rule,
        file: &str,
        cert: Option<&Named>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            rule: rule.id,
            severity: rule.severity,
            file: file.to_string(),
            subject: cert.map(|c| c.subject.clone()),
            sha256: cert.map(|c| c.sha256.clone()),
            message: message.into(),
            fix: rule.fix,
        }
    }

    /// The certificate, as `subject (SHA-256 AB:CD:EF:01...)`, or `-`.
    pub fn certificate(&self) -> String {
        match (&self.subject, &self.sha256) {
            (Some(s), Some(h)) => format!("{s} (SHA-256 {}...)", &h[..h.len().min(11)]),
            (Some(s), None) => s.clone(),
            _ => "-".to_string(),
        }
    }
}

impl fmt::Display for Finding {
    /// `error[cert-expired] server.pem: CN=... (SHA-256 AB:CD:EF:01...): message; fix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}] {}: {}: {}; {}",
            self.severity,
            self.rule,
            self.file,
            self.certificate(),
            self.message,
            self.fix
        )
    }
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// A certificate's name in findings.
struct Named {
    subject: String,
    sha256: String,
}

fn named(c: &X509Certificate<'_>, der: &[u8]) -> Named {
    Named {
        subject: c.subject().to_string(),
        sha256: super::sha256_fingerprint(der),
    }
}

fn parse(cert: &ParsedCert) -> Result<X509Certificate<'_>, Error> {
    x509_parser::parse_x509_certificate(&cert.der)
        .map(|(_, c)| c)
        .map_err(|e| Error::crypto("parse a certificate", e))
}

//! `mtls check`: the lint rules of [`crate::pki::lint`] over files given on the command
//! line, read through the working folder's rules ([`Workdir`]), as a [`Report`].

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;
use crate::pki::lint::{self, Finding, Severity};
use crate::pki::{Crl, ParsedCert, Truststore, MAX_CRL_BYTES};
use crate::workdir::Workdir;

/// What to check. Paths are relative to `dir`.
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    /// The folder the paths are relative to.
    pub dir: PathBuf,
    /// API Gateway's truststore rules.
    pub truststore: Option<String>,
    /// ACM's import rules on this certificate (the first of its file) with `key` and `chain`.
    pub cert: Option<String>,
    /// The certificate's private key.
    pub key: Option<String>,
    /// The certificate's chain, its issuer first.
    pub chain: Option<String>,
    /// The domain a subjectAltName of `cert` must cover.
    pub domain: Option<String>,
    /// Only list what expires within this window (or has expired), instead of linting.
    pub expiring: Option<Duration>,
    /// Revocation lists (PEM) that must not name `cert`, signed by a CA of `truststore`
    /// or `chain`.
    pub crl: Option<String>,
}

/// The findings, in rule order within each file, and their counts.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Every finding.
    pub findings: Vec<Finding>,
    /// How many findings are errors.
    pub errors: usize,
    /// How many findings are warnings.
    pub warnings: usize,
    /// How many certificates were read.
    pub certificates: usize,
}

impl Report {
    fn new(findings: Vec<Finding>, certificates: usize) -> Report {
        let count = |s| findings.iter().filter(|f| f.severity == s).count();
        Report {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            certificates,
            findings,
        }
    }

    /// Whether any finding is an error (`mtls check` then exits 1).
    pub fn has_errors(&self) -> bool {
        self.errors > 0
    }

    /// The stable JSON document: `{"findings":[{"rule","severity","file","subject",
    /// "sha256","message","fix"}],"errors":N,"warnings":N,"certificates":N}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One line per finding (severity, rule, file, certificate, message, fix), then a count.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            out.push_str(&format!(
                "{:<7} {:<24} {}: {}: {}; fix: {}\n",
                f.severity,
                f.rule,
                f.file,
                f.certificate(),
                f.message,
                f.fix
            ));
        }
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        out.push_str(&format!(
            "{}, {} in {} checked\n",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.certificates, "certificate")
        ));
        out
    }
}

/// Runs the rules. An input that cannot be read (missing, a private key in a certificate
/// file, a key others can read) is an `Err`; a truststore that is not PEM or too large is a
/// finding.
pub fn check(input: &CheckInput) -> Result<Report, Error> {
    let wd = Workdir::new(&input.dir);
    let mut findings = Vec::new();
    let mut count = 0;
    let window = input.expiring;
    // Read everything first, so an unreadable file stops before any output.
    let store = match &input.truststore {
        None => None,
        Some(path) => Some((path, read_truststore(&wd, path)?)),
    };
    let leaf = match &input.cert {
        None => None,
        Some(path) => Some((
            path,
            ParsedCert::all_from_pem(path, &wd.read_public(path)?)?,
        )),
    };
    let key = match &input.key {
        None => None,
        Some(path) => Some((path, wd.read_secret(path)?)),
    };
    let chain = match &input.chain {
        None => None,
        Some(path) => Some((
            path,
            ParsedCert::all_from_pem(path, &wd.read_public(path)?)?,
        )),
    };
    let crl = match &input.crl {
        None => None,
        Some(path) => Some((
            path,
            Crl::all_from_pem(path, &wd.read_public_up_to(path, MAX_CRL_BYTES)?)?,
        )),
    };
    let each = |file: &str, certs: &[ParsedCert], out: &mut Vec<Finding>| -> Result<(), Error> {
        for c in certs {
            match window {
                Some(w) => out.extend(lint::expiring(file, c, w)?),
                None => out.extend(lint::certificate(file, c)?),
            }
        }
        Ok(())
    };
    match &store {
        Some((path, Ok(store))) => {
            count += store.certs().len();
            if window.is_some() {
                each(path, store.certs(), &mut findings)?;
            } else {
                findings.extend(lint::truststore(path, store)?);
            }
        }
        Some((_, Err(finding))) => findings.push(finding.clone()),
        None => {}
    }
    if let Some((cert_file, certs)) = &leaf {
        count += certs.len();
        let first = &certs[0];
        if window.is_some() {
            each(cert_file, certs, &mut findings)?;
        } else {
            findings.extend(lint::acm_import(&lint::AcmFiles {
                cert_file,
                cert: first,
                key: key.as_ref().map(|(p, k)| (p.as_str(), k)),
                chain: chain.as_ref().map(|(p, c)| (p.as_str(), c.as_slice())),
            })?);
            // Further certificates of the certificate's own file are checked on their own.
            each(cert_file, &certs[1..], &mut findings)?;
        }
        if let (Some(domain), None) = (&input.domain, window) {
            findings.extend(lint::domain(cert_file, first, domain)?);
        }
    }
    if let Some((chain_file, certs)) = &chain {
        count += certs.len();
        each(chain_file, certs, &mut findings)?;
    }
    if let (Some((crl_file, lists)), Some((cert_file, certs))) = (&crl, &leaf) {
        // The CAs that may have signed the list: the truststore's and the chain's.
        let mut cas: Vec<ParsedCert> = Vec::new();
        if let Some((_, Ok(store))) = &store {
            cas.extend(store.certs().iter().cloned());
        }
        if let Some((_, certs)) = &chain {
            cas.extend(certs.iter().cloned());
        }
        findings.extend(lint::revocation(
            crl_file, lists, cert_file, &certs[0], &cas,
        )?);
    }
    Ok(Report::new(findings, count))
}

/// The truststore, or the finding that says why it is not one (not PEM, other blocks,
/// too large); other read errors are errors.
fn read_truststore(wd: &Workdir, path: &str) -> Result<Result<Truststore, Finding>, Error> {
    let parsed = wd
        .read_public(path)
        .and_then(|text| Truststore::from_pem(path, &text));
    match parsed {
        Ok(store) => Ok(Ok(store)),
        Err(e) => {
            let der = match &e {
                Error::NotText { .. } => wd.read_public_bytes(path).ok(),
                _ => None,
            };
            match lint::truststore_unreadable(path, &e, der.as_deref()) {
                Some(finding) => Ok(Err(finding)),
                None => Err(e),
            }
        }
    }
}

//! The certificate rules AWS applies, as data: one table of [`Rule`]s, and the functions
//! that apply them and return [`Finding`]s.
//!
//! `mtls check`, the `check_truststore` / `check_acm_import` primitives that `setup.rhai`
//! runs before its first AWS call (and so `mtls plan`), and the reuse checks of the PKI
//! steps all report through these functions, so one problem has one id and one message
//! wherever it is found.

use std::fmt;

use rcgen::PublicKeyData;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey;

use super::inspect::ParsedCert;
use super::secret::SecretPem;
use super::truststore::{Truststore, MAX_TRUSTSTORE_BYTES};
use crate::error::Error;

/// How bad a finding is: an error stops `setup` before AWS and makes `mtls check` exit 1;
/// a warning is reported and does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// AWS would refuse it.
    Error,
    /// AWS takes it, but it is likely a mistake.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One rule: a stable id, its severity, what it checks and what fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// Stable: scripts and CI match on it.
    pub id: &'static str,
    /// Error or warning, the same wherever the rule is applied.
    pub severity: Severity,
    /// Where AWS applies it: `certificate` (ACM and API Gateway), `acm`, `truststore`.
    pub scope: &'static str,
    /// What it checks, in a few words.
    pub summary: &'static str,
    /// What to do about a finding.
    pub fix: &'static str,
}

/// Every rule, in the order findings are reported (the tests check the ids are distinct).
#[cfg(test)]
pub const RULES: &[Rule] = &[
    CERT_V3,
    CERT_KEY,
    CERT_SIGNATURE,
    CERT_CURVE,
    CERT_DER_TRAILING,
    CERT_EXPIRED,
    CERT_NOT_YET_VALID,
    CERT_EXPIRING,
    ACM_KEY_UNUSABLE,
    ACM_KEY_MISMATCH,
    ACM_CHAIN_ORDER,
    ACM_CHAIN_END_ENTITY,
    ACM_SERVER_KEY,
    DOMAIN_NOT_COVERED,
    TRUSTSTORE_PEM,
    TRUSTSTORE_NOT_CA,
    CA_KEY_CERT_SIGN,
    CA_PATH_LEN,
    TRUSTSTORE_SIGNATURE,
    TRUSTSTORE_ROOT,
    TRUSTSTORE_DUPLICATE,
    TRUSTSTORE_CHAIN_LENGTH,
    TRUSTSTORE_SIZE,
    CRL_ISSUER,
    CRL_SIGNATURE,
    CRL_EXPIRED,
    CRL_REVOKED,
];

/// The `cert-v3` rule.
pub const CERT_V3: Rule = Rule {
    id: "cert-v3",
    severity: Severity::Error,
    scope: "certificate",
    summary: "X.509 v3",
    fix: "reissue it as X.509 v3 (`mtls run pki.rhai --force` makes v3 certificates)",
};

/// The `cert-key` rule.
pub const CERT_KEY: Rule = Rule {
    id: "cert-key",
    severity: Severity::Error,
    scope: "certificate",
    summary: "an RSA key of 2048 bits or more, or an ECDSA key of 256 bits or more",
    fix: "reissue it with an RSA 2048+ or ECDSA P-256/P-384 key",
};

/// The `cert-signature` rule.
pub const CERT_SIGNATURE: Rule = Rule {
    id: "cert-signature",
    severity: Severity::Error,
    scope: "certificate",
    summary: "signed with SHA-256 or stronger",
    fix: "reissue it signed with SHA-256 or stronger",
};

/// The `cert-curve` rule.
pub const CERT_CURVE: Rule = Rule {
    id: "cert-curve",
    severity: Severity::Error,
    scope: "certificate",
    summary: "an EC key on a curve ACM imports: P-256, P-384 or P-521",
    // ACM user guide, import-certificate-prerequisites: the EC algorithms ACM takes
    // are EC_prime256v1, EC_secp384r1 and EC_secp521r1; any other curve is refused.
    fix: "reissue it with an ECDSA P-256 or P-384 key (ACM user guide, import-certificate-prerequisites, lists prime256v1, secp384r1 and secp521r1 only)",
};

/// The `cert-der-trailing` rule.
pub const CERT_DER_TRAILING: Rule = Rule {
    id: "cert-der-trailing",
    severity: Severity::Error,
    scope: "certificate",
    summary: "each PEM block holds one DER certificate and nothing after it",
    fix: "re-export the certificate (`openssl x509 -in FILE -out FILE.clean`) so that its block holds the certificate alone",
};

/// The `cert-expired` rule.
pub const CERT_EXPIRED: Rule = Rule {
    id: "cert-expired",
    severity: Severity::Error,
    scope: "certificate",
    summary: "not expired",
    fix: "renew it (`--force` replaces it)",
};

/// The `cert-not-yet-valid` rule.
pub const CERT_NOT_YET_VALID: Rule = Rule {
    id: "cert-not-yet-valid",
    severity: Severity::Error,
    scope: "certificate",
    summary: "already valid (notBefore in the past)",
    fix: "check the clock of the machine that issued it, or wait until it is valid",
};

/// The `cert-expiring` rule.
pub const CERT_EXPIRING: Rule = Rule {
    id: "cert-expiring",
    severity: Severity::Error,
    scope: "certificate",
    summary: "not expiring within the window of `mtls check --expiring`",
    fix: "renew it before it expires",
};

/// The `acm-key-unusable` rule.
pub const ACM_KEY_UNUSABLE: Rule = Rule {
    id: "acm-key-unusable",
    severity: Severity::Error,
    scope: "acm",
    summary: "the private key is unencrypted PEM of a type and size ACM imports (5120 bytes at most)",
    fix: "give the unencrypted key (`openssl pkey -in KEY -out KEY.plain`), RSA 2048+ or ECDSA P-256/P-384",
};

/// The `acm-key-mismatch` rule.
pub const ACM_KEY_MISMATCH: Rule = Rule {
    id: "acm-key-mismatch",
    severity: Severity::Error,
    scope: "acm",
    summary: "the private key belongs to the certificate",
    fix: "give the key the certificate was issued for",
};

/// The `acm-chain-order` rule.
pub const ACM_CHAIN_ORDER: Rule = Rule {
    id: "acm-chain-order",
    severity: Severity::Error,
    scope: "acm",
    summary: "each certificate of the chain issued the one before it",
    fix: "order the chain from the certificate's issuer up towards the root",
};

/// The `acm-chain-end-entity` rule.
pub const ACM_CHAIN_END_ENTITY: Rule = Rule {
    id: "acm-chain-end-entity",
    severity: Severity::Error,
    scope: "acm",
    summary: "the chain holds CA certificates only, not the end-entity",
    fix: "remove the end-entity certificate from the chain: ACM wants only its issuers",
};

/// The `acm-server-key` rule.
pub const ACM_SERVER_KEY: Rule = Rule {
    id: "acm-server-key",
    severity: Severity::Error,
    scope: "acm",
    summary: "the server certificate's key is one API Gateway serves on a REGIONAL custom domain: RSA 2048, ECDSA P-256 or P-384",
    // API Gateway developer guide, how-to-specify-certificate-for-custom-domain-name
    // (the docs.amazonaws.cn edition): for a Regional custom domain name the largest
    // public key is 2048 bits. ACM user guide, import-certificate-prerequisites: ACM
    // imports RSA 1024-4096 and EC P-256/P-384/P-521, but "integrated services allow
    // only the algorithms and key sizes that they support".
    fix: "reissue the server certificate with an RSA 2048 or ECDSA P-256/P-384 key (API Gateway developer guide, how-to-specify-certificate-for-custom-domain-name: a Regional custom domain takes public keys up to 2048 bits; ACM user guide, import-certificate-prerequisites)",
};

/// The `domain-not-covered` rule.
pub const DOMAIN_NOT_COVERED: Rule = Rule {
    id: "domain-not-covered",
    severity: Severity::Error,
    scope: "acm",
    summary: "a subjectAltName of the certificate covers the domain",
    fix: "reissue the certificate with the domain among its DNS names",
};

/// The `truststore-pem` rule.
pub const TRUSTSTORE_PEM: Rule = Rule {
    id: "truststore-pem",
    severity: Severity::Error,
    scope: "truststore",
    summary: "PEM text holding CERTIFICATE blocks only",
    fix: "convert it to PEM (`openssl x509 -inform DER -in FILE -out FILE.pem`) and keep only the CERTIFICATE blocks",
};

/// The `truststore-not-ca` rule.
pub const TRUSTSTORE_NOT_CA: Rule = Rule {
    id: "truststore-not-ca",
    severity: Severity::Error,
    scope: "truststore",
    summary: "every certificate is a CA (basicConstraints cA=TRUE)",
    fix: "put only CA certificates (root and intermediates) in the truststore",
};

/// The `ca-key-cert-sign` rule.
pub const CA_KEY_CERT_SIGN: Rule = Rule {
    id: "ca-key-cert-sign",
    severity: Severity::Error,
    scope: "certificate",
    summary: "a CA certificate with a keyUsage extension has keyCertSign in it",
    // RFC 5280 4.2.1.3: keyCertSign is what allows a key to verify certificate
    // signatures; `openssl verify` refuses chains through a CA without it.
    fix: "reissue the CA with keyUsage keyCertSign (`mtls run pki.rhai --force` makes CAs that have it)",
};

/// The `ca-path-len` rule.
pub const CA_PATH_LEN: Rule = Rule {
    id: "ca-path-len",
    severity: Severity::Error,
    scope: "certificate",
    summary: "no CA has more CAs below it than its pathLenConstraint allows",
    // RFC 5280 4.2.1.9: pathLenConstraint is the most non-self-issued intermediate
    // CAs that may follow the CA in a path; `openssl verify` refuses longer paths.
    fix: "reissue the CA without a path length limit (or a larger one), or issue directly from the CA the limit allows",
};

/// The `truststore-signature` rule.
pub const TRUSTSTORE_SIGNATURE: Rule = Rule {
    id: "truststore-signature",
    severity: Severity::Error,
    scope: "truststore",
    summary: "each certificate is signed by the truststore CA its issuer names",
    fix: "replace the certificate with the one its CA really signed (`openssl verify -CAfile ROOT.pem CERT.pem` tells)",
};

/// The `truststore-root` rule.
pub const TRUSTSTORE_ROOT: Rule = Rule {
    id: "truststore-root",
    severity: Severity::Error,
    scope: "truststore",
    summary: "every chain goes up to a self-signed root in the truststore",
    // API Gateway developer guide, rest-api-mutual-tls (configuring your truststore):
    // the truststore holds the complete chain, from the issuing CA up to the root CA.
    fix: "add the missing issuers, up to and including the self-signed root (API Gateway developer guide, rest-api-mutual-tls: the truststore holds the whole chain from the issuing CA to the root CA)",
};

/// The `truststore-duplicate` rule.
pub const TRUSTSTORE_DUPLICATE: Rule = Rule {
    id: "truststore-duplicate",
    severity: Severity::Warning,
    scope: "truststore",
    summary: "no certificate appears twice",
    fix: "remove the second copy",
};

/// The `truststore-chain-length` rule.
pub const TRUSTSTORE_CHAIN_LENGTH: Rule = Rule {
    id: "truststore-chain-length",
    severity: Severity::Error,
    scope: "truststore",
    summary: "a client chain through the truststore's CAs is at most 4 certificates long",
    fix: "issue client certificates from a CA at most two levels below the root",
};

/// The `truststore-size` rule.
pub const TRUSTSTORE_SIZE: Rule = Rule {
    id: "truststore-size",
    severity: Severity::Error,
    scope: "truststore",
    summary: "the truststore is at most 1 MiB",
    fix: "remove certificates API Gateway does not need",
};

/// The `crl-issuer` rule.
pub const CRL_ISSUER: Rule = Rule {
    id: "crl-issuer",
    severity: Severity::Error,
    scope: "revocation",
    summary: "--crl holds the revocation list of the certificate's issuer",
    fix: "pass the list of the CA that issued the certificate (<CA>.crl.pem, made by revoke.rhai)",
};

/// The `crl-signature` rule.
pub const CRL_SIGNATURE: Rule = Rule {
    id: "crl-signature",
    severity: Severity::Error,
    scope: "revocation",
    summary: "the revocation list is signed by its issuer, a CA of --truststore or --chain",
    fix: "pass the issuing CA with --truststore or --chain; a list its CA did not sign was changed after signing or made by another key: sign it again with revoke.rhai",
};

/// The `crl-expired` rule.
pub const CRL_EXPIRED: Rule = Rule {
    id: "crl-expired",
    severity: Severity::Error,
    scope: "revocation",
    summary: "the revocation list is current: issued in the past, its next update not passed",
    fix: "sign a new list: `mtls run revoke.rhai --var ca=NAME` renews an expired one (a list issued in the future: set the signing machine's clock right first)",
};

/// The `crl-revoked` rule.
pub const CRL_REVOKED: Rule = Rule {
    id: "crl-revoked",
    severity: Severity::Error,
    scope: "revocation",
    summary: "the certificate is not revoked by its issuer",
    fix: "issue the device a new certificate: a revoked one stays revoked, and the API refuses it",
};

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

pub(crate) const STRONG_SIGNATURES: [&str; 6] = [
    "sha256WithRSAEncryption",
    "sha384WithRSAEncryption",
    "sha512WithRSAEncryption",
    "ecdsa-with-SHA256",
    "ecdsa-with-SHA384",
    "ecdsa-with-SHA512",
];

/// What ACM and API Gateway would refuse in `cert`: the messages of the [`certificate`]
/// rules it fails (a signature weaker than SHA-256, an RSA key under 2048 bits or an EC key
/// under 256, a validity that does not include now, a version before 3). Empty when it
/// passes. (It lives here, not on [`ParsedCert`], so that inspection never imports the
/// rules that read it.)
pub fn aws_problems(cert: &ParsedCert) -> Result<Vec<String>, Error> {
    Ok(certificate("", cert)?
        .into_iter()
        .map(|f| f.message)
        .collect())
}

/// The rules every certificate ACM or API Gateway is given must pass: v3, key type and
/// size, signature, valid now.
pub fn certificate(file: &str, cert: &ParsedCert) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let n = named(&c, &cert.der);
    let mut out = Vec::new();
    if c.version().0 != 2 {
        out.push(Finding::new(
            &CERT_V3,
            file,
            Some(&n),
            format!("X.509 v{}; v3 is required", c.version().0 + 1),
        ));
    }
    match c.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() < 2048 => out.push(Finding::new(
            &CERT_KEY,
            file,
            Some(&n),
            format!(
                "RSA {}-bit key; at least 2048 bits is required",
                rsa.key_size()
            ),
        )),
        Ok(PublicKey::EC(ec)) if ec.key_size() < 256 => out.push(Finding::new(
            &CERT_KEY,
            file,
            Some(&n),
            format!(
                "EC {}-bit key; at least 256 bits is required",
                ec.key_size()
            ),
        )),
        Ok(PublicKey::EC(_)) => {
            if let Err(oid) = curve_name(&c) {
                out.push(Finding::new(
                    &CERT_CURVE,
                    file,
                    Some(&n),
                    format!("EC key on curve {oid}; ACM takes P-256 (1.2.840.10045.3.1.7), P-384 or P-521 only"),
                ));
            }
        }
        Ok(PublicKey::RSA(_)) => {}
        _ => out.push(Finding::new(
            &CERT_KEY,
            file,
            Some(&n),
            "key type not accepted; use RSA or ECDSA",
        )),
    }
    if let Ok((rest, _)) = x509_parser::parse_x509_certificate(&cert.der) {
        if !rest.is_empty() {
            out.push(Finding::new(
                &CERT_DER_TRAILING,
                file,
                Some(&n),
                format!(
                    "{} byte(s) follow the certificate's DER inside its PEM block",
                    rest.len()
                ),
            ));
        }
    }
    let sig = super::inspect::signature_name(&c);
    if !STRONG_SIGNATURES.contains(&sig.as_str()) {
        out.push(Finding::new(
            &CERT_SIGNATURE,
            file,
            Some(&n),
            format!("signed with {sig}; SHA-256 or stronger is required"),
        ));
    }
    let validity = c.validity();
    let now = x509_parser::time::ASN1Time::now();
    let span = format!(
        "valid from {} to {}",
        super::inspect::rfc3339(validity.not_before.to_datetime()),
        super::inspect::rfc3339(validity.not_after.to_datetime())
    );
    if validity.not_after < now {
        out.push(Finding::new(
            &CERT_EXPIRED,
            file,
            Some(&n),
            format!("not valid now ({span}): it has expired"),
        ));
    } else if validity.not_before > now {
        out.push(Finding::new(
            &CERT_NOT_YET_VALID,
            file,
            Some(&n),
            format!("not valid now ({span}): it is not valid yet"),
        ));
    }
    Ok(out)
}

/// `mtls check --expiring`: the certificate expires within `window` (or has expired).
pub fn expiring(
    file: &str,
    cert: &ParsedCert,
    window: std::time::Duration,
) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let n = named(&c, &cert.der);
    let not_after = c.validity().not_after.to_datetime();
    let at = super::inspect::rfc3339(not_after);
    let span = time::Duration::try_from(window).unwrap_or(time::Duration::MAX);
    Ok(match expiry_within(not_after, span) {
        None => Vec::new(),
        Some(Expiry::Expired) => vec![Finding::new(
            &CERT_EXPIRED,
            file,
            Some(&n),
            format!("it expired on {at}"),
        )],
        Some(Expiry::InDays(days)) => vec![Finding::new(
            &CERT_EXPIRING,
            file,
            Some(&n),
            format!(
                "it expires on {at}, in {days} day(s), within the {} asked",
                describe_window(window)
            ),
        )],
    })
}

/// Where an end of validity stands against a window from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// It has passed.
    Expired,
    /// It comes within the window, in this many whole days.
    InDays(i64),
}

/// The `cert-expiring` / `cert-expired` rule on an end of validity (a file's, or one AWS
/// reports): `None` when it lies beyond `window` from now. `mtls check --expiring` and the
/// expiry warnings of plans and runs both ask this.
pub fn expiry_within(not_after: time::OffsetDateTime, window: time::Duration) -> Option<Expiry> {
    let left = not_after - time::OffsetDateTime::now_utc();
    if left.is_negative() {
        Some(Expiry::Expired)
    } else if left <= window {
        Some(Expiry::InDays(left.whole_days()))
    } else {
        None
    }
}

/// Parses `--expiring`'s window: `30d` (days) or `12h` (hours).
pub fn parse_window(text: &str) -> Result<std::time::Duration, String> {
    let bad =
        || format!("{text:?} is not a window: write a number of days or hours, as 30d or 12h");
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let hours = match unit {
        "d" => n.checked_mul(24).ok_or_else(bad)?,
        "h" => n,
        _ => return Err(bad()),
    };
    if hours > 24 * 365 * 1000 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(hours * 3600))
}

fn describe_window(window: std::time::Duration) -> String {
    let hours = window.as_secs() / 3600;
    if hours % 24 == 0 {
        format!("{} days", hours / 24)
    } else {
        format!("{hours} hours")
    }
}

/// API Gateway's truststore rules: every certificate passes [`certificate`], is a CA that
/// may sign certificates and appears once; each chain goes up, link by verified link, to
/// a self-signed root in the file, within every CA's pathLenConstraint; no client chain
/// through them is longer than API Gateway accepts; the file is at most 1 MiB.
pub fn truststore(file: &str, store: &Truststore) -> Result<Vec<Finding>, Error> {
    let mut out = Vec::new();
    let certs = store.certs();
    let parsed: Vec<X509Certificate<'_>> = certs.iter().map(parse).collect::<Result<_, _>>()?;
    // A CA whose limit several chains break is reported once.
    let mut limit_reported = vec![false; certs.len()];
    for (i, (cert, c)) in certs.iter().zip(&parsed).enumerate() {
        out.extend(certificate(file, cert)?);
        let n = named(c, &cert.der);
        let ca = is_ca(c);
        if !ca {
            out.push(Finding::new(
                &TRUSTSTORE_NOT_CA,
                file,
                Some(&n),
                format!(
                    "certificate {} is not a CA (no basicConstraints cA=TRUE); a truststore holds the CAs client certificates chain to",
                    i + 1
                ),
            ));
        } else if let Some(problem) = key_cert_sign_problem(c) {
            out.push(Finding::new(&CA_KEY_CERT_SIGN, file, Some(&n), problem));
        }
        if let Some(first) = certs[..i].iter().position(|o| o.der == cert.der) {
            out.push(Finding::new(
                &TRUSTSTORE_DUPLICATE,
                file,
                Some(&n),
                format!(
                    "certificate {} is the same as certificate {}",
                    i + 1,
                    first + 1
                ),
            ));
            continue;
        }
        let (path, top) = path_in(i, certs, &parsed);
        let max = crate::gateway::MAX_CLIENT_CHAIN_LEN;
        if ca && path.len() + 1 > max {
            out.push(Finding::new(
                &TRUSTSTORE_CHAIN_LENGTH,
                file,
                Some(&n),
                format!(
                    "a client certificate it issues makes a chain of {} certificates up to the root; API Gateway accepts at most {max}",
                    path.len() + 1
                ),
            ));
        }
        // The broken link is reported on the certificate above which it breaks, once.
        match top {
            Top::Root => {}
            Top::MissingIssuer if path.len() == 1 => out.push(Finding::new(
                &TRUSTSTORE_ROOT,
                file,
                Some(&n),
                format!(
                    "its issuer {} is not in the truststore, so its chain stops short of a self-signed root",
                    c.issuer()
                ),
            )),
            Top::BadSignature(j) if path.len() == 1 => out.push(Finding::new(
                &TRUSTSTORE_SIGNATURE,
                file,
                Some(&n),
                format!(
                    "it names {} (certificate {}) as its issuer, but that CA's key did not sign it",
                    parsed[j].subject(),
                    j + 1
                ),
            )),
            Top::MissingIssuer | Top::BadSignature(_) => {}
        }
        if !ca {
            continue;
        }
        // A client certificate under certificate `i` has `below` CAs under the ancestor.
        for (below, &above) in path.iter().enumerate().skip(1) {
            if limit_reported[above] {
                continue;
            }
            if let Some(problem) = path_len_problem(&parsed[above], below) {
                limit_reported[above] = true;
                out.push(Finding::new(
                    &CA_PATH_LEN,
                    file,
                    Some(&named(&parsed[above], &certs[above].der)),
                    format!("{problem}: {} is under it", c.subject()),
                ));
            }
        }
    }
    let size = store.to_pem().len();
    if size > MAX_TRUSTSTORE_BYTES {
        out.push(size_finding(file, size));
    }
    Ok(out)
}

fn size_finding(file: &str, size: usize) -> Finding {
    Finding::new(
        &TRUSTSTORE_SIZE,
        file,
        None,
        format!("{size} bytes; API Gateway takes truststores up to 1 MiB"),
    )
}

/// Where the walk up from a certificate through a truststore ended.
enum Top {
    /// At a self-issued certificate.
    Root,
    /// At a certificate whose issuer is not in the store.
    MissingIssuer,
    /// At a certificate whose issuer (by name) is this one, which did not sign it.
    BadSignature(usize),
}

/// The path from certificate `i` up through the store's certificates, `i` first, each
/// step checked by name and signature; and how it ended.
fn path_in(i: usize, certs: &[ParsedCert], parsed: &[X509Certificate<'_>]) -> (Vec<usize>, Top) {
    let mut path = vec![i];
    loop {
        let at = path[path.len() - 1];
        if parsed[at].subject() == parsed[at].issuer() {
            return (path, Top::Root);
        }
        let named: Vec<usize> = (0..certs.len())
            .filter(|j| !path.contains(j) && parsed[*j].subject() == parsed[at].issuer())
            .collect();
        match named.iter().find(|&&j| certs[at].is_issued_by(&certs[j])) {
            Some(&j) => path.push(j),
            None => match named.first() {
                Some(&j) => return (path, Top::BadSignature(j)),
                None => return (path, Top::MissingIssuer),
            },
        }
    }
}

fn is_ca(c: &X509Certificate<'_>) -> bool {
    matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

/// A CA whose keyUsage leaves out keyCertSign may not sign certificates (RFC 5280
/// 4.2.1.3); without a keyUsage extension every use is allowed.
fn key_cert_sign_problem(c: &X509Certificate<'_>) -> Option<String> {
    match c.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => {
            Some("its keyUsage has no keyCertSign, so it may not sign certificates".to_string())
        }
        _ => None,
    }
}

/// A CA with `below` CA certificates under it in a path breaks a pathLenConstraint
/// smaller than that (RFC 5280 4.2.1.9).
fn path_len_problem(c: &X509Certificate<'_>, below: usize) -> Option<String> {
    let limit = match c.basic_constraints() {
        Ok(Some(bc)) => bc.value.path_len_constraint?,
        _ => return None,
    };
    (usize::try_from(limit).unwrap_or(usize::MAX) < below).then(|| {
        format!("its pathLenConstraint is {limit}, so at most {limit} CA certificate(s) may be under it, not {below}")
    })
}

/// Why the certificate `ca_der` may not issue a certificate with `below` CA certificates
/// between them (0: it signs the certificate itself; 1: an intermediate it signed does):
/// not a CA, no keyCertSign, or a pathLenConstraint under `below`. `None` when it may.
///
/// The rehearsal gateway asks this of every issuer on a client's path, and the PKI steps
/// of every CA they keep, so that neither trusts what `mtls check` calls an error.
pub fn cannot_issue(ca_der: &[u8], below: usize) -> Option<String> {
    let c = match x509_parser::parse_x509_certificate(ca_der) {
        Ok((_, c)) => c,
        Err(e) => return Some(format!("it does not parse ({e})")),
    };
    if !is_ca(&c) {
        return Some("it is not a CA (no basicConstraints cA=TRUE)".to_string());
    }
    key_cert_sign_problem(&c).or_else(|| path_len_problem(&c, below))
}

/// The OIDs and names of the curves ACM imports (ACM user guide,
/// import-certificate-prerequisites: EC_prime256v1, EC_secp384r1, EC_secp521r1).
const ACM_CURVES: [(&str, &str); 3] = [
    ("1.2.840.10045.3.1.7", "P-256"),
    ("1.3.132.0.34", "P-384"),
    ("1.3.132.0.35", "P-521"),
];

/// The name of an EC key's curve (`P-256`), or its OID when ACM does not import it.
fn curve_name(c: &X509Certificate<'_>) -> Result<&'static str, String> {
    let oid = c
        .public_key()
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
        .unwrap_or_else(|| "no named curve".to_string());
    ACM_CURVES
        .iter()
        .find(|(id, _)| *id == oid)
        .map(|(_, name)| *name)
        .ok_or(oid)
}

/// The server key rule of a REGIONAL custom domain (see the `acm-server-key` rule):
/// RSA 2048, ECDSA P-256 or P-384. Smaller keys and other curves are other rules' findings.
fn regional_server_key_problem(c: &X509Certificate<'_>) -> Option<String> {
    match c.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() > 2048 => Some(format!(
            "RSA {}-bit key; a REGIONAL custom domain serves RSA keys of 2048 bits",
            rsa.key_size()
        )),
        Ok(PublicKey::EC(_)) if curve_name(c) == Ok("P-521") => Some(
            "ECDSA P-521 key; a REGIONAL custom domain serves ECDSA P-256 or P-384".to_string(),
        ),
        _ => None,
    }
}

/// A truststore file that could not be read as one (not PEM, other blocks, too large),
/// as a finding; `None` for any other error (a missing file, a private key in it).
/// `der` is the file's bytes when it is binary, to name a DER certificate.
pub fn truststore_unreadable(file: &str, error: &Error, der: Option<&[u8]>) -> Option<Finding> {
    match error {
        Error::BadTruststore { message, .. } => Some(Finding::new(
            &TRUSTSTORE_PEM,
            file,
            None,
            format!("not a PEM truststore: {message}"),
        )),
        Error::NotText { problem, .. } => {
            let named = der.and_then(|d| {
                x509_parser::parse_x509_certificate(d)
                    .ok()
                    .map(|(_, c)| named(&c, d))
            });
            Some(Finding::new(
                &TRUSTSTORE_PEM,
                file,
                named.as_ref(),
                format!("not a PEM truststore: {problem}"),
            ))
        }
        Error::FileTooLarge { limit, .. } => Some(Finding::new(
            &TRUSTSTORE_SIZE,
            file,
            None,
            format!("larger than {limit} bytes; API Gateway takes truststores up to 1 MiB"),
        )),
        _ => None,
    }
}

/// The files of an ACM import: the certificate (first block of its file), its key and
/// chain when given.
pub struct AcmFiles<'a> {
    /// The certificate's file, as given.
    pub cert_file: &'a str,
    /// The certificate.
    pub cert: &'a ParsedCert,
    /// The key's file and text.
    pub key: Option<(&'a str, &'a SecretPem)>,
    /// The chain's file and certificates, issuer first.
    pub chain: Option<(&'a str, &'a [ParsedCert])>,
}

/// ACM's import rules: the certificate passes [`certificate`]; the key is unencrypted,
/// of a type and size ACM takes, and the certificate's; the chain goes up from the
/// certificate's issuer, each certificate certifying the one before, CAs only.
pub fn acm_import(files: &AcmFiles<'_>) -> Result<Vec<Finding>, Error> {
    let AcmFiles {
        cert_file, cert, ..
    } = *files;
    let leaf = parse(cert)?;
    let leaf_name = named(&leaf, &cert.der);
    let mut out = certificate(cert_file, cert)?;
    if let Some(problem) = regional_server_key_problem(&leaf) {
        out.push(Finding::new(
            &ACM_SERVER_KEY,
            cert_file,
            Some(&leaf_name),
            problem,
        ));
    }
    if let Some((key_file, key)) = files.key {
        if key.len() > 5120 {
            out.push(Finding::new(
                &ACM_KEY_UNUSABLE,
                key_file,
                Some(&leaf_name),
                format!(
                    "{key_file} is {} bytes; ACM accepts keys up to 5120 bytes",
                    key.len()
                ),
            ));
        }
        match super::parse_key_pem(key_file, key) {
            Ok(k) => {
                if cert.spki_der()? != k.subject_public_key_info() {
                    out.push(Finding::new(
                        &ACM_KEY_MISMATCH,
                        key_file,
                        Some(&leaf_name),
                        format!("{key_file} does not belong to {cert_file}"),
                    ));
                }
            }
            Err(e) => out.push(Finding::new(
                &ACM_KEY_UNUSABLE,
                key_file,
                Some(&leaf_name),
                e.to_string(),
            )),
        }
    }
    if let Some((chain_file, chain)) = files.chain {
        let mut child = cert;
        for (i, ca) in chain.iter().enumerate() {
            let c = parse(ca)?;
            let n = named(&c, &ca.der);
            let ca_cert = is_ca(&c);
            if ca.der == cert.der {
                out.push(Finding::new(
                    &ACM_CHAIN_END_ENTITY,
                    chain_file,
                    Some(&n),
                    format!("{chain_file} contains the end-entity certificate {cert_file}; ACM wants only its issuers"),
                ));
            } else if !ca_cert {
                out.push(Finding::new(
                    &ACM_CHAIN_END_ENTITY,
                    chain_file,
                    Some(&n),
                    format!("certificate {} of {chain_file} is an end-entity certificate (not a CA); ACM wants only the issuers of {cert_file}", i + 1),
                ));
            } else if !child.is_issued_by(ca) {
                out.push(Finding::new(
                    &ACM_CHAIN_ORDER,
                    chain_file,
                    Some(&n),
                    format!("certificate {} of {chain_file} did not issue the one before it: the chain must go from the issuer of {cert_file} up towards the root, in that order", i + 1),
                ));
            }
            // Certificate i of the chain has i CAs of the chain under it.
            if ca_cert {
                if let Some(problem) = key_cert_sign_problem(&c) {
                    out.push(Finding::new(
                        &CA_KEY_CERT_SIGN,
                        chain_file,
                        Some(&n),
                        problem,
                    ));
                }
                if let Some(problem) = path_len_problem(&c, i) {
                    out.push(Finding::new(&CA_PATH_LEN, chain_file, Some(&n), problem));
                }
            }
            child = ca;
        }
    }
    Ok(out)
}

/// The certificate's subjectAltNames cover `domain` (a DNS name, `*.` wildcards matching
/// one label, or an IP address).
pub fn domain(file: &str, cert: &ParsedCert, domain: &str) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let wanted = domain.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<std::net::IpAddr> = wanted.parse().ok();
    let mut names = Vec::new();
    let mut covered = false;
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    covered |= dns_matches(&d, &wanted);
                    names.push(format!("DNS:{d}"));
                }
                GeneralName::IPAddress(bytes) => {
                    let theirs = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    covered |= ip.is_some() && theirs == ip;
                    if let Some(t) = theirs {
                        names.push(format!("IP:{t}"));
                    }
                }
                _ => {}
            }
        }
    }
    if covered {
        return Ok(Vec::new());
    }
    let names = if names.is_empty() {
        "it has no DNS or IP subjectAltName".to_string()
    } else {
        format!("its names are {}", names.join(", "))
    };
    Ok(vec![Finding::new(
        &DOMAIN_NOT_COVERED,
        file,
        Some(&named(&c, &cert.der)),
        format!("no subjectAltName covers {wanted}: {names}"),
    )])
}

fn dns_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(base), Some((label, rest))) => !label.is_empty() && base == rest,
        _ => false,
    }
}

/// The revocation rules for `cert` against the lists of `crl_file`: the list of its
/// issuer is there, signed by a CA of `cas`, not expired, and does not name it.
pub fn revocation(
    crl_file: &str,
    lists: &[super::Crl],
    cert_file: &str,
    cert: &ParsedCert,
    cas: &[ParsedCert],
) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let n = named(&c, &cert.der);
    let Some(list) = lists.iter().find(|l| l.covers_issuer(c.issuer().as_raw())) else {
        let issuers: Vec<&str> = lists.iter().map(|l| l.issuer.as_str()).collect();
        return Ok(vec![Finding::new(
            &CRL_ISSUER,
            crl_file,
            Some(&n),
            format!(
                "it holds the list of {}; the certificate was issued by {}",
                issuers.join(" and "),
                c.issuer()
            ),
        )]);
    };
    let about_list = Named {
        subject: list.issuer.clone(),
        sha256: super::sha256_fingerprint(&list.der),
    };
    let mut out = Vec::new();
    if let Err(problem) = list.signer_among(cas) {
        out.push(Finding::new(
            &CRL_SIGNATURE,
            crl_file,
            Some(&about_list),
            problem,
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(next) = list.next_update.filter(|_| list.expired_at(now)) {
        out.push(Finding::new(
            &CRL_EXPIRED,
            crl_file,
            Some(&about_list),
            format!("its next update was {}", super::rfc3339(next)),
        ));
    }
    if list.issued_after(now) {
        out.push(Finding::new(
            &CRL_EXPIRED,
            crl_file,
            Some(&about_list),
            format!(
                "it says it was issued on {}, in the future: a client would refuse it as not yet valid",
                super::rfc3339(list.this_update)
            ),
        ));
    }
    if let Some(r) = list.find(c.raw_serial()) {
        out.push(Finding::new(
            &CRL_REVOKED,
            cert_file,
            Some(&n),
            format!(
                "serial {} was revoked on {} ({}) in list number {} of {}",
                r.serial_hex(),
                super::rfc3339(r.at),
                r.reason.name(),
                list.number,
                crl_file
            ),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate made by rcgen: `ca` or not, valid `days` around now (negative: in the
    /// past), signed by `issuer` (self-signed without), with its key.
    struct Made {
        cert: ParsedCert,
        params: rcgen::CertificateParams,
        key: rcgen::KeyPair,
    }

    fn make(cn: &str, ca: bool, days: (i64, i64), issuer: Option<&Made>) -> Made {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec![format!("{}.example", cn.replace(' ', "-"))])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + time::Duration::days(days.0);
        params.not_after = now + time::Duration::days(days.1);
        params.is_ca = if ca {
            rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained)
        } else {
            rcgen::IsCa::ExplicitNoCa
        };
        let cert = match issuer {
            Some(i) => params
                .signed_by(&key, &rcgen::Issuer::from_params(&i.params, &i.key))
                .unwrap(),
            None => params.self_signed(&key).unwrap(),
        };
        Made {
            cert: ParsedCert {
                der: cert.der().to_vec(),
            },
            params,
            key,
        }
    }

    const NOW: (i64, i64) = (-1, 30);

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.rule).collect()
    }

    fn store(certs: &[&Made]) -> Truststore {
        let pem: String = certs
            .iter()
            .map(|m| crate::pki::pem::encode_certificate(&m.cert.der))
            .collect();
        Truststore::from_pem("ts.pem", &pem).unwrap()
    }

    #[test]
    fn validity_rules_name_the_certificate() {
        let good = make("good", false, NOW, None);
        assert_eq!(
            ids(&certificate("c.pem", &good.cert).unwrap()),
            Vec::<&str>::new()
        );
        let old = make("old", false, (-30, -1), None);
        let found = certificate("old.pem", &old.cert).unwrap();
        assert_eq!(ids(&found), ["cert-expired"]);
        assert_eq!(found[0].subject.as_deref(), Some("CN=old"));
        assert_eq!(
            found[0].sha256.as_deref(),
            Some(&*crate::pki::sha256_fingerprint(&old.cert.der))
        );
        assert!(
            found[0].message.starts_with("not valid now (valid from"),
            "{}",
            found[0]
        );
        let new = make("new", false, (1, 30), None);
        assert_eq!(
            ids(&certificate("new.pem", &new.cert).unwrap()),
            ["cert-not-yet-valid"]
        );
        let day = std::time::Duration::from_secs(86400);
        assert_eq!(
            ids(&expiring("c.pem", &good.cert, 40 * day).unwrap()),
            ["cert-expiring"]
        );
        assert!(expiring("c.pem", &good.cert, 20 * day).unwrap().is_empty());
        assert_eq!(
            ids(&expiring("old.pem", &old.cert, day).unwrap()),
            ["cert-expired"]
        );
    }

    #[test]
    fn truststore_rules() {
        let root = make("root", true, NOW, None);
        let sub1 = make("sub1", true, NOW, Some(&root));
        let sub2 = make("sub2", true, NOW, Some(&sub1));
        let sub3 = make("sub3", true, NOW, Some(&sub2));
        let leaf = make("leaf", false, NOW, Some(&root));
        assert!(truststore("ts.pem", &store(&[&root, &sub1, &sub2]))
            .unwrap()
            .is_empty());
        let found = truststore("ts.pem", &store(&[&root, &leaf, &root])).unwrap();
        assert_eq!(ids(&found), ["truststore-not-ca", "truststore-duplicate"]);
        assert_eq!(found[0].subject.as_deref(), Some("CN=leaf"));
        assert_eq!(found[1].severity, Severity::Warning);
        let found = truststore("ts.pem", &store(&[&sub3, &root, &sub2, &sub1])).unwrap();
        assert_eq!(ids(&found), ["truststore-chain-length"]);
        assert_eq!(found[0].subject.as_deref(), Some("CN=sub3"));
        assert!(has_errors(&found));
    }

    #[test]
    fn acm_rules() {
        let root = make("root", true, NOW, None);
        let inca = make("inca", true, NOW, Some(&root));
        let server = make("server", false, NOW, Some(&inca));
        let other = make("other", false, NOW, Some(&inca));
        let key = |m: &Made| SecretPem::new(m.key.serialize_pem());
        let check = |k: &Made, chain: &[ParsedCert]| {
            let key = key(k);
            ids(&acm_import(&AcmFiles {
                cert_file: "server.pem",
                cert: &server.cert,
                key: Some(("server.key", &key)),
                chain: Some(("chain.pem", chain)),
            })
            .unwrap())
        };
        let (r, i, s, o) = (&root.cert, &inca.cert, &server.cert, &other.cert);
        assert!(check(&server, &[i.clone(), r.clone()]).is_empty());
        assert_eq!(check(&other, std::slice::from_ref(i)), ["acm-key-mismatch"]);
        assert_eq!(
            check(&server, &[r.clone(), i.clone()]),
            ["acm-chain-order", "acm-chain-order"]
        );
        assert_eq!(
            check(&server, &[s.clone(), i.clone()]),
            ["acm-chain-end-entity"]
        );
        assert_eq!(
            check(&server, &[i.clone(), o.clone()]),
            ["acm-chain-end-entity"]
        );
        let unusable = SecretPem::new(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .into(),
        );
        let found = acm_import(&AcmFiles {
            cert_file: "server.pem",
            cert: &server.cert,
            key: Some(("server.key", &unusable)),
            chain: None,
        })
        .unwrap();
        assert_eq!(ids(&found), ["acm-key-unusable"]);
        assert!(found[0].message.contains("encrypted"), "{}", found[0]);
        assert_eq!(found[0].subject.as_deref(), Some("CN=server"));
        assert!(domain("s.pem", &server.cert, "server.example")
            .unwrap()
            .is_empty());
        assert!(domain("s.pem", &server.cert, "SERVER.example.")
            .unwrap()
            .is_empty());
        assert_eq!(
            ids(&domain("s.pem", &server.cert, "api.example").unwrap()),
            ["domain-not-covered"]
        );
    }

    #[test]
    fn a_ca_issues_within_its_path_length_and_only_with_key_cert_sign() {
        let mut limited = make("limited", true, NOW, None);
        limited.params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(1));
        limited.params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let der = limited
            .params
            .self_signed(&limited.key)
            .unwrap()
            .der()
            .to_vec();
        assert_eq!(cannot_issue(&der, 0), None);
        assert_eq!(cannot_issue(&der, 1), None);
        let two = cannot_issue(&der, 2).unwrap();
        assert!(two.contains("pathLenConstraint is 1"), "{two}");
        limited.params.key_usages = vec![rcgen::KeyUsagePurpose::CrlSign];
        let der = limited
            .params
            .self_signed(&limited.key)
            .unwrap()
            .der()
            .to_vec();
        let usage = cannot_issue(&der, 0).unwrap();
        assert!(usage.contains("keyCertSign"), "{usage}");
        let leaf = make("leaf", false, NOW, None);
        let not_ca = cannot_issue(&leaf.cert.der, 0).unwrap();
        assert!(not_ca.contains("not a CA"), "{not_ca}");
    }

    #[test]
    fn rule_ids_are_unique_and_findings_use_known_ids() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(RULES[..i].iter().all(|o| o.id != r.id), "{} twice", r.id);
            assert!(r
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()));
        }
        assert_eq!(CERT_V3.severity, Severity::Error);
        assert_eq!(TRUSTSTORE_DUPLICATE.severity, Severity::Warning);
    }

    #[test]
    fn windows_parse_days_and_hours() {
        assert_eq!(
            parse_window("30d"),
            Ok(std::time::Duration::from_secs(30 * 86400))
        );
        assert_eq!(
            parse_window("12h"),
            Ok(std::time::Duration::from_secs(12 * 3600))
        );
        for bad in ["30", "d", "-1d", "3w", "", "1.5d", "99999999999999999d"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_match_one_label() {
        assert!(dns_matches("api.example.com", "api.example.com"));
        assert!(dns_matches("*.example.com", "api.example.com"));
        assert!(!dns_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_matches("*.example.com", "example.com"));
        assert!(!dns_matches("api.example.com", "www.example.com"));
    }
}

/// Tests that kill what cargo-mutants found unchecked (tests/README.md, "Mutation testing").
#[cfg(test)]
mod mutants_tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};

    /// Certificates rcgen cannot make (it generates no RSA key under 2048 bits and no
    /// curve ACM refuses), made once with `openssl req -x509 -newkey ... -days 36500
    /// -sha256 -nodes`: RSA 1024, EC secp224r1 (224 bits), EC secp256k1 (256 bits, a
    /// curve ACM does not import). Valid until 2126.
    const RSA_1024: &str = "-----BEGIN CERTIFICATE-----
MIICAjCCAWugAwIBAgIUYp0cdnSNDehHOg1kpigpsChTHnowDQYJKoZIhvcNAQEL
BQAwEjEQMA4GA1UEAwwHcnNhMTAyNDAgFw0yNjEyMDIyMjQ0NDRaGA8yMTI2MTEw
ODIyNDQ0NFowEjEQMA4GA1UEAwwHcnNhMTAyNDCBnzANBgkqhkiG9w0BAQEFAAOB
jQAwgYkCgYEA0HdPLVV42P8nahVIyNzIDU6ysNp6eLDn+A01KGIFwj5a8SQUdQKS
MndIgqESr8/BV8Nsf+MBZnVAoP7bMDzMrurp2gnvycYdhKZwuptLmUuKLwe7Xs+o
cRZvTBWjxLGLC3lLvme4gsOaKa8IcUxwf98jM2q7SOCiinYkndaHsxUCAwEAAaNT
MFEwHQYDVR0OBBYEFAM1ElInjWdiAyitE9dGMXUElgrOMB8GA1UdIwQYMBaAFAM1
ElInjWdiAyitE9dGMXUElgrOMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQEL
BQADgYEAv37zhoSJeg7SrI4Ux6Eypa485uNoDxmTABRiE9Sut2qUQVTSibLLdWk2
RQ0zmiwl2E2Rlb/rwbBxLWaxCmcqO9NBZ619fhcuJrUq16DMQyL8nM0abobhnsOy
NXvV6+i0XYPeqaKI+eOU8lYbSST6NlZCjC4/GMr6V9xW5w+CeA0=
-----END CERTIFICATE-----
";
    const EC_P224: &str = "-----BEGIN CERTIFICATE-----
MIIBYjCCARCgAwIBAgIUf9MHcvbParcGUV9yYDHLDBgn4hswCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEcDIyNDAgFw0yNjEyMDIyMjQ0NDRaGA8yMTI2MTEwODIyNDQ0
NFowDzENMAsGA1UEAwwEcDIyNDBOMBAGByqGSM49AgEGBSuBBAAhAzoABGv3tkvL
P+6GDYdL9aXGzv8mfuWXb8k4dUQdfI2M3XSMMZwzs28/DvwLnEEGsSyZUiIpp2bE
K/X1o1MwUTAdBgNVHQ4EFgQU/GGFgdIjUgM16HBMaA0D7OP5m9gwHwYDVR0jBBgw
FoAU/GGFgdIjUgM16HBMaA0D7OP5m9gwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjO
PQQDAgNAADA9AhwRKMjV29Wars0QmKQ7DpF9zSjrv3aOxX1PlcrcAh0AhhLUFtbI
Dq5Vgm25Fgc4OE8IJ2+fd9LvhhwlcQ==
-----END CERTIFICATE-----
";
    const EC_SECP256K1: &str = "-----BEGIN CERTIFICATE-----
MIIBcjCCARigAwIBAgIULUldTyBO+6CKtv+nmf83XzrHGtcwCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEazI1NjAgFw0yNjEyMDIyMjQ0NDRaGA8yMTI2MTEwODIyNDQ0
NFowDzENMAsGA1UEAwwEazI1NjBWMBAGByqGSM49AgEGBSuBBAAKA0IABB2qWgWl
dHONZ56ytyWyTu9IxLYQfFjLm0XNamdkMoBXXZl7RkTKkCR6rplFw0fX8TSRHe78
gexXkh5gyT/eO+GjUzBRMB0GA1UdDgQWBBTD8bcFCANi2w6p/KjZhI2aDfOssDAf
BgNVHSMEGDAWgBTD8bcFCANi2w6p/KjZhI2aDfOssDAPBgNVHRMBAf8EBTADAQH/
MAoGCCqGSM49BAMCA0gAMEUCIQDmQsO3rd5yCWIBd/p1XZVdoA+qSsECDmWJ1fej
tiVZkgIgVx0Q42HKuLDLzkrFjy1WxuEw0GWuW0A+9F/Y6i2gUV8=
-----END CERTIFICATE-----
";

    /// A certificate issued by rcgen, with what it takes to issue from it.
    struct Issued {
        cert: ParsedCert,
        params: CertificateParams,
        key: KeyPair,
    }

    /// `cn` with `key`, valid from yesterday for 30 days, shaped by `edit` (CA, SANs, ...),
    /// signed by `issuer` (self-signed without).
    fn issue(
        cn: &str,
        key: KeyPair,
        edit: impl FnOnce(&mut CertificateParams),
        issuer: Option<&Issued>,
    ) -> Issued {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, cn);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(30);
        edit(&mut params);
        let cert = match issuer {
            Some(i) => params.signed_by(&key, &rcgen::Issuer::from_params(&i.params, &i.key)),
            None => params.self_signed(&key),
        }
        .unwrap();
        Issued {
            cert: ParsedCert {
                der: cert.der().to_vec(),
            },
            params,
            key,
        }
    }

    fn p256() -> KeyPair {
        KeyPair::generate().unwrap()
    }

    fn rsa(size: rcgen::RsaKeySize) -> KeyPair {
        KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, size).unwrap()
    }

    fn ec(alg: &'static rcgen::SignatureAlgorithm) -> KeyPair {
        KeyPair::generate_for(alg).unwrap()
    }

    fn ca(limit: BasicConstraints) -> impl FnOnce(&mut CertificateParams) {
        move |p| p.is_ca = IsCa::Ca(limit)
    }

    fn ids(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.rule).collect()
    }

    fn store(certs: &[&Issued]) -> Truststore {
        let pem: String = certs
            .iter()
            .map(|i| crate::pki::pem::encode_certificate(&i.cert.der))
            .collect();
        Truststore::from_pem("ts.pem", &pem).unwrap()
    }

    fn fixture(pem: &str) -> ParsedCert {
        ParsedCert::from_pem("fixture.pem", pem).unwrap()
    }

    #[test]
    fn a_finding_prints_as_one_line_naming_its_certificate() {
        let finding = Finding {
            rule: "cert-expired",
            severity: Severity::Error,
            file: "server.pem".into(),
            subject: Some("CN=api".into()),
            sha256: Some("AB:CD:EF:01:23".into()),
            message: "it has expired".into(),
            fix: "renew it",
        };
        assert_eq!(
            finding.to_string(),
            "error[cert-expired] server.pem: CN=api (SHA-256 AB:CD:EF:01...): it has expired; renew it"
        );
        let unnamed = Finding {
            sha256: None,
            ..finding.clone()
        };
        assert_eq!(unnamed.certificate(), "CN=api");
        let whole_file = Finding {
            subject: None,
            sha256: None,
            ..finding
        };
        assert_eq!(whole_file.certificate(), "-");
        assert_eq!(format!("{:>8}", Severity::Warning), " warning");
    }

    #[test]
    fn warnings_alone_are_not_errors() {
        assert!(!has_errors(&[]));
        let root = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
        let found = truststore("ts.pem", &store(&[&root, &root])).unwrap();
        assert_eq!(ids(&found), ["truststore-duplicate"]);
        assert!(!has_errors(&found));
    }

    /// ACM user guide, import-certificate-prerequisites: RSA 2048+ and EC P-256/P-384/P-521.
    #[test]
    fn key_sizes_and_curves_at_each_side_of_the_limits() {
        for (pem, rule) in [
            (RSA_1024, "cert-key"),
            (EC_P224, "cert-key"),
            (EC_SECP256K1, "cert-curve"),
        ] {
            let found = certificate("f.pem", &fixture(pem)).unwrap();
            assert_eq!(ids(&found), [rule], "{found:?}");
        }
        for key in [
            rsa(rcgen::RsaKeySize::_2048),
            rsa(rcgen::RsaKeySize::_3072),
            ec(&rcgen::PKCS_ECDSA_P384_SHA384),
            ec(&rcgen::PKCS_ECDSA_P521_SHA512),
        ] {
            let made = issue("ok", key, |_| {}, None);
            assert_eq!(certificate("ok.pem", &made.cert).unwrap(), []);
        }
    }

    /// API Gateway developer guide, how-to-specify-certificate-for-custom-domain-name: a
    /// REGIONAL custom domain serves RSA 2048, ECDSA P-256 or P-384 (the `acm-server-key`
    /// rule).
    #[test]
    fn a_regional_server_takes_rsa_2048_p256_and_p384_only() {
        let server_key = |key: KeyPair| {
            let made = issue("server", key, |_| {}, None);
            ids(&acm_import(&AcmFiles {
                cert_file: "server.pem",
                cert: &made.cert,
                key: None,
                chain: None,
            })
            .unwrap())
        };
        assert!(server_key(rsa(rcgen::RsaKeySize::_2048)).is_empty());
        assert!(server_key(ec(&rcgen::PKCS_ECDSA_P384_SHA384)).is_empty());
        assert_eq!(
            server_key(rsa(rcgen::RsaKeySize::_3072)),
            ["acm-server-key"]
        );
        assert_eq!(
            server_key(ec(&rcgen::PKCS_ECDSA_P521_SHA512)),
            ["acm-server-key"]
        );
    }

    /// ACM user guide, import-certificate-prerequisites: the private key is 5 KB (5,120
    /// bytes) at most. Trailing newlines keep the key readable and set its length.
    #[test]
    fn a_key_of_5120_bytes_is_imported_and_one_more_is_not() {
        let server = issue("server", p256(), |_| {}, None);
        let padded = |len: usize| {
            let pem = server.key.serialize_pem();
            SecretPem::new(format!("{pem}{}", "\n".repeat(len - pem.len())))
        };
        for (len, expected) in [(5120, vec![]), (5121, vec!["acm-key-unusable"])] {
            let key = padded(len);
            assert_eq!(key.len(), len);
            let found = acm_import(&AcmFiles {
                cert_file: "server.pem",
                cert: &server.cert,
                key: Some(("server.key", &key)),
                chain: None,
            })
            .unwrap();
            assert_eq!(ids(&found), expected, "{len} bytes");
        }
    }

    #[test]
    fn windows_end_at_1000_years_and_are_described_in_days_or_hours() {
        let day = std::time::Duration::from_secs(86400);
        assert_eq!(parse_window("365000d"), Ok(365_000 * day));
        assert!(parse_window("365001d").is_err());
        assert_eq!(describe_window(30 * day), "30 days");
        assert_eq!(describe_window(day / 2), "12 hours");
        assert_eq!(describe_window(day * 3 / 2), "36 hours");
    }

    /// API Gateway developer guide, rest-api-mutual-tls: the truststore holds the whole
    /// chain up to the root; a broken link is reported once, on the certificate above
    /// which the chain breaks.
    #[test]
    fn a_missing_issuer_and_a_wrong_signature_are_reported_on_the_certificate_below() {
        let root = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
        let sub1 = issue(
            "sub1",
            p256(),
            ca(BasicConstraints::Unconstrained),
            Some(&root),
        );
        let sub2 = issue(
            "sub2",
            p256(),
            ca(BasicConstraints::Unconstrained),
            Some(&sub1),
        );
        let found = truststore("ts.pem", &store(&[&sub1, &sub2])).unwrap();
        assert_eq!(ids(&found), ["truststore-root"]);
        assert_eq!(found[0].subject.as_deref(), Some("CN=sub1"));
        // Another root of the same name, whose key did not sign sub1.
        let impostor = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
        let found = truststore("ts.pem", &store(&[&impostor, &sub1, &sub2])).unwrap();
        assert_eq!(ids(&found), ["truststore-signature"]);
        assert_eq!(found[0].subject.as_deref(), Some("CN=sub1"));
    }

    /// RFC 5280 4.2.1.9: a CA with pathLenConstraint 0 may have no CA under it.
    #[test]
    fn a_path_length_broken_in_a_truststore_is_reported_once_on_the_limited_ca() {
        let root = issue("root", p256(), ca(BasicConstraints::Constrained(0)), None);
        let sub1 = issue(
            "sub1",
            p256(),
            ca(BasicConstraints::Unconstrained),
            Some(&root),
        );
        let sub2 = issue(
            "sub2",
            p256(),
            ca(BasicConstraints::Unconstrained),
            Some(&sub1),
        );
        let found = truststore("ts.pem", &store(&[&root, &sub1, &sub2])).unwrap();
        assert_eq!(ids(&found), ["ca-path-len"]);
        assert_eq!(found[0].subject.as_deref(), Some("CN=root"));
        assert!(
            found[0].message.ends_with("CN=sub1 is under it"),
            "{}",
            found[0]
        );
    }

    /// API Gateway developer guide, rest-api-mutual-tls: a truststore is 1 MiB at most.
    #[test]
    fn a_truststore_over_1_mib_is_reported() {
        // Long names make a large certificate, so few copies pass the limit.
        let names = (0..200)
            .map(|i| SanType::DnsName(format!("{i:0>50}.example.com").try_into().unwrap()))
            .collect();
        let big = issue(
            "big",
            p256(),
            |p| {
                p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                p.subject_alt_names = names;
            },
            None,
        );
        let copies = MAX_TRUSTSTORE_BYTES / big.cert.der.len() + 1;
        let found = truststore("ts.pem", &store(&vec![&big; copies])).unwrap();
        let last = found.last().unwrap();
        assert_eq!(last.rule, "truststore-size");
        assert!(last
            .message
            .ends_with("bytes; API Gateway takes truststores up to 1 MiB"));
    }

    /// API Gateway developer guide, rest-api-mutual-tls: up to 1 MiB, so exactly 1 MiB
    /// passes. Two copies of a root, each with zero bytes after its DER (a block of `3k`
    /// DER bytes is 54 bytes of armour, `4k` of base64 and a newline per 64 of them), make
    /// a store of exactly that size.
    #[test]
    fn a_truststore_of_exactly_1_mib_is_allowed() {
        let root = issue("root", p256(), ca(BasicConstraints::Unconstrained), None);
        let block = |k: usize| 54 + 4 * k + k.div_ceil(16);
        let smallest = root.cert.der.len().div_ceil(3);
        let (big, small) = (smallest..smallest + 64)
            .find_map(|small| {
                let rest = MAX_TRUSTSTORE_BYTES - block(small);
                let near = (rest - 54) * 16 / 65;
                (near - 16..near + 16)
                    .find(|&big| block(big) == rest)
                    .map(|big| (big, small))
            })
            .unwrap();
        let padded = |k: usize| {
            let mut der = root.cert.der.clone();
            der.resize(3 * k, 0);
            crate::pki::pem::encode_certificate(&der)
        };
        let store = Truststore::from_pem("ts.pem", &[padded(big), padded(small)].concat()).unwrap();
        assert_eq!(store.to_pem().len(), MAX_TRUSTSTORE_BYTES);
        let found = ids(&truststore("ts.pem", &store).unwrap());
        assert!(!found.contains(&"truststore-size"), "{found:?}");
    }

    #[test]
    fn an_unreadable_truststore_is_a_finding_only_when_it_is_not_one() {
        let path = "ts.pem".to_string();
        let not_pem = Error::BadTruststore {
            path: path.clone(),
            message: "a KEY block".into(),
        };
        let found = truststore_unreadable("ts.pem", &not_pem, None).unwrap();
        assert_eq!(
            (found.rule, found.message.as_str()),
            ("truststore-pem", "not a PEM truststore: a KEY block")
        );
        let der = fixture(RSA_1024).der;
        let binary = Error::NotText {
            path: path.clone(),
            problem: "it is binary",
        };
        let found = truststore_unreadable("ts.der", &binary, Some(&der)).unwrap();
        assert_eq!(
            (found.rule, found.subject.as_deref()),
            ("truststore-pem", Some("CN=rsa1024"))
        );
        let large = Error::FileTooLarge { path, limit: 7 };
        let found = truststore_unreadable("ts.pem", &large, None).unwrap();
        assert_eq!(found.rule, "truststore-size");
        assert!(found.message.starts_with("larger than 7 bytes"), "{found}");
        let other = Error::InvalidInput {
            problems: String::new(),
        };
        assert_eq!(truststore_unreadable("ts.pem", &other, None), None);
    }

    #[test]
    fn ip_address_names_cover_that_address_only() {
        let addresses = ["10.0.0.1", "2001:db8::1"].map(|a| a.parse().unwrap());
        let server = issue(
            "server",
            p256(),
            |p| p.subject_alt_names = addresses.map(SanType::IpAddress).to_vec(),
            None,
        );
        for covered in ["10.0.0.1", "2001:db8::1"] {
            assert_eq!(domain("s.pem", &server.cert, covered).unwrap(), []);
        }
        let found = domain("s.pem", &server.cert, "10.0.0.2").unwrap();
        assert_eq!(ids(&found), ["domain-not-covered"]);
        assert!(
            found[0]
                .message
                .ends_with("its names are IP:10.0.0.1, IP:2001:db8::1"),
            "{}",
            found[0]
        );
    }
}

//! The certificate rules AWS applies, as data: the [`Rule`] type, its [`Severity`], and one
//! constant per rule (its id, severity, scope, summary and fix). The checks beside this
//! file apply them; `RULES` lists them all for the tests.

use std::fmt;

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

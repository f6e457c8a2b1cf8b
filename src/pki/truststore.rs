//! The truststore API Gateway reads from S3: CA certificates in PEM, nothing else.
//!
//! A [`Truststore`] is made only by parsing, and what is uploaded is rebuilt from the
//! parsed certificates ([`Truststore::to_pem`]), never the file as it was read: whatever
//! else the file held (a private key appended by `cat`, comments) cannot reach S3.

use x509_parser::prelude::FromDer;

use super::pem;
use super::ParsedCert;
use crate::error::Error;

/// API Gateway's limit on a truststore file.
pub const MAX_TRUSTSTORE_BYTES: usize = 1024 * 1024;

/// The certificates of a truststore file, in order.
#[derive(Debug, Clone)]
pub struct Truststore {
    certs: Vec<ParsedCert>,
}

impl Truststore {
    /// Parses `text` strictly: only `CERTIFICATE` blocks and blank lines; at least one
    /// certificate. `path` names the file in errors.
    pub fn from_pem(path: &str, text: &str) -> Result<Truststore, Error> {
        let bad = |message: String| Error::BadTruststore {
            path: path.to_string(),
            message,
        };
        let blocks = pem::blocks(text).map_err(bad)?;
        let mut certs = Vec::new();
        for block in blocks {
            if pem::is_private_key_label(&block.label) {
                return Err(Error::PrivateKeyInPublicFile {
                    path: path.to_string(),
                    line: block.line,
                    label: block.label,
                });
            }
            if block.label != "CERTIFICATE" {
                return Err(bad(format!(
                    "line {}: a {} block; a truststore holds CERTIFICATE blocks only",
                    block.line, block.label
                )));
            }
            if let Err(e) = x509_parser::certificate::X509Certificate::from_der(&block.der) {
                return Err(bad(format!(
                    "line {}: the certificate does not parse ({e})",
                    block.line
                )));
            }
            certs.push(ParsedCert { der: block.der });
        }
        if certs.is_empty() {
            return Err(bad("it holds no certificate".to_string()));
        }
        Ok(Truststore { certs })
    }

    /// The certificates, in file order.
    pub fn certs(&self) -> &[ParsedCert] {
        &self.certs
    }

    /// The bytes to upload: each certificate re-encoded from its DER.
    pub fn to_pem(&self) -> String {
        self.certs
            .iter()
            .map(|c| pem::encode_certificate(&c.der))
            .collect::<Vec<_>>()
            .join("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert_pem() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["ca.example".to_string()]).unwrap();
        params.self_signed(&key).unwrap().pem()
    }

    #[test]
    fn rebuilds_only_the_certificates() {
        let one = cert_pem();
        let two = cert_pem();
        let store = Truststore::from_pem("t.pem", &format!("\n{one}\r\n{two}")).unwrap();
        assert_eq!(store.certs().len(), 2);
        let rebuilt = store.to_pem();
        assert_eq!(rebuilt.matches("BEGIN CERTIFICATE").count(), 2);
        let again = Truststore::from_pem("t.pem", &rebuilt).unwrap();
        assert_eq!(again.certs()[1].der, store.certs()[1].der);
    }

    #[test]
    fn refuses_keys_and_anything_else() {
        let cert = cert_pem();
        let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
        let case = |text: String, expected: &str| {
            let err = Truststore::from_pem("RootCA.pem", &text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err}");
        };
        case(
            format!("{cert}{key}"),
            "holds a private key (PRIVATE KEY at line",
        );
        case(
            format!("{cert}{}", key.replace("PRIVATE KEY", "EC PRIVATE KEY")),
            "EC PRIVATE KEY",
        );
        case(
            format!("{cert}-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"),
            "a X509 CRL block",
        );
        case(
            format!("subject=CN = x\n{cert}"),
            "line 1: text outside a PEM block",
        );
        case(String::new(), "holds no certificate");
        case(
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n".into(),
            "does not parse",
        );
    }
}

/// Tests that kill the mutants cargo-mutants found alive here (tests/README.md, "Mutation
/// testing").
#[cfg(test)]
mod mutants_tests {
    use super::*;

    #[test]
    fn the_size_limit_is_api_gateways() {
        // API Gateway developer guide, rest-api-mutual-tls ("Configuring mutual TLS for a
        // custom domain name"): a truststore file is at most 1 MB.
        assert_eq!(MAX_TRUSTSTORE_BYTES, 1_048_576);
    }
}

//! Reading the PEM files that the gateway and the probe are pointed at.
//!
//! Each loader takes the command-line option that named the file so that an error can say
//! "the --truststore file ..." instead of leaving the user to guess which of four paths was
//! wrong. Key material never appears in an error: only the path does.
//!
//! The files are read through [`crate::workdir`], as every file mtls reads: the folder that
//! holds a file is its boundary (a link out of it is refused), only regular files, capped
//! in size, and a key must be 0600. One reader, so no gap between a check and the read.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::{InconsistentKeys, RootCertStore};
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::GatewayError;
use crate::error::Error;
use crate::pki::SecretPem;
use crate::workdir;

/// The certificates file `path` (named by `option`), as bytes.
pub(crate) fn read_certs_file(option: &'static str, path: &Path) -> Result<Vec<u8>, GatewayError> {
    let (folder, name) = workdir::named_file(path).map_err(|e| unusable(option, path, e))?;
    folder
        .read_public_bytes(&name)
        .map_err(|e| unusable(option, path, e))
}

/// The key file `path` (named by `option`).
fn read_key_file(option: &'static str, path: &Path) -> Result<SecretPem, GatewayError> {
    let (folder, name) = workdir::named_file(path).map_err(|e| unusable(option, path, e))?;
    folder
        .read_secret(&name)
        .map_err(|e| unusable(option, path, e))
}

/// Why a named file cannot be read: a missing one as the gateway has always said it (with
/// the option that named it), any other refusal in the working folder's own words.
fn unusable(option: &'static str, path: &Path, e: Error) -> GatewayError {
    match e {
        Error::FileNotFound { .. } => GatewayError::ReadFile {
            option,
            path: path.to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        },
        other => GatewayError::UnusableFile {
            option,
            path: path.to_path_buf(),
            source: Box::new(other),
        },
    }
}

/// All certificates of a PEM file, in file order; at least one.
pub(crate) fn load_certs(
    option: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, GatewayError> {
    let bytes = read_certs_file(option, path)?;
    let mut certs = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        match item {
            Ok(cert) => {
                if let Err(e) = x509_parser::parse_x509_certificate(&cert) {
                    return Err(GatewayError::BadCertificate {
                        option,
                        path: path.to_path_buf(),
                        reason: format!("certificate #{}: {e}", certs.len() + 1),
                    });
                }
                certs.push(cert);
            }
            Err(pem::Error::NoItemsFound) => break,
            Err(e) => {
                return Err(GatewayError::BadCertificate {
                    option,
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        }
    }
    if certs.is_empty() {
        return Err(GatewayError::NoCertificate {
            option,
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The first private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn load_key(
    option: &'static str,
    path: &Path,
) -> Result<PrivateKeyDer<'static>, GatewayError> {
    let key = read_key_file(option, path)?;
    // Whatever is wrong with a key file, the answer is the same, and the details of a
    // malformed key block are not worth the risk of echoing a fragment of it.
    key.tls_key().ok_or_else(|| GatewayError::NoPrivateKey {
        option,
        path: path.to_path_buf(),
    })
}

/// A certificate chain bound to its private key, checked to belong together.
///
/// rustls itself lets a key pass when it cannot tell whether it matches; here an
/// undecidable match is an error too, because serving with the wrong key only fails later,
/// in every client's handshake, with a far less helpful message.
pub(crate) fn load_identity(
    provider: &CryptoProvider,
    cert_option: &'static str,
    cert_path: &Path,
    extra_chain: Option<(&'static str, &Path)>,
    key_option: &'static str,
    key_path: &Path,
) -> Result<Arc<CertifiedKey>, GatewayError> {
    let mut chain = load_certs(cert_option, cert_path)?;
    if let Some((chain_option, chain_path)) = extra_chain {
        chain.extend(load_certs(chain_option, chain_path)?);
    }
    let key = load_key(key_option, key_path)?;
    let signing_key =
        provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| GatewayError::UnsupportedKey {
                path: key_path.to_path_buf(),
                reason: e.to_string(),
            })?;
    let certified = CertifiedKey::new(chain, signing_key);
    match certified.keys_match() {
        Ok(()) => Ok(Arc::new(certified)),
        Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
            Err(GatewayError::KeyMismatch {
                cert: cert_path.to_path_buf(),
                key: key_path.to_path_buf(),
            })
        }
        Err(rustls::Error::InconsistentKeys(_)) => Err(GatewayError::UnsupportedKey {
            path: key_path.to_path_buf(),
            reason: "cannot check that it matches the certificate".to_string(),
        }),
        Err(e) => Err(GatewayError::BadCertificate {
            option: cert_option,
            path: cert_path.to_path_buf(),
            reason: e.to_string(),
        }),
    }
}

/// Every certificate of a PEM file as a trust anchor; at least one. The certificates are
/// returned too, for checks that need more of them than a trust anchor keeps.
pub(crate) fn load_roots(
    option: &'static str,
    path: &Path,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), GatewayError> {
    let certs = match load_certs(option, path) {
        Err(GatewayError::NoCertificate { option, path }) => {
            return Err(GatewayError::EmptyTruststore { option, path })
        }
        other => other?,
    };
    let mut roots = RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        roots
            .add(cert.clone())
            .map_err(|e| GatewayError::BadTrustAnchor {
                option,
                path: path.to_path_buf(),
                index: i + 1,
                reason: e.to_string(),
            })?;
    }
    Ok((roots, certs))
}

/// The subject of a DER certificate in RFC 4514 form, for logs and probe reports.
pub(crate) fn subject_of(der: &[u8]) -> String {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => cert.subject().to_string(),
        Err(_) => "<unparseable certificate>".to_string(),
    }
}

//! Keys and certificates: the private CA of the walkthrough (the walkthrough, steps 2-5).
//!
//! Generation is rcgen on aws-lc-rs; reading back is x509-parser. Nothing here touches the
//! file system: files go through [`crate::workdir`] and the effects boundary.

pub(crate) mod crl;
mod csr;
mod inspect;
mod key;
pub mod lint;
pub(crate) mod pem;
pub mod pkcs12;
mod profile;
mod secret;
mod subject;
mod truststore;

pub use crl::{Crl, NextCrl, Reason, Revoked, MAX_CRL_BYTES};
pub use csr::CsrRequest;
pub(crate) use inspect::{hex, rfc3339};
pub use inspect::{sha256_fingerprint, CertInfo, ParsedCert};
pub use key::{parse_key_pem, KeyAlgorithm};
pub use profile::{new_serial, prepare_issuer, CertSpec, IssuerMaterial, Profile};
pub use rcgen::KeyPair;
pub use secret::SecretPem;
pub use subject::Subject;
pub use truststore::{Truststore, MAX_TRUSTSTORE_BYTES};

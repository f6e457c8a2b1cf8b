//! Private key text, kept apart from every other kind of data by its type.
//!
//! A [`SecretPem`] is made only by reading a key file ([`crate::workdir::Workdir::read_secret`])
//! or by serialising a key mtls generated. It has no `Display`, its `Debug` shows only its
//! length, and its text leaves it in exactly four ways: parsed into a key (rcgen's key pair, or rustls's for the gateway and the probe), written to
//! a 0600 file, as the private key of ACM's `ImportCertificate`, and into a PKCS#12 key bag
//! (encrypted, then written 0600). Nothing else in the
//! code can take its bytes, so a key cannot end up in a truststore, a plan or a log by a
//! slip of the pen.
//!
//! The compiler enforces it: the bytes are handed only to a [`KeyDestination`], a sealed
//! trait whose three implementations are types with a private field, so only their own
//! modules (the key file writer in `workdir/write.rs`, ACM's import in `aws/acm.rs`, the PKCS#12
//! encoder in `pki/pkcs12.rs`) can make one.
//! (What the compiler cannot see, a key pair serialised again after [`SecretPem::key_pair`],
//! `tests/code_rules.rs` checks on the source.)

use std::fmt;

use rcgen::KeyPair;

/// The PEM text of a private key.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretPem {
    text: String,
}

impl SecretPem {
    /// Wraps key text read by other means (tests, embedders).
    pub fn new(text: String) -> Self {
        SecretPem { text }
    }

    /// The PEM of a key mtls holds in memory (to write it to its file).
    pub(crate) fn of_key_pair(key: &KeyPair) -> Self {
        SecretPem {
            text: key.serialize_pem(),
        }
    }

    /// The key pair; `Err` with rcgen's message when the text is not an unencrypted key
    /// it can use.
    pub(crate) fn key_pair(&self) -> Result<KeyPair, rcgen::Error> {
        KeyPair::from_pem(&self.text)
    }

    /// The key for a TLS server or client (`mtls serve`, `probe`): the first PEM private key
    /// (PKCS#8, PKCS#1 or SEC1), parsed; `None` when there is none or it is encrypted.
    pub(crate) fn tls_key(&self) -> Option<rustls_pki_types::PrivateKeyDer<'static>> {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::PrivateKeyDer::from_pem_slice(self.text.as_bytes()).ok()
    }

    /// The text, for the two places that may hold it: a 0600 file and ACM's
    /// `ImportCertificate` private key field (see [`KeyDestination`]).
    pub(crate) fn expose_to(&self, _destination: &impl KeyDestination) -> &[u8] {
        self.text.as_bytes()
    }

    /// The PEM block labels, for explaining why a file is not a usable key (never the
    /// key itself).
    pub(crate) fn labels(&self) -> Vec<String> {
        crate::pki::pem::labels(&self.text)
    }

    /// Whether the key is encrypted with a passphrase (PKCS#8 or the legacy OpenSSL header).
    pub(crate) fn is_encrypted(&self) -> bool {
        self.text.contains("ENCRYPTED PRIVATE KEY") || self.text.contains("Proc-Type: 4,ENCRYPTED")
    }

    /// Its length in bytes (ACM takes keys up to 5120 bytes).
    pub(crate) fn len(&self) -> usize {
        self.text.len()
    }

    /// The modulus size of an RSA key in the first PEM block, for saying why rcgen refused
    /// it (the key's DER itself never leaves this type).
    pub(crate) fn rsa_modulus_bits(&self) -> Option<usize> {
        let der = ::pem::parse(&self.text).ok()?.into_contents();
        super::key::rsa_modulus_bits(&der)
    }
}

/// Where a key's bytes may go. Sealed (its supertrait is private to this file) and
/// implemented only for the two places' capability types, each of which only its own module
/// can make: code anywhere else cannot compile a call to [`SecretPem::expose_to`].
pub trait KeyDestination: sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

impl sealed::Sealed for crate::workdir::KeyFileWriter {}
impl KeyDestination for crate::workdir::KeyFileWriter {}
impl sealed::Sealed for crate::aws::acm::AcmPrivateKeyField {}
impl KeyDestination for crate::aws::acm::AcmPrivateKeyField {}
impl sealed::Sealed for super::pkcs12::Pkcs12Encoder {}
impl KeyDestination for super::pkcs12::Pkcs12Encoder {}

impl fmt::Debug for SecretPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretPem(<{} bytes, not shown>)", self.text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = KeyPair::generate().unwrap();
        let secret = SecretPem::of_key_pair(&key);
        let shown = format!("{secret:?}");
        assert!(!shown.contains("PRIVATE"), "{shown}");
        assert!(shown.contains("not shown"));
    }
}

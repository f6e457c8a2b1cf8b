//! PKCS#12 client bundles: a client's key, certificate and chain in one password-protected
//! file, for the clients that take nothing else (browsers, Postman, Java and Windows key
//! stores, curl's `--cert-type P12`).
//!
//! The encryption is what OpenSSL 3 writes by default (openssl-pkcs12(1), options `-keypbe`,
//! `-certpbe` and `-macalg`: "AES-256-CBC with PBKDF2 for encryption and SHA-256 for MAC"):
//! the key bag and the certificates each encrypted with PBES2 (PBKDF2 with HMAC-SHA256,
//! AES-256-CBC; RFC 8018), and the whole covered by an HMAC-SHA256 MAC (RFC 7292). The
//! encoding is p12-keystore's (pure Rust); nothing here touches the file system.

use std::fmt;

use p12_keystore::{
    Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, Pkcs12Archive,
    PrivateKey, PrivateKeyChain,
};

use super::SecretPem;
use crate::error::Error;

/// PBKDF2 iterations of the encryption and of the MAC's key. OpenSSL 3 uses 2048
/// (`PKCS12_DEFAULT_ITER`), current JDKs 10,000 (the `keystore.pkcs12.*IterationCount`
/// defaults of java.security): the larger, as p12-keystore does by default.
const ITERATIONS: u32 = 10_000;

/// The password of a bundle. Made only from the environment or a 0600 file (never a
/// `--var`); it has no `Display`, and its `Debug` shows nothing of it, so it cannot reach a
/// plan, a log or an error by a slip of the pen.
pub struct P12Password {
    text: String,
}

impl P12Password {
    /// The password in `text`: its first line, without the line break (as `openssl pkcs12
    /// -passin file:` reads one). `Err` says what is wrong with it, never what it is.
    pub fn new(text: &str) -> Result<Self, &'static str> {
        let line = text.lines().next().unwrap_or_default();
        if line.is_empty() {
            return Err("it is empty");
        }
        Ok(P12Password {
            text: line.to_string(),
        })
    }

    /// The password held in a 0600 file read as key text (`Workdir::read_secret`).
    pub(crate) fn from_secret_file(secret: &SecretPem) -> Result<Self, &'static str> {
        let bytes = secret.expose_to(&Pkcs12Encoder(()));
        let text = std::str::from_utf8(bytes).map_err(|_| "it is not UTF-8 text")?;
        P12Password::new(text)
    }
}

impl fmt::Debug for P12Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P12Password(<not shown>)")
    }
}

/// The capability to take a key's bytes into a PKCS#12 key bag, where they are encrypted
/// before they are written (0600): the private field means only this module can make one
/// (see [`super::KeyDestination`]).
pub struct Pkcs12Encoder(());

/// What a bundle holds: a key, its certificate, the CAs above it, and the name clients
/// show for it.
pub struct Bundle<'a> {
    /// The key file's name, for messages.
    pub key_path: &'a str,
    /// The key, as read from its file.
    pub key: &'a SecretPem,
    /// The certificate, DER.
    pub cert: &'a [u8],
    /// The issuing CAs, DER, nearest first.
    pub chain: &'a [Vec<u8>],
    /// The friendly name (the certificate's CN).
    pub name: &'a str,
}

impl Bundle<'_> {
    /// The PKCS#12 file (DER).
    pub fn encode(&self, password: &P12Password) -> Result<Vec<u8>, Error> {
        let failed = |e: p12_keystore::error::Error| Error::crypto("make a PKCS#12 bundle", e);
        let key = PrivateKey::from_der(&self.key_der()?).map_err(failed)?;
        let mut certs = vec![Certificate::from_der(self.cert).map_err(failed)?];
        for ca in self.chain {
            certs.push(Certificate::from_der(ca).map_err(failed)?);
        }
        let mut store = KeyStore::new();
        store.add_entry(
            self.name,
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(self.local_key_id(), key, certs)),
        );
        store
            .writer(&password.text)
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .encryption_iterations(ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .mac_iterations(ITERATIONS)
            .write()
            .map_err(failed)
    }

    /// Whether `p12` opens with `password` (its MAC checks out) and holds exactly this key
    /// under this name, this certificate and this chain. Any other file (another password,
    /// damaged, another key) is not this bundle: the caller writes it again.
    pub fn is_held_in(&self, p12: &[u8], password: &P12Password) -> Result<bool, Error> {
        let Ok(archive) = Pkcs12Archive::from_pkcs12(p12, &password.text) else {
            return Ok(false);
        };
        let key = self.key_der()?;
        let [held] = archive.keys.as_slice() else {
            return Ok(false);
        };
        let mut wanted: Vec<&[u8]> = std::iter::once(self.cert)
            .chain(self.chain.iter().map(Vec::as_slice))
            .collect();
        let mut found: Vec<&[u8]> = archive.certs.iter().map(|c| c.cert.as_der()).collect();
        wanted.sort();
        found.sort();
        Ok(held.key.as_der() == key.as_slice()
            && held.friendly_name.as_deref() == Some(self.name)
            && wanted == found)
    }

    /// The key as PKCS#8 DER, what a key bag holds (RFC 7292, "keyBag").
    fn key_der(&self) -> Result<Vec<u8>, Error> {
        let text = self.key.expose_to(&Pkcs12Encoder(()));
        let block = ::pem::parse(text).ok().filter(|b| b.tag() == "PRIVATE KEY");
        block.map(::pem::Pem::into_contents).ok_or_else(|| Error::BadKey {
            path: self.key_path.to_string(),
            message: "a PKCS#12 bundle holds a PKCS#8 key (-----BEGIN PRIVATE KEY-----), and this one is in another form".into(),
            help: format!("convert it: `openssl pkcs8 -topk8 -nocrypt -in {0} -out {0}.pk8`, then name {0}.pk8 (mtls makes PKCS#8 keys)", self.key_path),
        })
    }

    /// The localKeyId that ties the key bag to its certificate's bag: the certificate's
    /// SHA-256, so that the same pair always makes the same bags.
    fn local_key_id(&self) -> Vec<u8> {
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.cert)
            .as_ref()
            .to_vec()
    }
}

/// The CN of a certificate (DER), the friendly name of its bundle; `None` without one.
pub fn common_name(cert: &[u8]) -> Option<String> {
    let (_, x509) = x509_parser::parse_x509_certificate(cert).ok()?;
    let cn = x509.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(cn: &str) -> (SecretPem, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&key).unwrap();
        (SecretPem::of_key_pair(&key), cert.der().to_vec())
    }

    #[test]
    fn a_bundle_opens_with_its_password_only_and_holds_its_pair() {
        let (key, cert) = pair("dev-1");
        let password = P12Password::new("correct horse\n").unwrap();
        let bundle = Bundle {
            key_path: "dev-1.key",
            key: &key,
            cert: &cert,
            chain: &[],
            name: "dev-1",
        };
        let p12 = bundle.encode(&password).unwrap();
        assert!(bundle.is_held_in(&p12, &password).unwrap());
        let other = P12Password::new("correct horse battery").unwrap();
        assert!(!bundle.is_held_in(&p12, &other).unwrap());
        let (key2, cert2) = pair("dev-1");
        let another = Bundle {
            key: &key2,
            cert: &cert2,
            ..bundle
        };
        assert!(!another.is_held_in(&p12, &password).unwrap());
        assert_eq!(common_name(&cert).as_deref(), Some("dev-1"));
    }

    #[test]
    fn a_password_is_one_line_never_empty_never_shown() {
        assert!(P12Password::new("").is_err());
        assert!(P12Password::new("\nsecond line").is_err());
        let p = P12Password::new("s3cret\r\n").unwrap();
        assert_eq!(p.text, "s3cret");
        assert!(!format!("{p:?}").contains("s3cret"));
    }
}

//! Private keys: which algorithms mtls makes, generating them, reading them back.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use super::SecretPem;
use crate::error::Error;

/// A key algorithm that both ACM and API Gateway's truststore accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// RSA, 2048 bits (the walkthrough's client, intermediate and server keys).
    Rsa2048,
    /// RSA, 3072 bits.
    Rsa3072,
    /// RSA, 4096 bits (the walkthrough's root key).
    Rsa4096,
    /// ECDSA on P-256, signing with SHA-256.
    EcdsaP256,
    /// ECDSA on P-384, signing with SHA-384.
    EcdsaP384,
}

impl KeyAlgorithm {
    /// Every algorithm, in the order they are listed to users.
    pub const ALL: [KeyAlgorithm; 5] = [
        KeyAlgorithm::Rsa2048,
        KeyAlgorithm::Rsa3072,
        KeyAlgorithm::Rsa4096,
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
    ];

    /// The name scripts use.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "rsa2048",
            KeyAlgorithm::Rsa3072 => "rsa3072",
            KeyAlgorithm::Rsa4096 => "rsa4096",
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
        }
    }

    /// Whether this is an RSA key (leaf certificates then also get keyEncipherment).
    pub fn is_rsa(self) -> bool {
        matches!(
            self,
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096
        )
    }

    /// The signature algorithm certificates signed by this key use: SHA-256 or stronger,
    /// as API Gateway's truststore requires.
    pub fn signature_algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
                &rcgen::PKCS_RSA_SHA256
            }
            KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }

    /// Generates a new key. RSA 4096 takes about a second: callers that need several keys
    /// generate them on separate threads.
    pub fn generate(self) -> Result<KeyPair, Error> {
        let alg = self.signature_algorithm();
        let rsa = |size| KeyPair::generate_rsa_for(alg, size);
        match self {
            KeyAlgorithm::Rsa2048 => rsa(RsaKeySize::_2048),
            KeyAlgorithm::Rsa3072 => rsa(RsaKeySize::_3072),
            KeyAlgorithm::Rsa4096 => rsa(RsaKeySize::_4096),
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(alg),
        }
        .map_err(|e| Error::crypto(format!("generate a {self} key"), e))
    }

    /// The algorithm of an existing key, from its public half.
    pub fn of_key(key: &KeyPair) -> Option<KeyAlgorithm> {
        let spki = key.subject_public_key_info();
        let (_, info) = SubjectPublicKeyInfo::from_der(&spki).ok()?;
        match info.parsed().ok()? {
            PublicKey::RSA(rsa) => match rsa.key_size() {
                2048 => Some(KeyAlgorithm::Rsa2048),
                3072 => Some(KeyAlgorithm::Rsa3072),
                4096 => Some(KeyAlgorithm::Rsa4096),
                _ => None,
            },
            PublicKey::EC(ec) => match ec.key_size() {
                256 => Some(KeyAlgorithm::EcdsaP256),
                384 => Some(KeyAlgorithm::EcdsaP384),
                _ => None,
            },
            _ => None,
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;

    /// Accepts the names scripts use, case-insensitively, with a few common spellings
    /// (`rsa:2048`, `p256`, `ec-p384`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .to_ascii_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let alg = match norm.as_str() {
            "rsa2048" | "rsa" => KeyAlgorithm::Rsa2048,
            "rsa3072" => KeyAlgorithm::Rsa3072,
            "rsa4096" => KeyAlgorithm::Rsa4096,
            "ecdsap256" | "ecp256" | "p256" | "ecdsa" | "prime256v1" => KeyAlgorithm::EcdsaP256,
            "ecdsap384" | "ecp384" | "p384" | "secp384r1" => KeyAlgorithm::EcdsaP384,
            _ => {
                let names: Vec<_> = KeyAlgorithm::ALL.iter().map(|a| a.name()).collect();
                return Err(format!(
                    "unknown key algorithm {s:?}; use one of {}",
                    names.join(", ")
                ));
            }
        };
        Ok(alg)
    }
}

/// Reads a private key from PEM (PKCS#8, PKCS#1 or SEC1, unencrypted). When it cannot be
/// used, the error says why in terms of the file (encrypted, a certificate, too small).
pub fn parse_key_pem(path: &str, pem: &SecretPem) -> Result<KeyPair, Error> {
    let bad = |message: String, help: &str| Error::BadKey {
        path: path.to_string(),
        message,
        help: help.replace("FILE", path),
    };
    let key = match pem.key_pair() {
        Ok(key) => key,
        Err(e) => {
            let labels = pem.labels();
            let has = |l: &str| labels.iter().any(|x| x == l);
            let has_key = labels.iter().any(|l| super::pem::is_private_key_label(l));
            return Err(if pem.is_encrypted() {
                bad("it is encrypted with a passphrase".into(),
                    "mtls needs the key unencrypted (it stays 0600 on disk): `openssl pkey -in FILE -out FILE.plain`, then use FILE.plain")
            } else if labels.is_empty() {
                bad(
                    "it holds no PEM block".into(),
                    "a key file starts with -----BEGIN PRIVATE KEY-----; check the name",
                )
            } else if !has_key && has("CERTIFICATE") {
                bad("it holds a certificate, not a private key".into(),
                    "the key and certificate names may be swapped: the key is the file that says PRIVATE KEY")
            } else if !has_key && has("CERTIFICATE REQUEST") {
                bad(
                    "it holds a certificate signing request, not a private key".into(),
                    "give the key the request was made from",
                )
            } else if let Some(bits) = pem.rsa_modulus_bits().filter(|b| *b < 2048) {
                bad(format!("it is an RSA {bits}-bit key"),
                    "ACM and API Gateway need RSA 2048 bits or more (or ECDSA P-256/P-384): make a new key with --force")
            } else {
                bad(format!("it is not a private key mtls can use ({e})"),
                    "mtls reads unencrypted RSA (2048-4096) and ECDSA (P-256, P-384) keys in PKCS#8, PKCS#1 or SEC1 PEM")
            });
        }
    };
    if KeyAlgorithm::of_key(&key).is_none() {
        return Err(bad(
            "its type or size is not one mtls uses".into(),
            "use RSA 2048, 3072 or 4096, or ECDSA P-256 or P-384: make a new key with --force",
        ));
    }
    Ok(key)
}

/// The modulus size of an RSA private key in PKCS#8 or PKCS#1 DER.
pub(super) fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
    use x509_parser::der_parser::parse_der;
    let (_, obj) = parse_der(der).ok()?;
    let seq = obj.as_sequence().ok()?;
    // PKCS#8: version, algorithm, OCTET STRING holding the PKCS#1 key.
    if seq.len() == 3 || seq.len() == 4 {
        if let (Ok(_), Ok(inner)) = (seq[1].as_sequence(), seq[2].as_slice()) {
            return rsa_modulus_bits(inner);
        }
    }
    // PKCS#1: version, modulus, ...
    let modulus = seq.get(1)?.as_slice().ok()?;
    let digits: Vec<u8> = modulus.iter().copied().skip_while(|b| *b == 0).collect();
    let first = *digits.first()?;
    Some(digits.len() * 8 - first.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_spellings() {
        let case = |input: &str, expected: KeyAlgorithm| {
            assert_eq!(input.parse::<KeyAlgorithm>(), Ok(expected), "{input}");
        };
        case("rsa4096", KeyAlgorithm::Rsa4096);
        case("RSA:2048", KeyAlgorithm::Rsa2048);
        case("ecdsa-p256", KeyAlgorithm::EcdsaP256);
        case("P-384", KeyAlgorithm::EcdsaP384);
        assert!("dsa"
            .parse::<KeyAlgorithm>()
            .unwrap_err()
            .contains("rsa2048"));
    }

    #[test]
    fn generated_keys_report_their_algorithm() {
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Rsa2048,
        ] {
            let key = alg.generate().unwrap();
            assert_eq!(KeyAlgorithm::of_key(&key), Some(alg));
            let back = parse_key_pem("k", &SecretPem::of_key_pair(&key)).unwrap();
            assert_eq!(back.public_key_raw(), key.public_key_raw());
        }
    }
}

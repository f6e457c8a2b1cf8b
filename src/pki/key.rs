//! Private keys: which algorithms mtls makes, generating them, reading them back.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::error::Error;

/// A key algorithm that both ACM and API Gateway's truststore accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    EcdsaP256,
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

/// Reads a private key from PEM (PKCS#8, PKCS#1 or SEC1, unencrypted).
pub fn parse_key_pem(path: &str, pem: &str) -> Result<KeyPair, Error> {
    KeyPair::from_pem(pem).map_err(|e| Error::BadPem {
        path: path.to_string(),
        what: "private key",
        message: e.to_string(),
    })
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
            let back = parse_key_pem("k", &key.serialize_pem()).unwrap();
            assert_eq!(back.public_key_raw(), key.public_key_raw());
        }
    }
}

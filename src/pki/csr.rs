//! Certificate signing requests from devices that keep their own key (`sign_csr`): read,
//! checked (its self-signature, its key, what it asks for), and reduced to what the client
//! profile takes from it: the common name and DNS names.

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry as oids;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use super::inspect::signature_algorithm_name;
use super::lint::STRONG_SIGNATURES;
use super::{KeyAlgorithm, Subject};
use crate::error::Error;
use crate::inputs::{dns_name_problem, Wildcard};

/// The most names a request may ask for: the most ACM puts in one certificate (AWS
/// Certificate Manager user guide, "Quotas": up to 100 domain names per certificate). A
/// device needs a few; 10,000 names made a 257 KB certificate that every handshake carries.
pub const MAX_NAMES: usize = 100;

/// What a checked CSR asks for, as far as the client profile honours it.
#[derive(Debug, Clone)]
pub struct CsrRequest {
    /// `CN=<the request's common name>`.
    pub subject: Subject,
    /// The request's DNS names (subjectAltName), in its order.
    pub sans: Vec<String>,
    /// The key's algorithm.
    pub algorithm: KeyAlgorithm,
    /// The key, as the request holds it (subjectPublicKeyInfo DER).
    pub spki_der: Vec<u8>,
}

impl CsrRequest {
    /// Reads and checks a PEM request. `path` is only used in errors.
    pub fn from_pem(path: &str, pem: &str) -> Result<CsrRequest, Error> {
        let refuse = |problem: String, help: &str| Error::CsrRefused {
            path: path.to_string(),
            problem,
            help: help.to_string(),
        };
        let mut blocks = Pem::iter_from_buffer(pem.as_bytes())
            .filter_map(Result::ok)
            .filter(|p| p.label == "CERTIFICATE REQUEST" || p.label == "NEW CERTIFICATE REQUEST");
        let block = blocks.next().ok_or_else(|| {
            refuse(
                "it holds no CERTIFICATE REQUEST block".into(),
                "make the request with `openssl req -new -key device.key -out device.csr -subj /CN=device-1`",
            )
        })?;
        // Which request is signed must not depend on which one comes first.
        if blocks.next().is_some() {
            return Err(refuse(
                "it holds more than one CERTIFICATE REQUEST block".into(),
                "put each device's request in a file of its own and sign them one by one",
            ));
        }
        let (_, csr) = X509CertificationRequest::from_der(&block.contents).map_err(|e| {
            refuse(
                format!("it cannot be parsed ({e})"),
                "the file is damaged: make the request again",
            )
        })?;
        // The key first: a weak key is the better reason (and aws-lc does not verify RSA
        // signatures under 2048 bits at all).
        let info = &csr.certification_request_info;
        let spki = &info.subject_pki;
        let algorithm = key_algorithm(spki).map_err(|problem| {
            refuse(
                problem,
                "client keys must be RSA 2048, 3072 or 4096 bits, or ECDSA P-256 or P-384 (what API Gateway accepts): make a new key on the device",
            )
        })?;
        // Then the hash: a SHA-1 or SHA-224 request would otherwise read as "altered".
        let signature = signature_algorithm_name(&csr.signature_algorithm);
        if !STRONG_SIGNATURES.contains(&signature.as_str()) {
            return Err(refuse(
                format!("it is signed with {signature}; SHA-256 or stronger is required"),
                "make the request again with SHA-256: `openssl req -new -sha256 -key device.key -out device.csr -subj /CN=device-1`",
            ));
        }
        csr.verify_signature().map_err(|_| {
            refuse(
                "its signature does not verify: it was altered after it was signed, or not signed with the key it holds".into(),
                "make the request again on the device, with its own key",
            )
        })?;

        let mut sans = Vec::new();
        for ext in csr.requested_extensions().into_iter().flatten() {
            match ext {
                ParsedExtension::BasicConstraints(bc) if bc.ca => {
                    return Err(refuse(
                        "it asks to be a CA (basicConstraints CA:TRUE)".into(),
                        "sign_csr issues client certificates only; a device request must not ask for CA:TRUE",
                    ))
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    if sans.len() + san.general_names.len() > MAX_NAMES {
                        return Err(refuse(
                            format!(
                                "it asks for {} names; a client certificate takes at most {MAX_NAMES}",
                                sans.len() + san.general_names.len()
                            ),
                            "a device needs a few names: make the request with fewer",
                        ));
                    }
                    for name in &san.general_names {
                        match name {
                            GeneralName::DNSName(d) => {
                                if let Some(problem) = dns_name_problem(d, Wildcard::Allowed) {
                                    return Err(refuse(
                                        format!("its DNS name {d:?} is not valid: {problem}"),
                                        "fix the subjectAltName of the request",
                                    ));
                                }
                                sans.push(d.to_string());
                            }
                            other => {
                                return Err(refuse(
                                    format!("it asks for the name {other}, and client certificates carry DNS names only"),
                                    "make the request with DNS names only (or none)",
                                ))
                            }
                        }
                    }
                }
                // Key usages and other requested extensions are not honoured: the client
                // profile decides them.
                _ => {}
            }
        }

        let cn = info
            .subject
            .iter_common_name()
            .next()
            .map(|a| {
                a.as_str().map(str::to_string).map_err(|_| {
                    refuse(
                        "its common name is not a text string".into(),
                        "use a UTF-8 or printable CN",
                    )
                })
            })
            .transpose()?
            .ok_or_else(|| {
                refuse(
                    "it has no common name (CN)".into(),
                    "make the request with -subj /CN=<device name>",
                )
            })?;
        let subject = Subject::from_pairs([("CN", cn)])
            .map_err(|m| refuse(format!("its subject: {m}"), "fix the request's CN"))?;
        Ok(CsrRequest {
            subject,
            sans,
            algorithm,
            spki_der: spki.raw.to_vec(),
        })
    }

    /// The key, for signing.
    pub fn public_key(&self) -> Result<rcgen::SubjectPublicKeyInfo, Error> {
        rcgen::SubjectPublicKeyInfo::from_der(&self.spki_der)
            .map_err(|e| Error::crypto("read the request's key", e))
    }
}

/// The algorithm of the request's key, or why it is refused.
fn key_algorithm(
    spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> Result<KeyAlgorithm, String> {
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => match rsa.key_size() {
            2048 => Ok(KeyAlgorithm::Rsa2048),
            3072 => Ok(KeyAlgorithm::Rsa3072),
            4096 => Ok(KeyAlgorithm::Rsa4096),
            bits if bits < 2048 => Err(format!("its RSA key has {bits} bits, fewer than 2048")),
            bits => Err(format!("its RSA key has {bits} bits")),
        },
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(c) if c == oids::OID_EC_P256 => Ok(KeyAlgorithm::EcdsaP256),
                Some(c) if c == oids::OID_NIST_EC_P384 => Ok(KeyAlgorithm::EcdsaP384),
                Some(c) => Err(format!(
                    "its EC key is on the curve {}, not P-256 or P-384",
                    c.to_id_string()
                )),
                None => Err("its EC key names no curve".into()),
            }
        }
        Ok(_) => Err(format!(
            "its key type ({}) is not RSA or ECDSA",
            spki.algorithm.algorithm.to_id_string()
        )),
        Err(e) => Err(format!("its key cannot be read ({e})")),
    }
}

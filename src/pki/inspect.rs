//! Reading certificates back: what `inspect_cert` shows scripts, and the checks mtls makes
//! before it reuses a file (does the key match, was it issued by this CA).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::pem::Pem;
use x509_parser::public_key::PublicKey;

use crate::error::Error;

/// The facts of one certificate, as scripts and summaries show them.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CertInfo {
    /// The subject, as `C=JP, ST=Tokyo, O=Example, CN=...`.
    pub subject: String,
    /// The issuer, in the same form.
    pub issuer: String,
    /// Hex, colon-separated, as `openssl x509 -serial` shows it (without the colons).
    pub serial: String,
    /// Start of validity, RFC 3339.
    pub not_before: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// `RSA 2048`, `ECDSA P-256`.
    pub key_algorithm: String,
    /// The signature algorithm (`sha256WithRSAEncryption`).
    pub signature_algorithm: String,
    /// 3 for X.509 v3.
    pub version: u32,
    /// Whether basicConstraints says CA.
    pub is_ca: bool,
    /// The CA's pathLenConstraint, when it has one.
    pub path_len: Option<u32>,
    /// keyUsage bits, by name (`digitalSignature`, `keyCertSign`, ...).
    pub key_usage: Vec<String>,
    /// extendedKeyUsage purposes (`serverAuth`, `clientAuth`).
    pub extended_key_usage: Vec<String>,
    /// Subject alternative names, as `DNS:name` or `IP:address`.
    pub san: Vec<String>,
    /// The subject key identifier, colon-separated hex.
    pub subject_key_id: Option<String>,
    /// The authority key identifier, colon-separated hex.
    pub authority_key_id: Option<String>,
    /// SHA-256 of the DER, colon-separated upper-case hex, as `openssl x509 -fingerprint -sha256`.
    pub sha256: String,
}

/// A certificate read from PEM, kept as DER so it can be re-parsed cheaply.
#[derive(Debug, Clone)]
pub struct ParsedCert {
    /// The certificate's DER encoding.
    pub der: Vec<u8>,
}

impl ParsedCert {
    /// Every certificate of a PEM file, in order. `path` is only used in errors.
    pub fn all_from_pem(path: &str, pem: &str) -> Result<Vec<ParsedCert>, Error> {
        let bad = |message: String| Error::BadPem {
            path: path.to_string(),
            what: "certificate",
            message,
        };
        let mut out = Vec::new();
        for item in Pem::iter_from_buffer(pem.as_bytes()) {
            let item = item.map_err(|e| bad(e.to_string()))?;
            if item.label != "CERTIFICATE" {
                continue;
            }
            item.parse_x509().map_err(|e| bad(e.to_string()))?;
            out.push(ParsedCert { der: item.contents });
        }
        if out.is_empty() {
            return Err(bad("no CERTIFICATE block".to_string()));
        }
        Ok(out)
    }

    /// The first certificate of a PEM file.
    pub fn from_pem(path: &str, pem: &str) -> Result<ParsedCert, Error> {
        let mut all = Self::all_from_pem(path, pem)?;
        Ok(all.remove(0))
    }

    fn x509(&self) -> Result<X509Certificate<'_>, Error> {
        x509_parser::parse_x509_certificate(&self.der)
            .map(|(_, c)| c)
            .map_err(|e| Error::crypto("parse a certificate", e))
    }

    /// The DER of the subjectPublicKeyInfo, to compare with a private key's.
    pub fn spki_der(&self) -> Result<Vec<u8>, Error> {
        Ok(self.x509()?.public_key().raw.to_vec())
    }

    /// The end of the validity period.
    pub fn not_after(&self) -> Result<time::OffsetDateTime, Error> {
        Ok(self.x509()?.validity().not_after.to_datetime())
    }

    /// Whether `issuer`'s key signed this certificate and its issuer name is `issuer`'s subject.
    pub fn is_issued_by(&self, issuer: &ParsedCert) -> bool {
        let (Ok(me), Ok(ca)) = (self.x509(), issuer.x509()) else {
            return false;
        };
        me.issuer() == ca.subject() && me.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// The facts scripts see.
    pub fn info(&self) -> Result<CertInfo, Error> {
        let c = self.x509()?;
        let (is_ca, path_len) = match c.basic_constraints() {
            Ok(Some(bc)) => (bc.value.ca, bc.value.path_len_constraint),
            _ => (false, None),
        };
        let mut key_usage = Vec::new();
        if let Ok(Some(ku)) = c.key_usage() {
            let ku = ku.value;
            let flags = [
                (ku.digital_signature(), "digitalSignature"),
                (ku.non_repudiation(), "nonRepudiation"),
                (ku.key_encipherment(), "keyEncipherment"),
                (ku.data_encipherment(), "dataEncipherment"),
                (ku.key_agreement(), "keyAgreement"),
                (ku.key_cert_sign(), "keyCertSign"),
                (ku.crl_sign(), "cRLSign"),
            ];
            key_usage = flags
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n.to_string())
                .collect();
        }
        let mut extended_key_usage = Vec::new();
        if let Ok(Some(eku)) = c.extended_key_usage() {
            if eku.value.server_auth {
                extended_key_usage.push("serverAuth".to_string());
            }
            if eku.value.client_auth {
                extended_key_usage.push("clientAuth".to_string());
            }
        }
        let mut san = Vec::new();
        if let Ok(Some(names)) = c.subject_alternative_name() {
            for name in &names.value.general_names {
                match name {
                    GeneralName::DNSName(d) => san.push(format!("DNS:{d}")),
                    GeneralName::IPAddress(ip) => san.push(format!("IP:{}", ip_text(ip))),
                    other => san.push(other.to_string()),
                }
            }
        }
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        for ext in c.extensions() {
            match ext.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => {
                    subject_key_id = Some(hex(k.0, ":"));
                }
                x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                    authority_key_id = a.key_identifier.as_ref().map(|k| hex(k.0, ":"));
                }
                _ => {}
            }
        }
        Ok(CertInfo {
            subject: c.subject().to_string(),
            issuer: c.issuer().to_string(),
            serial: hex(c.raw_serial(), ""),
            not_before: rfc3339(c.validity().not_before.to_datetime()),
            not_after: rfc3339(c.validity().not_after.to_datetime()),
            key_algorithm: key_algorithm(&c),
            signature_algorithm: signature_name(&c),
            version: c.version().0 + 1,
            is_ca,
            path_len,
            key_usage,
            extended_key_usage,
            san,
            subject_key_id,
            authority_key_id,
            sha256: sha256_fingerprint(&self.der),
        })
    }
}

/// SHA-256 of `der`, as openssl prints fingerprints.
pub fn sha256_fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    hex(digest.as_ref(), ":")
}

pub(crate) fn hex(bytes: &[u8], sep: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(sep)
}

pub(crate) fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn ip_text(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).unwrap_or_default()).to_string(),
        16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).unwrap_or_default()).to_string(),
        _ => hex(bytes, ":"),
    }
}

fn key_algorithm(c: &X509Certificate<'_>) -> String {
    match c.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(ec)) => format!("ECDSA P-{}", ec.key_size()),
        Ok(_) => "other".to_string(),
        Err(_) => "unreadable".to_string(),
    }
}

pub(super) fn signature_name(c: &X509Certificate<'_>) -> String {
    signature_algorithm_name(&c.signature_algorithm)
}

/// The name openssl gives a signature algorithm (`sha256WithRSAEncryption`), else its OID.
pub(super) fn signature_algorithm_name(
    algorithm: &x509_parser::x509::AlgorithmIdentifier<'_>,
) -> String {
    use x509_parser::oid_registry as oids;
    let oid = &algorithm.algorithm;
    let known = [
        (oids::OID_PKCS1_SHA256WITHRSA, "sha256WithRSAEncryption"),
        (oids::OID_PKCS1_SHA384WITHRSA, "sha384WithRSAEncryption"),
        (oids::OID_PKCS1_SHA512WITHRSA, "sha512WithRSAEncryption"),
        (oids::OID_PKCS1_SHA1WITHRSA, "sha1WithRSAEncryption"),
        (oids::OID_SIG_ECDSA_WITH_SHA256, "ecdsa-with-SHA256"),
        (oids::OID_SIG_ECDSA_WITH_SHA384, "ecdsa-with-SHA384"),
    ];
    let by_id = [
        ("1.2.840.10045.4.1", "ecdsa-with-SHA1"),
        ("1.2.840.113549.1.1.14", "sha224WithRSAEncryption"),
        ("1.2.840.10045.4.3.1", "ecdsa-with-SHA224"),
        ("1.2.840.10045.4.3.4", "ecdsa-with-SHA512"),
    ];
    let id = oid.to_id_string();
    known
        .iter()
        .find(|(o, _)| o == oid)
        .map(|(_, n)| n.to_string())
        .or_else(|| {
            by_id
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, n)| n.to_string())
        })
        .unwrap_or(id)
}

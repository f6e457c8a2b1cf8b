//! Certificate revocation lists: one X.509 v2 CRL per issuing CA (RFC 5280, section 5),
//! signed by rcgen and read back with x509-parser.
//!
//! The CRL on disk is the state: revoking reads it, checks that the CA signed it, adds an
//! entry and signs the next one with a higher CRL number. Nothing here touches the file
//! system: files go through [`crate::workdir`] and the effects boundary.

use rcgen::{
    CertificateRevocationListParams, KeyIdMethod, KeyPair, RevocationReason, RevokedCertParams,
    SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;
use x509_parser::num_bigint::BigUint;
use x509_parser::pem::Pem;
use x509_parser::revocation_list::CertificateRevocationList;
use x509_parser::x509::X509Version;

use super::{hex, ParsedCert};
use crate::error::Error;

/// The largest CRL file mtls reads: a list of a million revoked serials (about 50 bytes
/// each as DER, a third more as PEM) fits; anything larger is not a list mtls made.
pub const MAX_CRL_BYTES: u64 = 96 * 1024 * 1024;

/// RFC 5280, section 5.2.3: "Conforming CRL issuers MUST NOT use CRLNumber values longer
/// than 20 octets."
const MAX_CRL_NUMBER_OCTETS: usize = 20;

/// RFC 5280, section 4.1.2.2: serial numbers are at most 20 octets.
const MAX_SERIAL_OCTETS: usize = 20;

/// The PEM label of a CRL (RFC 7468, section 5).
const CRL_LABEL: &str = "X509 CRL";

/// Why a certificate was revoked: the reasonCode of RFC 5280, section 5.3.1, by its
/// ASN.1 name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason(RevocationReason);

/// The reasons and their RFC 5280 names, in code order.
const REASONS: [(RevocationReason, &str); 10] = [
    (RevocationReason::Unspecified, "unspecified"),
    (RevocationReason::KeyCompromise, "keyCompromise"),
    (RevocationReason::CaCompromise, "cACompromise"),
    (RevocationReason::AffiliationChanged, "affiliationChanged"),
    (RevocationReason::Superseded, "superseded"),
    (
        RevocationReason::CessationOfOperation,
        "cessationOfOperation",
    ),
    (RevocationReason::CertificateHold, "certificateHold"),
    (RevocationReason::RemoveFromCrl, "removeFromCRL"),
    (RevocationReason::PrivilegeWithdrawn, "privilegeWithdrawn"),
    (RevocationReason::AaCompromise, "aACompromise"),
];

impl Reason {
    /// No reason given (RFC 5280 says to leave the reasonCode out then).
    pub const UNSPECIFIED: Reason = Reason(RevocationReason::Unspecified);

    /// The RFC 5280 name (`keyCompromise`).
    pub fn name(self) -> &'static str {
        REASONS
            .iter()
            .find(|(r, _)| *r == self.0)
            .map_or("unspecified", |(_, n)| n)
    }

    /// A reason a revocation may give. `certificateHold` and `removeFromCRL` are refused:
    /// mtls revokes for good, and removeFromCRL belongs to delta CRLs only (RFC 5280,
    /// section 5.3.1).
    pub fn parse(text: &str) -> Result<Reason, String> {
        let found = REASONS
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(text.trim()))
            .map(|(r, _)| Reason(*r));
        match found {
            Some(r) if matches!(r.0, RevocationReason::CertificateHold) => Err(
                "certificateHold is a suspension that can be lifted; mtls revokes for good"
                    .to_string(),
            ),
            Some(r) if matches!(r.0, RevocationReason::RemoveFromCrl) => {
                Err("removeFromCRL belongs to delta CRLs (RFC 5280, section 5.3.1)".to_string())
            }
            Some(r) => Ok(r),
            None => Err(format!("unknown reason {text:?}")),
        }
    }

    /// The names [`Reason::parse`] takes.
    pub fn accepted() -> String {
        REASONS
            .iter()
            .map(|(_, n)| *n)
            .filter(|n| !matches!(*n, "certificateHold" | "removeFromCRL"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn from_code(code: u8) -> Reason {
        REASONS
            .iter()
            .find(|(r, _)| *r as u8 == code)
            .map_or(Reason::UNSPECIFIED, |(r, _)| Reason(*r))
    }
}

/// One revoked certificate of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The serial number's bytes, without leading zero bytes.
    pub serial: Vec<u8>,
    /// When the CA revoked it (whole seconds, as encoded).
    pub at: OffsetDateTime,
    /// Why.
    pub reason: Reason,
}

impl Revoked {
    /// The serial as upper-case hex, as `openssl crl -text` and the manifests show it.
    pub fn serial_hex(&self) -> String {
        hex(&self.serial, "")
    }
}

/// A CRL read from a file: its DER, and what it says.
#[derive(Debug, Clone)]
pub struct Crl {
    /// The CRL's DER encoding.
    pub der: Vec<u8>,
    /// The issuer's name, as `C=JP, ST=Tokyo, O=Example, CN=...`.
    pub issuer: String,
    /// The issuer's name, DER (compared with a certificate's issuer).
    issuer_der: Vec<u8>,
    /// The CRL number (0 when the list has none).
    pub number: BigUint,
    /// When it was issued.
    pub this_update: OffsetDateTime,
    /// When the next one is due: after it, the list has expired.
    pub next_update: Option<OffsetDateTime>,
    /// The revoked certificates, in the list's order.
    pub entries: Vec<Revoked>,
}

impl Crl {
    /// Every CRL of a PEM file (X509 CRL blocks only), in order; at least one.
    pub fn all_from_pem(path: &str, pem: &str) -> Result<Vec<Crl>, Error> {
        let mut out = Vec::new();
        for item in Pem::iter_from_buffer(pem.as_bytes()) {
            let item = item.map_err(|e| bad_crl(path, e.to_string()))?;
            if item.label != CRL_LABEL {
                return Err(bad_crl(
                    path,
                    format!(
                        "it holds a {} block, where only X509 CRL blocks belong",
                        item.label
                    ),
                ));
            }
            out.push(Crl::from_der(path, item.contents)?);
        }
        if out.is_empty() {
            return Err(bad_crl(path, "no X509 CRL block".to_string()));
        }
        Ok(out)
    }

    /// The one CRL of a PEM file (a CA's list file holds exactly one).
    pub fn from_pem(path: &str, pem: &str) -> Result<Crl, Error> {
        let mut all = Crl::all_from_pem(path, pem)?;
        if all.len() > 1 {
            return Err(bad_crl(
                path,
                format!("it holds {} CRLs; a CA's list file holds one", all.len()),
            ));
        }
        Ok(all.remove(0))
    }

    /// Reads a DER CRL: v2, nothing after it, every entry's serial and reason.
    pub fn from_der(path: &str, der: Vec<u8>) -> Result<Crl, Error> {
        let (rest, crl) =
            x509_parser::parse_x509_crl(&der).map_err(|e| bad_crl(path, e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad_crl(
                path,
                "bytes follow the CRL in its block".to_string(),
            ));
        }
        if crl.version() != Some(X509Version::V2) {
            return Err(bad_crl(path, "it is not an X.509 v2 CRL".to_string()));
        }
        let entries = crl
            .iter_revoked_certificates()
            .map(|r| Revoked {
                serial: trim_serial(r.raw_serial()),
                at: r.revocation_date.to_datetime(),
                reason: r
                    .reason_code()
                    .map_or(Reason::UNSPECIFIED, |(_, code)| Reason::from_code(code.0)),
            })
            .collect();
        Ok(Crl {
            issuer: crl.issuer().to_string(),
            issuer_der: crl.issuer().as_raw().to_vec(),
            number: crl.crl_number().cloned().unwrap_or_default(),
            this_update: crl.last_update().to_datetime(),
            next_update: crl.next_update().map(|t| t.to_datetime()),
            entries,
            der,
        })
    }

    /// Why `ca` is not the signer of this list (its name is not the list's issuer, or its
    /// key did not make the signature: a list changed after signing fails here), or `None`.
    pub fn not_signed_by(&self, ca: &ParsedCert) -> Option<String> {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(&ca.der) else {
            return Some("its CA certificate cannot be read".to_string());
        };
        if cert.subject().as_raw() != self.issuer_der.as_slice() {
            return Some(format!(
                "it was issued by {}, not by {}",
                self.issuer,
                cert.subject()
            ));
        }
        let signed = x509_parser::parse_x509_crl(&self.der)
            .map_err(|e| e.to_string())
            .and_then(|(_, crl)| signature_of(&crl, &cert));
        signed.err()
    }

    /// The CA among `cas` that signed this list: the one named as its issuer whose key
    /// made its signature; otherwise why none did.
    pub fn signer_among<'c>(&self, cas: &'c [ParsedCert]) -> Result<&'c ParsedCert, String> {
        let mut problem = None;
        for ca in cas {
            match self.not_signed_by(ca) {
                None => return Ok(ca),
                // A CA of the same name whose key did not sign it says more than the others.
                Some(p) if !p.starts_with("it was issued by") => problem = Some(p),
                Some(_) => {}
            }
        }
        Err(problem.unwrap_or_else(|| format!("no CA given is its issuer, {}", self.issuer)))
    }

    /// The issuer's name, DER.
    pub fn issuer_der(&self) -> &[u8] {
        &self.issuer_der
    }

    /// Whether this list names the issuer of a certificate whose issuer name is `issuer_der`.
    pub fn covers_issuer(&self, issuer_der: &[u8]) -> bool {
        self.issuer_der == issuer_der
    }

    /// Whether the list says it was issued after `now`: OpenSSL refuses such a list as
    /// "CRL is not yet valid" (a clock wrong here or where it was signed).
    pub fn issued_after(&self, now: OffsetDateTime) -> bool {
        self.this_update > now
    }

    /// Whether the list's next update is before `now` (a list without one never expires).
    pub fn expired_at(&self, now: OffsetDateTime) -> bool {
        self.next_update.is_some_and(|next| next < now)
    }

    /// The entry for `serial` (leading zero bytes ignored), if it is revoked.
    pub fn find(&self, serial: &[u8]) -> Option<&Revoked> {
        let serial = trim_serial(serial);
        self.entries.iter().find(|r| r.serial == serial)
    }
}

fn signature_of(
    crl: &CertificateRevocationList<'_>,
    ca: &x509_parser::certificate::X509Certificate<'_>,
) -> Result<(), String> {
    crl.verify_signature(ca.public_key())
        .map_err(|_| format!("its signature was not made by the key of {}", ca.subject()))
}

fn bad_crl(path: &str, message: String) -> Error {
    Error::BadPem {
        path: path.to_string(),
        what: "certificate revocation list",
        message,
    }
}

/// A serial's bytes without the leading zero bytes DER adds to keep an integer positive,
/// so that a certificate's serial and a list's entry compare equal.
pub fn trim_serial(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// A serial number given as hex (`3F1A...`, colons allowed, as `openssl x509 -serial`
/// prints it after `serial=`).
pub fn parse_serial_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
    let digits = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .unwrap_or(&digits);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{text:?} is not a hexadecimal serial number"));
    }
    let padded = if digits.len() % 2 == 1 {
        format!("0{digits}")
    } else {
        digits.to_string()
    };
    let bytes: Vec<u8> = (0..padded.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&padded[i..i + 2], 16).unwrap_or(0))
        .collect();
    let trimmed = trim_serial(&bytes);
    if trimmed.is_empty() {
        return Err("a serial number of zero is not one mtls issues".to_string());
    }
    if trimmed.len() > MAX_SERIAL_OCTETS {
        return Err(format!(
            "{} octets is longer than the 20 of RFC 5280",
            trimmed.len()
        ));
    }
    Ok(trimmed)
}

/// The next list to sign.
#[derive(Debug, Clone)]
pub struct NextCrl {
    /// Its CRL number.
    pub number: BigUint,
    /// How many days until its next update.
    pub days: u32,
    /// Every revoked certificate it lists.
    pub entries: Vec<Revoked>,
}

impl NextCrl {
    /// The number after `current` (1 for a first list), or `wanted` when it is higher: a
    /// CRL number only grows (RFC 5280, section 5.2.3), so a lower or equal one is refused.
    pub fn number_after(
        current: Option<&BigUint>,
        wanted: Option<BigUint>,
    ) -> Result<BigUint, String> {
        let next = match (current, wanted) {
            (Some(now), Some(w)) if &w <= now => {
                return Err(format!(
                    "CRL number {w} is not above {now}, the number of the list on disk"
                ))
            }
            (_, Some(w)) => w,
            (Some(now), None) => now + 1u32,
            (None, None) => BigUint::from(1u32),
        };
        if next.to_bytes_be().len() > MAX_CRL_NUMBER_OCTETS {
            return Err(
                "the CRL number would be longer than the 20 octets of RFC 5280".to_string(),
            );
        }
        Ok(next)
    }

    /// Signs the list with the CA (`ca_pem`, its `key`), valid from now for `days`; PEM.
    pub fn sign(&self, ca: &ParsedCert, ca_pem: &str, key: &KeyPair) -> Result<String, Error> {
        let what = "sign the certificate revocation list";
        let issuer =
            rcgen::Issuer::from_ca_cert_pem(ca_pem, key).map_err(|e| Error::crypto(what, e))?;
        let now = OffsetDateTime::now_utc();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + Duration::days(i64::from(self.days)),
            crl_number: SerialNumber::from_slice(&self.number.to_bytes_be()),
            issuing_distribution_point: None,
            revoked_certs: self
                .entries
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: r.at,
                    reason_code: Some(r.reason.0),
                    invalidity_date: None,
                })
                .collect(),
            // The authorityKeyIdentifier must be the CA's subjectKeyIdentifier (RFC 5280,
            // section 5.2.1), whichever method made it (openssl uses SHA-1, rcgen SHA-256).
            key_identifier_method: match subject_key_id(ca) {
                Some(id) => KeyIdMethod::PreSpecified(id),
                None => KeyIdMethod::Sha256,
            },
        };
        let crl = params
            .signed_by(&issuer)
            .map_err(|e| Error::crypto(what, e))?;
        crl.pem().map_err(|e| Error::crypto(what, e))
    }
}

fn subject_key_id(ca: &ParsedCert) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(&ca.der).ok()?;
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
            _ => None,
        })
}

/// The time at whole seconds, as a list encodes it.
pub fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{CertSpec, KeyAlgorithm, Profile, Subject};

    fn root() -> (ParsedCert, String, KeyPair) {
        let key = KeyAlgorithm::EcdsaP256.generate().expect("key");
        let spec = CertSpec {
            profile: Profile::RootCa,
            subject: Subject::from_pairs(vec![("CN", "test root".to_string())]).expect("subject"),
            sans: vec![],
            days: 10,
        };
        let pem = spec
            .issue(&key, KeyAlgorithm::EcdsaP256, None)
            .expect("root");
        (
            ParsedCert::from_pem("root.pem", &pem).expect("parse"),
            pem,
            key,
        )
    }

    fn entry(serial: &[u8], reason: Reason) -> Revoked {
        Revoked {
            serial: serial.to_vec(),
            at: now_seconds(),
            reason,
        }
    }

    #[test]
    fn a_signed_list_reads_back_as_made() {
        let (ca, pem, key) = root();
        let next = NextCrl {
            number: BigUint::from(7u32),
            days: 30,
            entries: vec![
                entry(
                    &[0x01, 0x02],
                    Reason::parse("keyCompromise").expect("reason"),
                ),
                entry(&[0x7f, 0xff], Reason::UNSPECIFIED),
            ],
        };
        let crl_pem = next.sign(&ca, &pem, &key).expect("sign");
        let crl = Crl::from_pem("x.crl.pem", &crl_pem).expect("read");
        assert_eq!(crl.number, BigUint::from(7u32));
        assert_eq!(crl.entries, next.entries);
        assert_eq!(crl.not_signed_by(&ca), None);
        assert!(!crl.expired_at(now_seconds()));
        assert!(!crl.issued_after(now_seconds() + Duration::seconds(1)));
        assert!(crl.issued_after(now_seconds() - Duration::minutes(1)));
        assert!(crl.expired_at(now_seconds() + Duration::days(31)));
        assert_eq!(
            crl.find(&[0x00, 0x01, 0x02]).map(|r| r.reason.name()),
            Some("keyCompromise")
        );
        assert!(crl.find(&[0x01]).is_none());
    }

    #[test]
    fn another_ca_or_a_changed_byte_is_not_the_signer() {
        let (ca, pem, key) = root();
        let (other, _, _) = root();
        let next = NextCrl {
            number: BigUint::from(1u32),
            days: 1,
            entries: vec![entry(&[0x42], Reason::UNSPECIFIED)],
        };
        let crl = Crl::from_pem("x", &next.sign(&ca, &pem, &key).expect("sign")).expect("read");
        // Same subject, other key: the name matches, the signature does not.
        assert!(crl
            .not_signed_by(&other)
            .is_some_and(|m| m.contains("signature")));
        let mut der = crl.der.clone();
        let at = der
            .windows(1)
            .rposition(|w| w == [0x42])
            .expect("the serial is in the list");
        der[at] = 0x43;
        let tampered = Crl::from_der("x", der).expect("still DER");
        assert!(tampered.not_signed_by(&ca).is_some());
    }

    #[test]
    fn numbers_only_grow() {
        let five = BigUint::from(5u32);
        assert_eq!(NextCrl::number_after(None, None), Ok(BigUint::from(1u32)));
        assert_eq!(
            NextCrl::number_after(Some(&five), None),
            Ok(BigUint::from(6u32))
        );
        assert_eq!(
            NextCrl::number_after(Some(&five), Some(BigUint::from(9u32))),
            Ok(BigUint::from(9u32))
        );
        assert!(NextCrl::number_after(Some(&five), Some(five.clone())).is_err());
        assert!(NextCrl::number_after(Some(&five), Some(BigUint::from(4u32))).is_err());
        let max = BigUint::from_bytes_be(&[0xff; 20]);
        assert!(NextCrl::number_after(Some(&max), None).is_err());
    }

    #[test]
    fn serials_and_reasons_parse() {
        assert_eq!(parse_serial_hex("0A:1b"), Ok(vec![0x0a, 0x1b]));
        assert_eq!(parse_serial_hex("00abc"), Ok(vec![0x0a, 0xbc]));
        assert!(parse_serial_hex("xyz").is_err());
        assert!(parse_serial_hex("00").is_err());
        assert!(parse_serial_hex(&"ab".repeat(21)).is_err());
        assert_eq!(
            Reason::parse("KEYCOMPROMISE").map(Reason::name),
            Ok("keyCompromise")
        );
        assert!(Reason::parse("certificateHold").is_err());
        assert!(Reason::parse("removeFromCRL").is_err());
        assert!(Reason::parse("stolen").is_err());
    }
}

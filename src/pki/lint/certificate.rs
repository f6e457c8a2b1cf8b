//! The `certificate` rules: what ACM and API Gateway require of every certificate they are
//! given (v3, key type, size and curve, signature, valid now), and its expiry against a
//! window (`mtls check --expiring`, the expiry warnings of plans and runs).

use x509_parser::certificate::X509Certificate;
use x509_parser::public_key::PublicKey;

use super::{named, parse, Finding};
use super::{
    CERT_CURVE, CERT_DER_TRAILING, CERT_EXPIRED, CERT_EXPIRING, CERT_KEY, CERT_NOT_YET_VALID,
    CERT_SIGNATURE, CERT_V3,
};
use crate::error::Error;
use crate::pki::inspect::ParsedCert;

pub(crate) const STRONG_SIGNATURES: [&str; 6] = [
    "sha256WithRSAEncryption",
    "sha384WithRSAEncryption",
    "sha512WithRSAEncryption",
    "ecdsa-with-SHA256",
    "ecdsa-with-SHA384",
    "ecdsa-with-SHA512",
];

/// What ACM and API Gateway would refuse in `cert`: the messages of the [`certificate`]
/// rules it fails (a signature weaker than SHA-256, an RSA key under 2048 bits or an EC key
/// under 256, a validity that does not include now, a version before 3). Empty when it
/// passes. (It lives here, not on [`ParsedCert`], so that inspection never imports the
/// rules that read it.)
pub fn aws_problems(cert: &ParsedCert) -> Result<Vec<String>, Error> {
    Ok(certificate("", cert)?
        .into_iter()
        .map(|f| f.message)
        .collect())
}

/// The rules every certificate ACM or API Gateway is given must pass: v3, key type and
/// size, signature, valid now.
pub fn certificate(file: &str, cert: &ParsedCert) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let n = named(&c, &cert.der);
    let mut out = Vec::new();
    if c.version().0 != 2 {
        out.push(Finding::new(
            &CERT_V3,
            file,
            Some(&n),
            format!("X.509 v{}; v3 is required", c.version().0 + 1),
        ));
    }
    match c.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() < 2048 => out.push(Finding::new(
            &CERT_KEY,
            file,
            Some(&n),
            format!(
                "RSA {}-bit key; at least 2048 bits is required",
                rsa.key_size()
            ),
        )),
        Ok(PublicKey::EC(ec)) if ec.key_size() < 256 => out.push(Finding::new(
            &CERT_KEY,
            file,
            Some(&n),
            format!(
                "EC {}-bit key; at least 256 bits is required",
                ec.key_size()
            ),
        )),
        Ok(PublicKey::EC(_)) => {
            if let Err(oid) = curve_name(&c) {
                out.push(Finding::new(
                    &CERT_CURVE,
                    file,
                    Some(&n),
                    format!("EC key on curve {oid}; ACM takes P-256 (1.2.840.10045.3.1.7), P-384 or P-521 only"),
                ));
            }
        }
        Ok(PublicKey::RSA(_)) => {}
        _ => out.push(Finding::new(
            &CERT_KEY,
            file,
            Some(&n),
            "key type not accepted; use RSA or ECDSA",
        )),
    }
    if let Ok((rest, _)) = x509_parser::parse_x509_certificate(&cert.der) {
        if !rest.is_empty() {
            out.push(Finding::new(
                &CERT_DER_TRAILING,
                file,
                Some(&n),
                format!(
                    "{} byte(s) follow the certificate's DER inside its PEM block",
                    rest.len()
                ),
            ));
        }
    }
    let sig = crate::pki::inspect::signature_name(&c);
    if !STRONG_SIGNATURES.contains(&sig.as_str()) {
        out.push(Finding::new(
            &CERT_SIGNATURE,
            file,
            Some(&n),
            format!("signed with {sig}; SHA-256 or stronger is required"),
        ));
    }
    let validity = c.validity();
    let now = x509_parser::time::ASN1Time::now();
    let span = format!(
        "valid from {} to {}",
        crate::pki::inspect::rfc3339(validity.not_before.to_datetime()),
        crate::pki::inspect::rfc3339(validity.not_after.to_datetime())
    );
    if validity.not_after < now {
        out.push(Finding::new(
            &CERT_EXPIRED,
            file,
            Some(&n),
            format!("not valid now ({span}): it has expired"),
        ));
    } else if validity.not_before > now {
        out.push(Finding::new(
            &CERT_NOT_YET_VALID,
            file,
            Some(&n),
            format!("not valid now ({span}): it is not valid yet"),
        ));
    }
    Ok(out)
}

/// `mtls check --expiring`: the certificate expires within `window` (or has expired).
pub fn expiring(
    file: &str,
    cert: &ParsedCert,
    window: std::time::Duration,
) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let n = named(&c, &cert.der);
    let not_after = c.validity().not_after.to_datetime();
    let at = crate::pki::inspect::rfc3339(not_after);
    let span = time::Duration::try_from(window).unwrap_or(time::Duration::MAX);
    Ok(match expiry_within(not_after, span) {
        None => Vec::new(),
        Some(Expiry::Expired) => vec![Finding::new(
            &CERT_EXPIRED,
            file,
            Some(&n),
            format!("it expired on {at}"),
        )],
        Some(Expiry::InDays(days)) => vec![Finding::new(
            &CERT_EXPIRING,
            file,
            Some(&n),
            format!(
                "it expires on {at}, in {days} day(s), within the {} asked",
                describe_window(window)
            ),
        )],
    })
}

/// Where an end of validity stands against a window from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// It has passed.
    Expired,
    /// It comes within the window, in this many whole days.
    InDays(i64),
}

/// The `cert-expiring` / `cert-expired` rule on an end of validity (a file's, or one AWS
/// reports): `None` when it lies beyond `window` from now. `mtls check --expiring` and the
/// expiry warnings of plans and runs both ask this.
pub fn expiry_within(not_after: time::OffsetDateTime, window: time::Duration) -> Option<Expiry> {
    let left = not_after - time::OffsetDateTime::now_utc();
    if left.is_negative() {
        Some(Expiry::Expired)
    } else if left <= window {
        Some(Expiry::InDays(left.whole_days()))
    } else {
        None
    }
}

/// Parses `--expiring`'s window: `30d` (days) or `12h` (hours).
pub fn parse_window(text: &str) -> Result<std::time::Duration, String> {
    let bad =
        || format!("{text:?} is not a window: write a number of days or hours, as 30d or 12h");
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let hours = match unit {
        "d" => n.checked_mul(24).ok_or_else(bad)?,
        "h" => n,
        _ => return Err(bad()),
    };
    if hours > 24 * 365 * 1000 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_secs(hours * 3600))
}

pub(super) fn describe_window(window: std::time::Duration) -> String {
    let hours = window.as_secs() / 3600;
    if hours % 24 == 0 {
        format!("{} days", hours / 24)
    } else {
        format!("{hours} hours")
    }
}

/// The OIDs and names of the curves ACM imports (ACM user guide,
/// import-certificate-prerequisites: EC_prime256v1, EC_secp384r1, EC_secp521r1).
const ACM_CURVES: [(&str, &str); 3] = [
    ("1.2.840.10045.3.1.7", "P-256"),
    ("1.3.132.0.34", "P-384"),
    ("1.3.132.0.35", "P-521"),
];

/// The name of an EC key's curve (`P-256`), or its OID when ACM does not import it.
pub(super) fn curve_name(c: &X509Certificate<'_>) -> Result<&'static str, String> {
    let oid = c
        .public_key()
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string())
        .unwrap_or_else(|| "no named curve".to_string());
    ACM_CURVES
        .iter()
        .find(|(id, _)| *id == oid)
        .map(|(_, name)| *name)
        .ok_or(oid)
}

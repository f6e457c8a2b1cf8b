//! What a CA needs to issue a certificate: basicConstraints cA=TRUE, keyCertSign when it
//! has a keyUsage, a pathLenConstraint that allows the CAs under it (the `ca-*` rules that
//! the truststore and ACM chain checks apply, and [`cannot_issue`] for the gateway and the
//! PKI steps).

use x509_parser::certificate::X509Certificate;

pub(super) fn is_ca(c: &X509Certificate<'_>) -> bool {
    matches!(c.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

/// A CA whose keyUsage leaves out keyCertSign may not sign certificates (RFC 5280
/// 4.2.1.3); without a keyUsage extension every use is allowed.
pub(super) fn key_cert_sign_problem(c: &X509Certificate<'_>) -> Option<String> {
    match c.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => {
            Some("its keyUsage has no keyCertSign, so it may not sign certificates".to_string())
        }
        _ => None,
    }
}

/// A CA with `below` CA certificates under it in a path breaks a pathLenConstraint
/// smaller than that (RFC 5280 4.2.1.9).
pub(super) fn path_len_problem(c: &X509Certificate<'_>, below: usize) -> Option<String> {
    let limit = match c.basic_constraints() {
        Ok(Some(bc)) => bc.value.path_len_constraint?,
        _ => return None,
    };
    (usize::try_from(limit).unwrap_or(usize::MAX) < below).then(|| {
        format!("its pathLenConstraint is {limit}, so at most {limit} CA certificate(s) may be under it, not {below}")
    })
}

/// Why the certificate `ca_der` may not issue a certificate with `below` CA certificates
/// between them (0: it signs the certificate itself; 1: an intermediate it signed does):
/// not a CA, no keyCertSign, or a pathLenConstraint under `below`. `None` when it may.
///
/// The rehearsal gateway asks this of every issuer on a client's path, and the PKI steps
/// of every CA they keep, so that neither trusts what `mtls check` calls an error.
pub fn cannot_issue(ca_der: &[u8], below: usize) -> Option<String> {
    let c = match x509_parser::parse_x509_certificate(ca_der) {
        Ok((_, c)) => c,
        Err(e) => return Some(format!("it does not parse ({e})")),
    };
    if !is_ca(&c) {
        return Some("it is not a CA (no basicConstraints cA=TRUE)".to_string());
    }
    key_cert_sign_problem(&c).or_else(|| path_len_problem(&c, below))
}

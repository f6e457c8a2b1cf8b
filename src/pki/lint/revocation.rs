//! The `revocation` rules: a certificate against the revocation lists of a file (its
//! issuer's list is there, signed by a CA given, current, and does not name it).

use super::{named, parse, Finding, Named};
use super::{CRL_EXPIRED, CRL_ISSUER, CRL_REVOKED, CRL_SIGNATURE};
use crate::error::Error;
use crate::pki::inspect::ParsedCert;

/// The revocation rules for `cert` against the lists of `crl_file`: the list of its
/// issuer is there, signed by a CA of `cas`, not expired, and does not name it.
pub fn revocation(
    crl_file: &str,
    lists: &[crate::pki::Crl],
    cert_file: &str,
    cert: &ParsedCert,
    cas: &[ParsedCert],
) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let n = named(&c, &cert.der);
    let Some(list) = lists.iter().find(|l| l.covers_issuer(c.issuer().as_raw())) else {
        let issuers: Vec<&str> = lists.iter().map(|l| l.issuer.as_str()).collect();
        return Ok(vec![Finding::new(
            &CRL_ISSUER,
            crl_file,
            Some(&n),
            format!(
                "it holds the list of {}; the certificate was issued by {}",
                issuers.join(" and "),
                c.issuer()
            ),
        )]);
    };
    let about_list = Named {
        subject: list.issuer.clone(),
        sha256: crate::pki::sha256_fingerprint(&list.der),
    };
    let mut out = Vec::new();
    if let Err(problem) = list.signer_among(cas) {
        out.push(Finding::new(
            &CRL_SIGNATURE,
            crl_file,
            Some(&about_list),
            problem,
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    if let Some(next) = list.next_update.filter(|_| list.expired_at(now)) {
        out.push(Finding::new(
            &CRL_EXPIRED,
            crl_file,
            Some(&about_list),
            format!("its next update was {}", crate::pki::rfc3339(next)),
        ));
    }
    if list.issued_after(now) {
        out.push(Finding::new(
            &CRL_EXPIRED,
            crl_file,
            Some(&about_list),
            format!(
                "it says it was issued on {}, in the future: a client would refuse it as not yet valid",
                crate::pki::rfc3339(list.this_update)
            ),
        ));
    }
    if let Some(r) = list.find(c.raw_serial()) {
        out.push(Finding::new(
            &CRL_REVOKED,
            cert_file,
            Some(&n),
            format!(
                "serial {} was revoked on {} ({}) in list number {} of {}",
                r.serial_hex(),
                crate::pki::rfc3339(r.at),
                r.reason.name(),
                list.number,
                crl_file
            ),
        ));
    }
    Ok(out)
}

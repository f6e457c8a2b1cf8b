//! The `truststore` rules: API Gateway's truststore (CAs only, each once, each chain up to a
//! self-signed root in the file within every pathLenConstraint, client chains no longer
//! than API Gateway accepts, at most 1 MiB), and a truststore file that cannot be read.

use x509_parser::certificate::X509Certificate;

use super::ca::{is_ca, key_cert_sign_problem, path_len_problem};
use super::certificate::certificate;
use super::{named, parse, Finding};
use super::{
    CA_KEY_CERT_SIGN, CA_PATH_LEN, TRUSTSTORE_CHAIN_LENGTH, TRUSTSTORE_DUPLICATE,
    TRUSTSTORE_NOT_CA, TRUSTSTORE_PEM, TRUSTSTORE_ROOT, TRUSTSTORE_SIGNATURE, TRUSTSTORE_SIZE,
};
use crate::error::Error;
use crate::pki::inspect::ParsedCert;
use crate::pki::truststore::{Truststore, MAX_TRUSTSTORE_BYTES};

/// API Gateway's truststore rules: every certificate passes [`certificate`], is a CA that
/// may sign certificates and appears once; each chain goes up, link by verified link, to
/// a self-signed root in the file, within every CA's pathLenConstraint; no client chain
/// through them is longer than API Gateway accepts; the file is at most 1 MiB.
pub fn truststore(file: &str, store: &Truststore) -> Result<Vec<Finding>, Error> {
    let mut out = Vec::new();
    let certs = store.certs();
    let parsed: Vec<X509Certificate<'_>> = certs.iter().map(parse).collect::<Result<_, _>>()?;
    // A CA whose limit several chains break is reported once.
    let mut limit_reported = vec![false; certs.len()];
    for (i, (cert, c)) in certs.iter().zip(&parsed).enumerate() {
        out.extend(certificate(file, cert)?);
        let n = named(c, &cert.der);
        let ca = is_ca(c);
        if !ca {
            out.push(Finding::new(
                &TRUSTSTORE_NOT_CA,
                file,
                Some(&n),
                format!(
                    "certificate {} is not a CA (no basicConstraints cA=TRUE); a truststore holds the CAs client certificates chain to",
                    i + 1
                ),
            ));
        } else if let Some(problem) = key_cert_sign_problem(c) {
            out.push(Finding::new(&CA_KEY_CERT_SIGN, file, Some(&n), problem));
        }
        if let Some(first) = certs[..i].iter().position(|o| o.der == cert.der) {
            out.push(Finding::new(
                &TRUSTSTORE_DUPLICATE,
                file,
                Some(&n),
                format!(
                    "certificate {} is the same as certificate {}",
                    i + 1,
                    first + 1
                ),
            ));
            continue;
        }
        let (path, top) = path_in(i, certs, &parsed);
        let max = crate::gateway::MAX_CLIENT_CHAIN_LEN;
        if ca && path.len() + 1 > max {
            out.push(Finding::new(
                &TRUSTSTORE_CHAIN_LENGTH,
                file,
                Some(&n),
                format!(
                    "a client certificate it issues makes a chain of {} certificates up to the root; API Gateway accepts at most {max}",
                    path.len() + 1
                ),
            ));
        }
        // The broken link is reported on the certificate above which it breaks, once.
        match top {
            Top::Root => {}
            Top::MissingIssuer if path.len() == 1 => out.push(Finding::new(
                &TRUSTSTORE_ROOT,
                file,
                Some(&n),
                format!(
                    "its issuer {} is not in the truststore, so its chain stops short of a self-signed root",
                    c.issuer()
                ),
            )),
            Top::BadSignature(j) if path.len() == 1 => out.push(Finding::new(
                &TRUSTSTORE_SIGNATURE,
                file,
                Some(&n),
                format!(
                    "it names {} (certificate {}) as its issuer, but that CA's key did not sign it",
                    parsed[j].subject(),
                    j + 1
                ),
            )),
            Top::MissingIssuer | Top::BadSignature(_) => {}
        }
        if !ca {
            continue;
        }
        // A client certificate under certificate `i` has `below` CAs under the ancestor.
        for (below, &above) in path.iter().enumerate().skip(1) {
            if limit_reported[above] {
                continue;
            }
            if let Some(problem) = path_len_problem(&parsed[above], below) {
                limit_reported[above] = true;
                out.push(Finding::new(
                    &CA_PATH_LEN,
                    file,
                    Some(&named(&parsed[above], &certs[above].der)),
                    format!("{problem}: {} is under it", c.subject()),
                ));
            }
        }
    }
    let size = store.to_pem().len();
    if size > MAX_TRUSTSTORE_BYTES {
        out.push(size_finding(file, size));
    }
    Ok(out)
}

fn size_finding(file: &str, size: usize) -> Finding {
    Finding::new(
        &TRUSTSTORE_SIZE,
        file,
        None,
        format!("{size} bytes; API Gateway takes truststores up to 1 MiB"),
    )
}

/// Where the walk up from a certificate through a truststore ended.
enum Top {
    /// At a self-issued certificate.
    Root,
    /// At a certificate whose issuer is not in the store.
    MissingIssuer,
    /// At a certificate whose issuer (by name) is this one, which did not sign it.
    BadSignature(usize),
}

/// The path from certificate `i` up through the store's certificates, `i` first, each
/// step checked by name and signature; and how it ended.
fn path_in(i: usize, certs: &[ParsedCert], parsed: &[X509Certificate<'_>]) -> (Vec<usize>, Top) {
    let mut path = vec![i];
    loop {
        let at = path[path.len() - 1];
        if parsed[at].subject() == parsed[at].issuer() {
            return (path, Top::Root);
        }
        let named: Vec<usize> = (0..certs.len())
            .filter(|j| !path.contains(j) && parsed[*j].subject() == parsed[at].issuer())
            .collect();
        match named.iter().find(|&&j| certs[at].is_issued_by(&certs[j])) {
            Some(&j) => path.push(j),
            None => match named.first() {
                Some(&j) => return (path, Top::BadSignature(j)),
                None => return (path, Top::MissingIssuer),
            },
        }
    }
}

/// A truststore file that could not be read as one (not PEM, other blocks, too large),
/// as a finding; `None` for any other error (a missing file, a private key in it).
/// `der` is the file's bytes when it is binary, to name a DER certificate.
pub fn truststore_unreadable(file: &str, error: &Error, der: Option<&[u8]>) -> Option<Finding> {
    match error {
        Error::BadTruststore { message, .. } => Some(Finding::new(
            &TRUSTSTORE_PEM,
            file,
            None,
            format!("not a PEM truststore: {message}"),
        )),
        Error::NotText { problem, .. } => {
            let named = der.and_then(|d| {
                x509_parser::parse_x509_certificate(d)
                    .ok()
                    .map(|(_, c)| named(&c, d))
            });
            Some(Finding::new(
                &TRUSTSTORE_PEM,
                file,
                named.as_ref(),
                format!("not a PEM truststore: {problem}"),
            ))
        }
        Error::FileTooLarge { limit, .. } => Some(Finding::new(
            &TRUSTSTORE_SIZE,
            file,
            None,
            format!("larger than {limit} bytes; API Gateway takes truststores up to 1 MiB"),
        )),
        _ => None,
    }
}

//! `mtls serve --crl`: the revoked client certificates, and how API Gateway answers them.
//!
//! API Gateway's mutual TLS checks that a client certificate chains to the truststore, and
//! forwards it to Lambda authorizers (API Gateway developer guide, rest-api-mutual-tls);
//! revocation is left to such an authorizer (AWS security blog, "How to implement client
//! certificate revocation list checks at scale with API Gateway"). So the TLS handshake of
//! a revoked client succeeds, and each of its requests gets the authorizer's explicit deny: a
//! 403 (the ACCESS_DENIED gateway response, API Gateway developer guide,
//! supported-gateway-response-types) with the message of an explicit deny (AWS knowledge
//! center, api-gateway-403-error-lambda-authorizer).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::pki::crl::trim_serial;
use crate::pki::{Crl, ParsedCert, MAX_CRL_BYTES};

use super::GatewayError;

/// The body API Gateway sends when a Lambda authorizer's policy denies the request
/// explicitly (see the module's sources).
pub(crate) const EXPLICIT_DENY: &str =
    r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#;

/// The revoked serials of each CA, by the CA's name (DER).
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    by_issuer: HashMap<Vec<u8>, HashSet<Vec<u8>>>,
}

impl Revocations {
    /// Reads the lists of `path` and keeps them only if each was signed by a CA of the
    /// truststore (`anchors`) and has not expired: a list that cannot be trusted or is out
    /// of date would deny or let through the wrong clients.
    pub(crate) fn load(path: &Path, anchors: &[ParsedCert]) -> Result<Revocations, GatewayError> {
        let bad = |reason: String| GatewayError::BadCrl {
            path: path.to_path_buf(),
            reason,
        };
        let text = read_capped(path).map_err(|e| bad(e.to_string()))?;
        let shown = path.display().to_string();
        let lists = Crl::all_from_pem(&shown, &text).map_err(|e| bad(e.to_string()))?;
        let now = time::OffsetDateTime::now_utc();
        let mut revocations = Revocations::default();
        for list in lists {
            list.signer_among(anchors)
                .map_err(|p| bad(format!("it is not signed by a CA of the truststore: {p}")))?;
            if let Some(next) = list.next_update.filter(|_| list.expired_at(now)) {
                return Err(bad(format!(
                    "the list of {} expired on {}",
                    list.issuer,
                    crate::pki::rfc3339(next)
                )));
            }
            revocations
                .by_issuer
                .entry(list.issuer_der().to_vec())
                .or_default()
                .extend(list.entries.into_iter().map(|r| r.serial));
        }
        Ok(revocations)
    }

    /// Whether the client certificate `der` is revoked by its issuer's list.
    pub(crate) fn is_revoked(&self, der: &[u8]) -> bool {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            return false;
        };
        self.by_issuer
            .get(cert.issuer().as_raw())
            .is_some_and(|serials| serials.contains(&trim_serial(cert.raw_serial())))
    }
}

fn read_capped(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CRL_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CRL_BYTES {
        return Err(std::io::Error::other(format!(
            "it is larger than {MAX_CRL_BYTES} bytes"
        )));
    }
    Ok(text)
}

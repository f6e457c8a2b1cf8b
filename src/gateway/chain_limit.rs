//! A client-certificate verifier that also enforces API Gateway's chain-length limit.
//!
//! webpki accepts longer chains than API Gateway does, so a rehearsal that only used
//! webpki would let through a client that the real custom domain refuses. This wrapper lets
//! webpki do all of the cryptographic and policy checks first and then measures the path
//! it accepted.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

/// Longest client chain API Gateway accepts, counted from the client certificate up to and
/// including the trust anchor from the truststore.
pub const MAX_CLIENT_CHAIN_LEN: usize = 4;

/// Wraps a verifier and rejects chains longer than `max_len`.
#[derive(Debug)]
pub(crate) struct ChainLimitVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    /// Raw DER subjects of the trust anchors, to find where a path ends.
    anchor_subjects: Vec<Vec<u8>>,
    max_len: usize,
}

impl ChainLimitVerifier {
    pub(crate) fn new(
        inner: Arc<dyn ClientCertVerifier>,
        anchors: &[CertificateDer<'_>],
        max_len: usize,
    ) -> Self {
        let anchor_subjects = anchors
            .iter()
            .filter_map(|der| {
                x509_parser::parse_x509_certificate(der)
                    .ok()
                    .map(|(_, c)| c.subject().as_raw().to_vec())
            })
            .collect();
        Self {
            inner,
            anchor_subjects,
            max_len,
        }
    }
}

/// Length of the path from `end_entity` to a trust anchor, anchor included, following
/// issuer names through `intermediates`; `None` when no such path is found by name.
///
/// Names are enough here: signatures were already checked by webpki, this only measures.
/// The shortest path wins, as a client sending surplus intermediates is not penalised.
pub(crate) fn path_len(
    end_entity: &[u8],
    intermediates: &[CertificateDer<'_>],
    anchor_subjects: &[Vec<u8>],
) -> Option<usize> {
    let parsed: Vec<_> = intermediates
        .iter()
        .filter_map(|der| {
            x509_parser::parse_x509_certificate(der)
                .ok()
                .map(|(_, c)| c)
        })
        .collect();
    let (_, leaf) = x509_parser::parse_x509_certificate(end_entity).ok()?;

    // Breadth-first over issuer names, so that the first anchor reached is the nearest.
    let mut frontier = vec![leaf.issuer().as_raw().to_vec()];
    let mut used = vec![false; parsed.len()];
    for len in 1..=parsed.len() + 1 {
        if frontier
            .iter()
            .any(|issuer| anchor_subjects.contains(issuer))
        {
            return Some(len + 1);
        }
        let mut next = Vec::new();
        for issuer in &frontier {
            for (i, cert) in parsed.iter().enumerate() {
                if !used[i] && cert.subject().as_raw() == issuer.as_slice() {
                    used[i] = true;
                    next.push(cert.issuer().as_raw().to_vec());
                }
            }
        }
        if next.is_empty() {
            return None;
        }
        frontier = next;
    }
    None
}

impl ClientCertVerifier for ChainLimitVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if let Some(len) = path_len(end_entity, intermediates, &self.anchor_subjects) {
            if len > self.max_len {
                tracing::warn!(
                    client = %super::pem_files::subject_of(end_entity),
                    chain_len = len,
                    max = self.max_len,
                    "client certificate refused: chain longer than API Gateway accepts"
                );
                return Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ));
            }
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

//! A client-certificate verifier that holds every accepted path to API Gateway's rules.
//!
//! webpki alone accepts more than API Gateway does: longer chains, and any certificate of
//! the truststore as an issuer, CA or not, whatever its keyUsage or pathLenConstraint (a
//! trust anchor keeps only a name and a key). This wrapper lets rustls's webpki verifier
//! do all of the cryptographic and policy checks first, then asks webpki for a path again,
//! vetting each candidate path as it is found: the path must be at most
//! [`MAX_CLIENT_CHAIN_LEN`] certificates, and every issuer on it, the trust anchor
//! included, must be able to issue ([`crate::pki::lint::cannot_issue`], the rules of
//! `mtls check`). The checks run on the path webpki verified, never on names alone: an
//! unverifiable extra intermediate sent by the client changes nothing.

use std::cell::RefCell;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, TrustAnchor, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::pki::lint::cannot_issue;

/// Longest client chain API Gateway accepts, counted from the client certificate up to and
/// including the trust anchor from the truststore.
///
/// API Gateway developer guide, rest-api-mutual-tls (configuring your truststore): the
/// certificate chain is at most four levels deep.
pub const MAX_CLIENT_CHAIN_LEN: usize = 4;

/// Wraps a verifier and refuses paths that break API Gateway's rules (see the module).
#[derive(Debug)]
pub(crate) struct ChainLimitVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    /// The truststore's certificates, and the same as webpki trust anchors.
    anchor_certs: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    algorithms: &'static [&'static dyn SignatureVerificationAlgorithm],
    max_len: usize,
}

impl ChainLimitVerifier {
    pub(crate) fn new(
        inner: Arc<dyn ClientCertVerifier>,
        truststore: &[CertificateDer<'static>],
        algorithms: &'static [&'static dyn SignatureVerificationAlgorithm],
        max_len: usize,
    ) -> Self {
        let (anchor_certs, anchors) = truststore
            .iter()
            .filter_map(|der| {
                let anchor = webpki::anchor_from_trusted_cert(der).ok()?.to_owned();
                Some((der.clone(), anchor))
            })
            .unzip();
        Self {
            inner,
            anchor_certs,
            anchors,
            algorithms,
            max_len,
        }
    }

    /// The truststore certificate a path ended at.
    fn anchor_cert(&self, anchor: &TrustAnchor<'_>) -> Option<&CertificateDer<'static>> {
        self.anchors
            .iter()
            .position(|a| {
                a.subject == anchor.subject
                    && a.subject_public_key_info == anchor.subject_public_key_info
            })
            .map(|i| &self.anchor_certs[i])
    }

    /// Why API Gateway would refuse this verified path; `None` when it would not.
    fn path_problem(&self, path: &webpki::VerifiedPath<'_>) -> Option<String> {
        // Issuers from the one that signed the client certificate upwards.
        let intermediates: Vec<CertificateDer<'_>> =
            path.intermediate_certificates().map(|c| c.der()).collect();
        let len = intermediates.len() + 2;
        if len > self.max_len {
            return Some(format!(
                "a chain of {len} certificates; API Gateway accepts at most {}",
                self.max_len
            ));
        }
        for (below, der) in intermediates.iter().enumerate() {
            if let Some(reason) = cannot_issue(der, below) {
                return Some(format!("{}: {reason}", super::pem_files::subject_of(der)));
            }
        }
        let Some(anchor) = self.anchor_cert(path.anchor()) else {
            return Some("its trust anchor is not a truststore certificate".to_string());
        };
        cannot_issue(anchor, intermediates.len())
            .map(|reason| format!("{}: {reason}", super::pem_files::subject_of(anchor)))
    }

    /// Asks webpki for a path that also passes [`Self::path_problem`]; the reason the last
    /// candidate was refused when there is none.
    fn vetted_path(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(), String> {
        let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|e| e.to_string())?;
        let refused = RefCell::new(None);
        let vet = |path: &webpki::VerifiedPath<'_>| match self.path_problem(path) {
            None => Ok(()),
            Some(reason) => {
                *refused.borrow_mut() = Some(reason);
                Err(webpki::Error::UnknownIssuer)
            }
        };
        cert.verify_for_usage(
            self.algorithms,
            &self.anchors,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
            None,
            Some(&vet),
        )
        .map(|_| ())
        .map_err(|e| refused.into_inner().unwrap_or_else(|| e.to_string()))
    }
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
        // First rustls's own verdict, with its precise errors (expired, unknown issuer...).
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if let Err(reason) = self.vetted_path(end_entity, intermediates, now) {
            tracing::warn!(
                client = %super::pem_files::subject_of(end_entity),
                %reason,
                "client certificate refused: no path API Gateway would accept"
            );
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
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

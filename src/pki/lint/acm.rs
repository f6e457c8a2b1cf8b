//! The `acm` rules: an ACM import (the certificate, its key, its chain issuer first), the
//! server key a REGIONAL custom domain serves, and the domain the certificate covers.

use rcgen::PublicKeyData;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::public_key::PublicKey;

use super::ca::{is_ca, key_cert_sign_problem, path_len_problem};
use super::certificate::{certificate, curve_name};
use super::{named, parse, Finding};
use super::{
    ACM_CHAIN_END_ENTITY, ACM_CHAIN_ORDER, ACM_KEY_MISMATCH, ACM_KEY_UNUSABLE, ACM_SERVER_KEY,
    CA_KEY_CERT_SIGN, CA_PATH_LEN, DOMAIN_NOT_COVERED,
};
use crate::error::Error;
use crate::pki::inspect::ParsedCert;
use crate::pki::secret::SecretPem;

/// The server key rule of a REGIONAL custom domain (see the `acm-server-key` rule):
/// RSA 2048, ECDSA P-256 or P-384. Smaller keys and other curves are other rules' findings.
fn regional_server_key_problem(c: &X509Certificate<'_>) -> Option<String> {
    match c.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) if rsa.key_size() > 2048 => Some(format!(
            "RSA {}-bit key; a REGIONAL custom domain serves RSA keys of 2048 bits",
            rsa.key_size()
        )),
        Ok(PublicKey::EC(_)) if curve_name(c) == Ok("P-521") => Some(
            "ECDSA P-521 key; a REGIONAL custom domain serves ECDSA P-256 or P-384".to_string(),
        ),
        _ => None,
    }
}

/// The files of an ACM import: the certificate (first block of its file), its key and
/// chain when given.
pub struct AcmFiles<'a> {
    /// The certificate's file, as given.
    pub cert_file: &'a str,
    /// The certificate.
    pub cert: &'a ParsedCert,
    /// The key's file and text.
    pub key: Option<(&'a str, &'a SecretPem)>,
    /// The chain's file and certificates, issuer first.
    pub chain: Option<(&'a str, &'a [ParsedCert])>,
}

/// ACM's import rules: the certificate passes [`certificate`]; the key is unencrypted,
/// of a type and size ACM takes, and the certificate's; the chain goes up from the
/// certificate's issuer, each certificate certifying the one before, CAs only.
pub fn acm_import(files: &AcmFiles<'_>) -> Result<Vec<Finding>, Error> {
    let AcmFiles {
        cert_file, cert, ..
    } = *files;
    let leaf = parse(cert)?;
    let leaf_name = named(&leaf, &cert.der);
    let mut out = certificate(cert_file, cert)?;
    if let Some(problem) = regional_server_key_problem(&leaf) {
        out.push(Finding::new(
            &ACM_SERVER_KEY,
            cert_file,
            Some(&leaf_name),
            problem,
        ));
    }
    if let Some((key_file, key)) = files.key {
        if key.len() > 5120 {
            out.push(Finding::new(
                &ACM_KEY_UNUSABLE,
                key_file,
                Some(&leaf_name),
                format!(
                    "{key_file} is {} bytes; ACM accepts keys up to 5120 bytes",
                    key.len()
                ),
            ));
        }
        match crate::pki::parse_key_pem(key_file, key) {
            Ok(k) => {
                if cert.spki_der()? != k.subject_public_key_info() {
                    out.push(Finding::new(
                        &ACM_KEY_MISMATCH,
                        key_file,
                        Some(&leaf_name),
                        format!("{key_file} does not belong to {cert_file}"),
                    ));
                }
            }
            Err(e) => out.push(Finding::new(
                &ACM_KEY_UNUSABLE,
                key_file,
                Some(&leaf_name),
                e.to_string(),
            )),
        }
    }
    if let Some((chain_file, chain)) = files.chain {
        let mut child = cert;
        for (i, ca) in chain.iter().enumerate() {
            let c = parse(ca)?;
            let n = named(&c, &ca.der);
            let ca_cert = is_ca(&c);
            if ca.der == cert.der {
                out.push(Finding::new(
                    &ACM_CHAIN_END_ENTITY,
                    chain_file,
                    Some(&n),
                    format!("{chain_file} contains the end-entity certificate {cert_file}; ACM wants only its issuers"),
                ));
            } else if !ca_cert {
                out.push(Finding::new(
                    &ACM_CHAIN_END_ENTITY,
                    chain_file,
                    Some(&n),
                    format!("certificate {} of {chain_file} is an end-entity certificate (not a CA); ACM wants only the issuers of {cert_file}", i + 1),
                ));
            } else if !child.is_issued_by(ca) {
                out.push(Finding::new(
                    &ACM_CHAIN_ORDER,
                    chain_file,
                    Some(&n),
                    format!("certificate {} of {chain_file} did not issue the one before it: the chain must go from the issuer of {cert_file} up towards the root, in that order", i + 1),
                ));
            }
            // Certificate i of the chain has i CAs of the chain under it.
            if ca_cert {
                if let Some(problem) = key_cert_sign_problem(&c) {
                    out.push(Finding::new(
                        &CA_KEY_CERT_SIGN,
                        chain_file,
                        Some(&n),
                        problem,
                    ));
                }
                if let Some(problem) = path_len_problem(&c, i) {
                    out.push(Finding::new(&CA_PATH_LEN, chain_file, Some(&n), problem));
                }
            }
            child = ca;
        }
    }
    Ok(out)
}

/// The certificate's subjectAltNames cover `domain` (a DNS name, `*.` wildcards matching
/// one label, or an IP address).
pub fn domain(file: &str, cert: &ParsedCert, domain: &str) -> Result<Vec<Finding>, Error> {
    let c = parse(cert)?;
    let wanted = domain.trim_end_matches('.').to_ascii_lowercase();
    let ip: Option<std::net::IpAddr> = wanted.parse().ok();
    let mut names = Vec::new();
    let mut covered = false;
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => {
                    let d = d.trim_end_matches('.').to_ascii_lowercase();
                    covered |= dns_matches(&d, &wanted);
                    names.push(format!("DNS:{d}"));
                }
                GeneralName::IPAddress(bytes) => {
                    let theirs = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    covered |= ip.is_some() && theirs == ip;
                    if let Some(t) = theirs {
                        names.push(format!("IP:{t}"));
                    }
                }
                _ => {}
            }
        }
    }
    if covered {
        return Ok(Vec::new());
    }
    let names = if names.is_empty() {
        "it has no DNS or IP subjectAltName".to_string()
    } else {
        format!("its names are {}", names.join(", "))
    };
    Ok(vec![Finding::new(
        &DOMAIN_NOT_COVERED,
        file,
        Some(&named(&c, &cert.der)),
        format!("no subjectAltName covers {wanted}: {names}"),
    )])
}

pub(super) fn dns_matches(pattern: &str, name: &str) -> bool {
    if pattern == name {
        return true;
    }
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(base), Some((label, rest))) => !label.is_empty() && base == rest,
        _ => false,
    }
}

//! The four kinds of certificate the walkthrough makes, and how each is issued.
//!
//! Every certificate is X.509 v3 with the extensions a strict verifier wants: CAs have a
//! critical basicConstraints CA:TRUE (the intermediate with pathLen 0) and keyUsage
//! keyCertSign + cRLSign; leaves have CA:FALSE, digitalSignature (+ keyEncipherment for
//! RSA) and the one extended key usage they serve. Subject and authority key identifiers
//! are always present, and serial numbers are 127 random bits, so no two certificates
//! share one (the article's `-set_serial 01` gives two certificates of one issuer the
//! same serial).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, SigningKey,
};
use time::{Duration, OffsetDateTime};

use super::{KeyAlgorithm, Subject};
use crate::error::Error;

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Self-signed root of the private CA; its certificate is the truststore.
    RootCa,
    /// CA signed by the root that signs the server certificate (pathLen 0).
    IntermediateCa,
    /// The custom domain's certificate imported into ACM (serverAuth).
    Server,
    /// The certificate API callers present (clientAuth).
    Client,
}

impl Profile {
    /// Every profile, in the walkthrough's order.
    pub const ALL: [Profile; 4] = [
        Profile::RootCa,
        Profile::IntermediateCa,
        Profile::Server,
        Profile::Client,
    ];

    /// The name scripts use.
    pub fn name(self) -> &'static str {
        match self {
            Profile::RootCa => "root",
            Profile::IntermediateCa => "intermediate",
            Profile::Server => "server",
            Profile::Client => "client",
        }
    }

    /// Whether certificates of this profile sign others.
    pub fn is_ca(self) -> bool {
        matches!(self, Profile::RootCa | Profile::IntermediateCa)
    }

    /// Whether this profile is signed by its own key.
    pub fn is_self_signed(self) -> bool {
        self == Profile::RootCa
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown profile {s:?}; use root, intermediate, server or client")
            })
    }
}

/// Everything that decides the content of a certificate, except its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct CertSpec {
    /// Which kind of certificate (root, intermediate, server, client).
    pub profile: Profile,
    /// Its subject.
    pub subject: Subject,
    /// dNSName or iPAddress subject alternative names (servers).
    pub sans: Vec<String>,
    /// Validity from now, in days.
    pub days: u32,
}

/// The CA that signs a certificate: its certificate (PEM) and private key.
pub struct IssuerMaterial<'a> {
    /// The CA certificate, PEM.
    pub cert_pem: &'a str,
    /// The CA's private key.
    pub key: &'a KeyPair,
}

impl CertSpec {
    fn params(&self, key_alg: KeyAlgorithm) -> Result<CertificateParams, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = self.subject.to_rcgen();
        params.serial_number = Some(random_serial()?);
        // A minute of slack: a certificate made now is valid now even on a machine whose
        // clock is slightly ahead of the verifier's (ACM refuses not-yet-valid imports).
        // Whole seconds: what the certificate encodes, so a manifest made from these
        // parameters says what a reader of the certificate finds.
        let now = OffsetDateTime::now_utc();
        let now = now.replace_nanosecond(0).unwrap_or(now);
        params.not_before = now - Duration::minutes(1);
        params.not_after = now + Duration::days(i64::from(self.days));
        params.use_authority_key_identifier_extension = !self.profile.is_self_signed();
        params.subject_alt_names = self
            .sans
            .iter()
            .map(|name| san(name))
            .collect::<Result<_, _>>()?;
        match self.profile {
            Profile::RootCa => {
                params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
                params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            }
            Profile::IntermediateCa => {
                params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
                params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            }
            Profile::Server | Profile::Client => {
                params.is_ca = IsCa::ExplicitNoCa;
                params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
                if key_alg.is_rsa() {
                    params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
                }
                params.extended_key_usages = vec![if self.profile == Profile::Server {
                    ExtendedKeyUsagePurpose::ServerAuth
                } else {
                    ExtendedKeyUsagePurpose::ClientAuth
                }];
            }
        }
        Ok(params)
    }

    /// Issues the certificate for `subject_key`, signed by `issuer` (or by itself for a
    /// root), and returns it as PEM.
    pub fn issue(
        &self,
        subject_key: &KeyPair,
        key_alg: KeyAlgorithm,
        issuer: Option<IssuerMaterial<'_>>,
    ) -> Result<String, Error> {
        let params = self.params(key_alg)?;
        let what = format!("issue the {} certificate", self.profile);
        let cert = match (self.profile.is_self_signed(), issuer) {
            (true, _) => params.self_signed(subject_key),
            (false, Some(issuer)) => {
                let issuer = Issuer::from_ca_cert_pem(issuer.cert_pem, issuer.key)
                    .map_err(|e| Error::crypto(&what, e))?;
                params.signed_by(subject_key, &issuer)
            }
            (false, None) => {
                return Err(Error::invalid_argument(
                    "issue_cert",
                    "issuer",
                    format!("a {} certificate needs an issuing CA", self.profile),
                    "pass the CA returned by gen_root_ca or gen_intermediate_ca",
                ))
            }
        }
        .map_err(|e| Error::crypto(&what, e))?;
        Ok(cert.pem())
    }
}

/// A certificate just signed, with the facts a fleet's manifest lists.
pub struct Signed {
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// The certificate, PEM.
    pub pem: String,
    /// The serial number's bytes (a positive DER integer's content).
    pub serial: Vec<u8>,
    /// End of validity, as encoded (whole seconds).
    pub not_after: OffsetDateTime,
}

impl CertSpec {
    /// Signs a certificate for `public_key` with an issuer prepared once
    /// ([`prepare_issuer`]) and a serial drawn by [`new_serial`] (callers that sign many
    /// draw them first, to make sure they are distinct): a client fleet, a CSR.
    pub fn sign(
        &self,
        public_key: &impl PublicKeyData,
        key_alg: KeyAlgorithm,
        issuer: &Issuer<'_, impl SigningKey>,
        serial: &[u8],
    ) -> Result<Signed, Error> {
        let mut params = self.params(key_alg)?;
        params.serial_number = Some(SerialNumber::from_slice(serial));
        let serial = serial.to_vec();
        let not_after = params.not_after;
        let cert = params
            .signed_by(public_key, issuer)
            .map_err(|e| Error::crypto(format!("issue the {} certificate", self.profile), e))?;
        Ok(Signed {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            serial,
            not_after,
        })
    }
}

/// The issuer for [`CertSpec::sign`]: the CA certificate (PEM) with its key, parsed once.
pub fn prepare_issuer<'k>(
    cert_pem: &str,
    key: &'k KeyPair,
) -> Result<Issuer<'static, &'k KeyPair>, Error> {
    Issuer::from_ca_cert_pem(cert_pem, key).map_err(|e| Error::crypto("read the issuing CA", e))
}

fn san(name: &str) -> Result<SanType, Error> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let dns = name.try_into().map_err(|e| {
        Error::invalid_argument(
            "issue_cert",
            "san",
            format!("{name:?} is not a valid DNS name: {e}"),
            "use a host name such as api.example.com, or an IP address",
        )
    })?;
    Ok(SanType::DnsName(dns))
}

/// A new serial number's bytes, as [`CertSpec::sign`] takes them.
pub fn new_serial() -> Result<Vec<u8>, Error> {
    Ok(random_serial()?.to_bytes())
}

/// 16 random bytes, first bit cleared so the DER integer is positive: 127 bits of
/// entropy, far over the 64 that CA/Browser rules ask for.
fn random_serial() -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| Error::crypto("draw a serial number", "no randomness"))?;
    bytes[0] &= 0x7f;
    // A leading zero byte would be dropped by DER and shorten the serial.
    bytes[0] |= 0x01;
    Ok(SerialNumber::from_slice(&bytes))
}

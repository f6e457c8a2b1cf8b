//! AWS Certificate Manager: the imported server certificate (the walkthrough, step 7) and the
//! public "ownership verification" certificate validated by DNS (step 8).

use crate::pki::SecretPem;
use std::fmt;

use aws_sdk_acm::primitives::Blob;
use aws_sdk_acm::types::{
    CertificateStatus, CertificateType, Filters, KeyAlgorithm, Tag, ValidationMethod,
};

use super::wait::{poll, Poll};
use super::{local_code, to_offset_datetime, AwsError, SdkResultExt, Tags, Wait};

const SERVICE: &str = "acm";

/// Key types listed by [`Acm::find_certificates`]. Without this filter `ListCertificates`
/// shows RSA 2048 certificates only, and an imported RSA 4096 or ECDSA one would be missed.
const ALL_KEY_TYPES: [KeyAlgorithm; 7] = [
    KeyAlgorithm::Rsa1024,
    KeyAlgorithm::Rsa2048,
    KeyAlgorithm::Rsa3072,
    KeyAlgorithm::Rsa4096,
    KeyAlgorithm::EcPrime256v1,
    KeyAlgorithm::EcSecp384r1,
    KeyAlgorithm::EcSecp521r1,
];

/// Why a certificate in `status` will not be issued, when ACM's status says it (ACM API
/// reference, CertificateDetail: "ACM makes repeated attempts to validate a certificate for
/// 72 hours and then times out"); empty otherwise.
fn dead_end_cause(status: &str) -> &'static str {
    match status {
        "VALIDATION_TIMED_OUT" => {
            ": ACM did not find its DNS validation record in public DNS within 72 hours"
        }
        _ => "",
    }
}

/// What to import. The private key never appears in `Debug` output or in a log.
#[derive(Clone, Copy)]
pub struct CertificateImport<'a> {
    /// The end-entity certificate, PEM.
    pub certificate_pem: &'a str,
    /// Its private key, PEM, unencrypted: the one AWS field a [`SecretPem`] may reach.
    pub private_key: &'a SecretPem,
    /// The issuing chain, PEM, without the end-entity certificate.
    pub chain_pem: Option<&'a str>,
    /// Re-import into this certificate (same ARN, so API Gateway domains using it follow).
    pub reimport_arn: Option<&'a str>,
    /// Tags for a new import. ACM refuses tags on a re-import, so they are not sent then;
    /// the certificate keeps the tags it has.
    pub tags: &'a Tags,
}

impl fmt::Debug for CertificateImport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateImport")
            .field(
                "certificate_pem",
                &format_args!("{} bytes", self.certificate_pem.len()),
            )
            .field("private_key", self.private_key)
            .field("chain_pem", &self.chain_pem.map(str::len))
            .field("reimport_arn", &self.reimport_arn)
            .field("tags", &self.tags)
            .finish()
    }
}

/// The capability to take a key's bytes for `ImportCertificate`'s private key field: the
/// private field means only this module can make one (see `KeyDestination` in src/pki/secret.rs).
pub struct AcmPrivateKeyField(());

/// Who made the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateKind {
    /// Imported with `ImportCertificate` (the server certificate of the walkthrough).
    Imported,
    /// Issued by ACM after validation (the ownership verification certificate).
    AmazonIssued,
    /// Issued by an AWS Private CA.
    Private,
    /// A kind this code does not know yet.
    Other(String),
}

impl CertificateKind {
    fn from_sdk(t: Option<&CertificateType>) -> Self {
        match t {
            Some(CertificateType::Imported) => CertificateKind::Imported,
            Some(CertificateType::AmazonIssued) => CertificateKind::AmazonIssued,
            Some(CertificateType::Private) => CertificateKind::Private,
            Some(other) => CertificateKind::Other(other.as_str().to_string()),
            None => CertificateKind::Other(String::new()),
        }
    }
}

/// A DNS record to create, as ACM gives it for DNS validation (names end with a dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationRecord {
    /// Record name, e.g. `_x1.api.example.com.`.
    pub name: String,
    /// CNAME target, e.g. `_x2.acm-validations.aws.`.
    pub value: String,
}

/// `DescribeCertificate`, reduced to what the walkthrough needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The ARN.
    pub arn: String,
    /// The primary domain name (the subject CN for imports).
    pub domain: String,
    /// ACM's status: `PENDING_VALIDATION`, `ISSUED`, `FAILED`, `EXPIRED`, ...
    pub status: String,
    /// Imported or issued.
    pub kind: CertificateKind,
    /// The CNAME to create for DNS validation of the primary domain (requested certificates
    /// only; AWS fills it in a few seconds after the request).
    pub validation_cname: Option<ValidationRecord>,
    /// End of validity.
    pub not_after: Option<time::OffsetDateTime>,
    /// The serial number as ACM shows it.
    pub serial: Option<String>,
    /// Why validation failed, when it did.
    pub failure_reason: Option<String>,
    /// ARNs of resources using the certificate (it cannot be deleted while this is non-empty).
    pub in_use_by: Vec<String>,
}

impl CertificateInfo {
    /// Whether ACM reports it `ISSUED`.
    pub fn is_issued(&self) -> bool {
        self.status == CertificateStatus::Issued.as_str()
    }
}

/// One certificate found by [`Acm::find_certificates`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateSummary {
    /// The ARN.
    pub arn: String,
    /// The primary domain name.
    pub domain: String,
    /// ACM's status.
    pub status: String,
    /// Imported or issued.
    pub kind: CertificateKind,
    /// All its tags.
    pub tags: Tags,
}

/// A certificate's PEM as ACM stores it (`GetCertificate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePem {
    /// The end-entity certificate.
    pub certificate: String,
    /// The chain, when there is one.
    pub chain: Option<String>,
}

/// The ACM client.
#[derive(Debug, Clone)]
pub struct Acm {
    client: aws_sdk_acm::Client,
    adopted: super::AdoptedTags,
}

impl Acm {
    pub(crate) fn new(client: aws_sdk_acm::Client, adopted: super::AdoptedTags) -> Self {
        Acm { client, adopted }
    }

    /// `AddTagsToCertificate`: adds `tags`, keeping the certificate's others (adoption).
    pub async fn add_tags(&self, arn: &str, tags: &Tags) -> Result<(), AwsError> {
        const OP: &str = "AddTagsToCertificate";
        self.client
            .add_tags_to_certificate()
            .certificate_arn(arn)
            .set_tags(sdk_tags(tags, OP)?)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(())
    }

    /// `ImportCertificate` (or re-import into `reimport_arn`); returns the ARN.
    pub async fn import_certificate(
        &self,
        import: &CertificateImport<'_>,
    ) -> Result<String, AwsError> {
        const OP: &str = "ImportCertificate";
        let request = self
            .client
            .import_certificate()
            .certificate(Blob::new(import.certificate_pem.as_bytes()))
            .private_key(Blob::new(
                import.private_key.expose_to(&AcmPrivateKeyField(())),
            ))
            .set_certificate_chain(import.chain_pem.map(|c| Blob::new(c.as_bytes())));
        let out = match import.reimport_arn {
            // A re-import over the same ARN is idempotent: the SDK may retry it.
            Some(arn) => request
                .certificate_arn(arn)
                .send()
                .await
                .or_aws(SERVICE, OP)?,
            // A new import has no idempotency token: a retry after a lost answer (a
            // timeout, a reset) would import a second certificate. Sent once, and again only
            // after an answer that proves nothing was imported (ACM's ThrottlingException);
            // after any other failure the next run finds the certificate by its tags.
            None => {
                let request = request.set_tags(sdk_tags(import.tags, OP)?);
                super::wait::send_create("importing the certificate into ACM", || async {
                    request
                        .clone()
                        .customize()
                        .config_override(
                            aws_sdk_acm::config::Builder::default()
                                .retry_config(super::wait::no_retries()),
                        )
                        .send()
                        .await
                        .or_aws(SERVICE, OP)
                })
                .await?
            }
        };
        out.certificate_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "CertificateArn"))
    }

    /// `RequestCertificate` for `domain` with DNS validation; returns the ARN. The same
    /// `idempotency_token` (up to 32 word characters) within an hour returns the same ARN.
    pub async fn request_certificate(
        &self,
        domain: &str,
        tags: &Tags,
        idempotency_token: Option<&str>,
    ) -> Result<String, AwsError> {
        const OP: &str = "RequestCertificate";
        let out = self
            .client
            .request_certificate()
            .domain_name(domain)
            .validation_method(ValidationMethod::Dns)
            .set_idempotency_token(idempotency_token.map(str::to_string))
            .set_tags(sdk_tags(tags, OP)?)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        out.certificate_arn()
            .map(str::to_string)
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "CertificateArn"))
    }

    /// `DescribeCertificate`.
    pub async fn describe(&self, arn: &str) -> Result<CertificateInfo, AwsError> {
        const OP: &str = "DescribeCertificate";
        let out = self
            .client
            .describe_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        let c = out
            .certificate()
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "Certificate"))?;
        let domain = c.domain_name().unwrap_or_default().to_string();
        // The record for the primary domain; ACM lists one option per name on the certificate.
        let validation_cname = c
            .domain_validation_options()
            .iter()
            .filter(|o| o.domain_name().eq_ignore_ascii_case(&domain))
            .chain(c.domain_validation_options())
            .find_map(|o| o.resource_record())
            .map(|r| ValidationRecord {
                name: r.name().to_string(),
                value: r.value().to_string(),
            });
        Ok(CertificateInfo {
            arn: c.certificate_arn().unwrap_or(arn).to_string(),
            domain,
            status: c
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            kind: CertificateKind::from_sdk(c.r#type()),
            validation_cname,
            not_after: c.not_after().and_then(to_offset_datetime),
            serial: c.serial().map(str::to_string),
            failure_reason: c.failure_reason().map(|r| r.as_str().to_string()),
            in_use_by: c.in_use_by().to_vec(),
        })
    }

    /// `ListTagsForCertificate`.
    pub async fn tags(&self, arn: &str) -> Result<Tags, AwsError> {
        let out = self
            .client
            .list_tags_for_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .or_aws(SERVICE, "ListTagsForCertificate")?;
        let mut tags: Tags = out
            .tags()
            .iter()
            .map(|t| {
                (
                    t.key().to_string(),
                    t.value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        self.adopted.apply(arn, &mut tags);
        Ok(tags)
    }

    /// Certificates of every key type (`ListCertificates` with `Includes.keyTypes`, all
    /// pages) whose primary domain is `domain` (any when `None`, compared without case) and
    /// whose tags include every pair of `tags` (`ListTagsForCertificate` per candidate).
    /// A certificate ACM still lists after deleting it (its tags are "not found") is left out.
    pub async fn find_certificates(
        &self,
        domain: Option<&str>,
        tags: &Tags,
    ) -> Result<Vec<CertificateSummary>, AwsError> {
        let mut found = Vec::new();
        let mut next_token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_certificates()
                .includes(
                    Filters::builder()
                        .set_key_types(Some(ALL_KEY_TYPES.to_vec()))
                        .build(),
                )
                .set_next_token(next_token.take())
                .send()
                .await
                .or_aws(SERVICE, "ListCertificates")?;
            for s in out.certificate_summary_list() {
                let (Some(arn), cert_domain) = (s.certificate_arn(), s.domain_name().unwrap_or(""))
                else {
                    continue;
                };
                if domain.is_some_and(|d| !d.eq_ignore_ascii_case(cert_domain)) {
                    continue;
                }
                // A certificate deleted a moment ago is still listed for a while, and its
                // tags are then "not found": it is gone, so it is skipped.
                let cert_tags = match self.tags(arn).await {
                    Ok(t) => t,
                    Err(e) if e.is_not_found() => {
                        tracing::info!(
                            "{arn} is listed but no longer exists (just deleted): skipped"
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                if !tags.iter().all(|(k, v)| cert_tags.get(k) == Some(v)) {
                    continue;
                }
                found.push(CertificateSummary {
                    arn: arn.to_string(),
                    domain: cert_domain.to_string(),
                    status: s
                        .status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                    kind: CertificateKind::from_sdk(s.r#type()),
                    tags: cert_tags,
                });
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => next_token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(found)
    }

    /// `GetCertificate`: the PEM ACM holds, to compare with a local file.
    pub async fn certificate_pem(&self, arn: &str) -> Result<CertificatePem, AwsError> {
        const OP: &str = "GetCertificate";
        let out = self
            .client
            .get_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        Ok(CertificatePem {
            certificate: out
                .certificate()
                .ok_or_else(|| AwsError::missing(SERVICE, OP, "Certificate"))?
                .to_string(),
            chain: out.certificate_chain().map(str::to_string),
        })
    }

    /// Polls `DescribeCertificate` until ACM shows the DNS validation record, which it adds
    /// a few seconds after `RequestCertificate`.
    pub async fn wait_for_validation_record(
        &self,
        arn: &str,
        wait: &Wait,
    ) -> Result<ValidationRecord, AwsError> {
        poll(
            wait,
            SERVICE,
            "DescribeCertificate",
            "ACM validation record",
            || async {
                let info = self.describe(arn).await?;
                Ok(match info.validation_cname {
                    Some(record) => Poll::Done(record),
                    None => Poll::Pending(format!("{} without a validation record", info.status)),
                })
            },
        )
        .await
    }

    /// Polls `DescribeCertificate` until the certificate is `ISSUED`; fails at once when it
    /// reaches a state it cannot leave (`FAILED`, `VALIDATION_TIMED_OUT`, `REVOKED`, ...),
    /// with the status, ACM's reason and, for a timed-out validation, what ACM looked for
    /// (the error's help says what to do: [`AwsError::help_text`]).
    pub async fn wait_until_issued(
        &self,
        arn: &str,
        wait: &Wait,
    ) -> Result<CertificateInfo, AwsError> {
        const OP: &str = "DescribeCertificate";
        let what = format!("certificate {arn}");
        poll(wait, SERVICE, OP, &what, || async {
            let info = self.describe(arn).await?;
            match info.status.as_str() {
                "ISSUED" => Ok(Poll::Done(info)),
                "PENDING_VALIDATION" => Ok(Poll::Pending(info.status)),
                _ => Err(AwsError::local(
                    SERVICE,
                    OP,
                    local_code::FAILED_STATE,
                    format!(
                        "certificate {arn} is {}{} and will not become ISSUED{}",
                        info.status,
                        info.failure_reason
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default(),
                        dead_end_cause(&info.status)
                    ),
                )),
            }
        })
        .await
    }

    /// `DeleteCertificate`, asked again while ACM still counts the certificate as in use
    /// (it does for minutes after the custom domain that used it is deleted).
    pub async fn delete(&self, arn: &str) -> Result<(), AwsError> {
        let in_use =
            |e: &AwsError| super::wait::Transient::of(e) == Some(super::wait::Transient::InUse);
        super::wait::retry(
            &super::wait::Retry::in_use(),
            &format!("deleting {arn}"),
            in_use,
            || async {
                self.client
                    .delete_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .or_aws(SERVICE, "DeleteCertificate")
                    .map(|_| ())
            },
        )
        .await
    }

    /// `DescribeCertificate` of a certificate just requested: ACM may not know it for a
    /// few seconds, so "not found" is asked again within a bound.
    pub async fn describe_new(&self, arn: &str) -> Result<CertificateInfo, AwsError> {
        super::wait::retry(
            &super::wait::Retry::not_yet(),
            &format!("reading {arn}"),
            AwsError::is_not_found,
            || self.describe(arn),
        )
        .await
    }
}

/// Tags as ACM wants them; `None` for no tags, since ACM rejects an empty list.
fn sdk_tags(tags: &Tags, operation: &'static str) -> Result<Option<Vec<Tag>>, AwsError> {
    if tags.is_empty() {
        return Ok(None);
    }
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::build(SERVICE, operation, e))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

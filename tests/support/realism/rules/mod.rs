//! The rules: one small [`Rule`](super::Rule) per documented AWS behaviour moto lacks,
//! grouped by service. Each rule's documentation names the AWS page it models;
//! tests/README.md maps every AWS operation mtls calls to the rules that model it.
//!
//! | rule                          | file               | AWS behaviour                               |
//! |-------------------------------|--------------------|---------------------------------------------|
//! | [`CertificateInUse`]          | acm.rs             | DeleteCertificate: ResourceInUseException for a while after the domain that used it is deleted |
//! | [`NewCertificateLag`]         | acm.rs             | DescribeCertificate: ResourceNotFoundException right after RequestCertificate, then no validation record for a while |
//! | [`DeletedCertificatesListed`] | acm.rs             | a deleted certificate is still listed for a while; its tags are then "not found" |
//! | [`CertificateDeadEnd`]        | acm_dead_end.rs    | a requested certificate ends FAILED or VALIDATION_TIMED_OUT |
//! | [`DomainRateLimit`]           | apigateway.rs      | one Create/Update/DeleteDomainName and one DeleteRestApi per 30 s per account (each its own window), HTTP 429 with Retry-After |
//! | [`DomainUpdating`]            | apigateway.rs      | a domain is UPDATING after a create or update, and changes to it are refused (409) until AVAILABLE |
//! | [`EndpointNeedsDeployment`]   | apigateway.rs      | disabling the default endpoint takes effect only with a deployment |
//! | [`ReimportAcrossIssuers`]     | domain_status.rs   | a re-import from another issuer leaves the domain PENDING_CERTIFICATE_REIMPORT |
//! | [`OwnershipExpired`]          | domain_status.rs   | an expired ownership certificate: PENDING_OWNERSHIP_VERIFICATION, other updates refused |
//! | [`RoleNotAssumableYet`]       | lambda.rs          | CreateFunction / UpdateFunctionConfiguration: InvalidParameterValueException while a new or newly trusted role propagates |
//! | [`FunctionUpdating`]          | lambda.rs          | a function is Pending after its create, InProgress after an update; updates get 409 ResourceConflictException meanwhile |
//! | [`Quota`]                     | quota.rs           | fixed per-account quotas (429 + Retry-After; ACM and Route 53 throttling) |
//! | [`VersioningLag`]             | s3.rs              | right after versioning is enabled, writes may get no version id |
//! | [`VersioningNotFound`]        | s3.rs              | new objects answer 404 while versioning propagates; API Gateway cannot read such a truststore |
//! | [`ChangePending`]             | route53.rs         | a record change is PENDING until INSYNC |
//! | [`PublicDns`]                 | route53.rs         | ACM validates through public DNS: only a record the registrar's delegation reaches counts |
//! | [`Latency`], [`Fault`], [`Hold`] | network.rs      | answers take time; resets, 500s, stalls; a call held while the test kills mtls |
//!
//! Windows are seconds instead of AWS's seconds-to-minutes, so the suite stays fast.

use std::time::Instant;

mod acm;
mod acm_dead_end;
mod apigateway;
mod domain_status;
mod lambda;
mod network;
mod quota;
mod route53;
mod s3;

pub use acm::{CertificateInUse, DeletedCertificatesListed, NewCertificateLag};
pub use acm_dead_end::{CertificateDeadEnd, DeadEnd};
pub use apigateway::{DomainRateLimit, DomainUpdating, EndpointNeedsDeployment};
pub use domain_status::{OwnershipExpired, ReimportAcrossIssuers};
pub use lambda::{FunctionUpdating, RoleNotAssumableYet};
pub use network::{Fault, FaultKind, Hold, Latency};
pub use quota::Quota;
pub use route53::{ChangePending, PublicDns};
pub use s3::{VersioningLag, VersioningNotFound};

/// Seconds left until `until`, for event texts.
fn left(until: Instant, now: Instant) -> f64 {
    until.saturating_duration_since(now).as_secs_f64()
}

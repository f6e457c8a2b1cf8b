//! The custom domain's statuses that need its owner (PENDING_OWNERSHIP_VERIFICATION,
//! PENDING_CERTIFICATE_REIMPORT, FAILED): which ones, and what a person is told to do.

use crate::aws::apigateway::DomainName;
use crate::error::Error;
use crate::reconcile::Observed;
use crate::script::Context;

/// The field a plan shows for a domain whose status needs its owner: the statuses API
/// Gateway names (API Gateway API reference, DomainName.domainNameStatus: AVAILABLE,
/// UPDATING, PENDING, PENDING_CERTIFICATE_REIMPORT, PENDING_OWNERSHIP_VERIFICATION,
/// FAILED) less those that pass by themselves (AVAILABLE, and UPDATING or PENDING, which
/// every change waits out).
pub(super) fn status_field(status: Option<&str>) -> Option<&'static str> {
    match status? {
        "PENDING_CERTIFICATE_REIMPORT" => Some("domainNameStatus PENDING_CERTIFICATE_REIMPORT"),
        "PENDING_OWNERSHIP_VERIFICATION" => Some("domainNameStatus PENDING_OWNERSHIP_VERIFICATION"),
        "FAILED" => Some("domainNameStatus FAILED"),
        _ => None,
    }
}

/// Why the domain is in a status that needs its owner, and what repairs it.
pub(super) fn explain_status(ctx: &Context, domain: &str, d: &DomainName) -> String {
    let status = d.status.as_deref().unwrap_or_default();
    let message = d
        .status_message
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let why = match status {
        // API Gateway developer guide, rest-api-mutual-tls: an expired ownership
        // certificate locks every other update until it is replaced.
        "PENDING_OWNERSHIP_VERIFICATION" => format!(
            "its ownership verification certificate ({}) expired or is missing, and API Gateway refuses every other update until it is replaced: run setup.rhai, which requests a new one and gives it to the domain before any other change",
            d.ownership_verification_certificate_arn.as_deref().unwrap_or("none")
        ),
        "PENDING_CERTIFICATE_REIMPORT" => format!(
            "{}: run setup.rhai, which imports server.pem (it names {domain}) as a new certificate and moves the domain to it",
            uncovered_names(ctx, domain, d)
        ),
        _ => "API Gateway could not set it up: read the message, mend the cause, then delete the domain (mtls run teardown.rhai) and run setup.rhai again".to_string(),
    };
    format!("the custom domain {domain} is {status}{message}: {why}")
}

/// PENDING_CERTIFICATE_REIMPORT: the certificate re-imported under the domain's ARN names
/// what its ownership verification certificate does not cover (API Gateway developer guide,
/// rest-api-mutual-tls). Says which names, from the certificate ACM holds.
fn uncovered_names(ctx: &Context, domain: &str, d: &DomainName) -> String {
    let Some(arn) = d.regional_certificate_arn.as_deref() else {
        return "it presents no certificate".to_string();
    };
    let names = ctx
        .observe(|aws| async { aws.acm().certificate_pem(arn).await.map(Some) })
        .ok()
        .and_then(Observed::into_present)
        .and_then(|pem| crate::pki::ParsedCert::from_pem(arn, &pem.certificate).ok())
        .and_then(|c| c.info().ok())
        .map(|info| {
            info.san
                .iter()
                .filter_map(|n| n.strip_prefix("DNS:").map(str::to_string))
                .collect::<Vec<_>>()
        });
    match names {
        None => format!("the certificate it presents ({arn}) was re-imported with names its ownership verification certificate ({domain}) does not cover"),
        Some(names) => {
            let uncovered: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| !n.eq_ignore_ascii_case(domain))
                .collect();
            let missing = if names.iter().any(|n| n.eq_ignore_ascii_case(domain)) {
                String::new()
            } else {
                format!("; it does not name {domain}")
            };
            format!(
                "the certificate it presents ({arn}) names {}, not covered by its ownership verification certificate ({domain}){missing}",
                if uncovered.is_empty() { "nothing else".to_string() } else { uncovered.join(", ") }
            )
        }
    }
}

/// The error of a run that finds the domain in a status nothing it sends repairs.
pub(super) fn status_error(ctx: &Context, domain: &str, d: Option<&DomainName>) -> Error {
    let text = match d {
        Some(d) => explain_status(ctx, domain, d),
        None => format!("the custom domain {domain} needs an action of its owner"),
    };
    Error::Aws(crate::aws::AwsError::local(
        "apigateway",
        "GetDomainName",
        crate::aws::local_code::FAILED_STATE,
        text,
    ))
}

//! Step 12: the REGIONAL TLS 1.2 custom domain with mutual TLS: what it must be, the
//! diff, the UpdateDomainName batches, waiting until it is AVAILABLE; teardown's removal.

use rhai::{Array, Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{display, map, tags, text, unknown_or, TAG_DOMAIN};
use super::domain_status::{explain_status, status_error, status_field};
use crate::aws::apigateway::{DomainName, DomainPatch, MtlsDomainSpec};
use crate::aws::Wait;
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::primitives::Opts;
use crate::script::Context;

/// What the custom domain must be: REGIONAL, TLS 1.2, these certificates and this
/// truststore object version (`None`: not known until an earlier step runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WantedDomain {
    pub(super) certificate_arn: Known<String>,
    pub(super) ownership_arn: Known<String>,
    pub(super) truststore_uri: Known<String>,
    pub(super) truststore_version: Known<String>,
}

/// A field of the domain that an update sets, and its wanted value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum DomainField {
    TruststoreUri(Known<String>),
    TruststoreVersion(Known<String>),
    RegionalCertificateArn(Known<String>),
    OwnershipArn(Known<String>),
    /// A status that needs an action of the domain's owner: no patch of its own, the other
    /// changes repair it (or the run explains what is missing).
    Status(String),
}

/// The custom domain: mtls changes only a domain it made (tagged for it); mutual TLS is
/// compared as AWS reports it, so a domain whose mTLS was switched off outside mtls is
/// an update, never "as asked".
pub(super) fn diff_domain(
    domain: &str,
    wanted: &WantedDomain,
    observed: &Observed<DomainName>,
) -> Result<Diff<DomainField>, Error> {
    let d = match observed {
        Observed::Present(d) => d,
        _ => return Ok(Diff::Create),
    };
    if d.tags.get(TAG_DOMAIN).map(String::as_str) != Some(domain) {
        return Err(Error::invalid_argument(
            "apigw_ensure_domain",
            "domain",
            format!("the API Gateway custom domain {domain} exists, and mtls did not create it"),
            "mtls changes only the domains it made: delete that one first (it then makes it anew), or use another domain",
        ));
    }
    let mut changes = Vec::new();
    if let (Some(field), Some(status)) = (status_field(d.status.as_deref()), &d.status) {
        changes.push(Change {
            field,
            patch: DomainField::Status(status.clone()),
        });
    }
    let mut differs = |field, now: &Option<String>, want: &Known<String>, patch: DomainField| {
        // An unknown wanted value (a plan) may differ: it is shown as an update.
        if !want.is_known() || now.as_ref() != want.get() {
            changes.push(Change { field, patch });
        }
    };
    differs(
        "truststoreUri",
        &d.truststore_uri,
        &wanted.truststore_uri,
        DomainField::TruststoreUri(wanted.truststore_uri.clone()),
    );
    differs(
        "truststoreVersion",
        &d.truststore_version,
        &wanted.truststore_version,
        DomainField::TruststoreVersion(wanted.truststore_version.clone()),
    );
    differs(
        "regionalCertificateArn",
        &d.regional_certificate_arn,
        &wanted.certificate_arn,
        DomainField::RegionalCertificateArn(wanted.certificate_arn.clone()),
    );
    differs(
        "ownershipVerificationCertificateArn",
        &d.ownership_verification_certificate_arn,
        &wanted.ownership_arn,
        DomainField::OwnershipArn(wanted.ownership_arn.clone()),
    );
    Ok(Diff::update_or_keep(changes, "exists, as asked"))
}

/// The AWS patch for a field, once its value is known; `None` for a status.
pub(super) fn domain_patch(field: &DomainField) -> Result<Option<DomainPatch>, Error> {
    Ok(Some(match field {
        DomainField::Status(_) => return Ok(None),
        DomainField::TruststoreUri(v) => {
            DomainPatch::TruststoreUri(v.known("the truststore URI")?.clone())
        }
        DomainField::TruststoreVersion(v) => {
            DomainPatch::TruststoreVersion(v.known("the truststore version")?.clone())
        }
        DomainField::RegionalCertificateArn(v) => {
            DomainPatch::RegionalCertificateArn(v.known("the server certificate ARN")?.clone())
        }
        DomainField::OwnershipArn(v) => DomainPatch::OwnershipVerificationCertificateArn(
            v.known("the ownership certificate ARN")?.clone(),
        ),
    }))
}

/// The patches of an update, in the UpdateDomainName calls that send them: a new
/// ownership verification certificate alone and first, since a domain whose ownership
/// certificate expired (PENDING_OWNERSHIP_VERIFICATION) refuses every other update until it
/// is replaced (API Gateway developer guide, rest-api-mutual-tls); the rest together.
fn patch_batches(changes: &[Change<DomainField>]) -> Result<Vec<Vec<DomainPatch>>, Error> {
    let mut ownership = Vec::new();
    let mut rest = Vec::new();
    for c in changes {
        match domain_patch(&c.patch)? {
            Some(p @ DomainPatch::OwnershipVerificationCertificateArn(_)) => ownership.push(p),
            Some(p) => rest.push(p),
            None => {}
        }
    }
    Ok([ownership, rest]
        .into_iter()
        .filter(|b| !b.is_empty())
        .collect())
}

const DOMAIN_OPTIONS: [&str; 5] = [
    "domain",
    "certificate_arn",
    "ownership_arn",
    "truststore_uri",
    "truststore_version",
];

pub(super) fn ensure_mtls_domain(ctx: &Context, opts: &Map) -> Result<Map, Error> {
    let f = "apigw_ensure_domain";
    let o = Opts::new(f, opts);
    o.only(&DOMAIN_OPTIONS)?;
    let get = |k: &str| -> Result<Known<String>, Error> {
        let v = opts.get(k).cloned().ok_or_else(|| {
            Error::invalid_argument(f, k, "missing", format!("add `{k}` to the options map"))
        })?;
        text(f, k, &v)
    };
    let domain = get("domain")?
        .into_option()
        .ok_or_else(|| Error::invalid_argument(f, "domain", "unknown", "pass the domain name"))?;
    super::super::check_domain(f, &domain)?;
    let wanted = WantedDomain {
        certificate_arn: get("certificate_arn")?,
        ownership_arn: get("ownership_arn")?,
        truststore_uri: get("truststore_uri")?,
        truststore_version: get("truststore_version")?,
    };
    let uri_shown = opts.get("truststore_uri").map(display).unwrap_or_default();
    hold_domain(ctx, &domain)?;
    let observed = read_domain(ctx, &domain)?;
    let diff = diff_domain(&domain, &wanted, &observed)?;
    let describe = |a: Action| {
        a.arg("endpoint", "REGIONAL")
            .arg("security_policy", "TLS_1_2")
            .arg_maybe("certificate_arn", wanted.certificate_arn.get())
            .arg_maybe("ownership_arn", wanted.ownership_arn.get())
            .arg("truststore_uri", &uri_shown)
            .arg_maybe("truststore_version", wanted.truststore_version.get())
    };
    let (op, changed) = converge_domain(ctx, &domain, &wanted, &observed, &diff, describe)?;
    let info = changed.or_else(|| observed.present().cloned());
    let warnings = domain_warnings(ctx, &domain, info.as_ref());
    Ok(map(vec![
        ("name", domain.clone().into()),
        (
            "regional_domain_name",
            unknown_or(info.as_ref().and_then(|d| d.regional_domain_name.clone())),
        ),
        (
            "regional_hosted_zone_id",
            unknown_or(
                info.as_ref()
                    .and_then(|d| d.regional_hosted_zone_id.clone()),
            ),
        ),
        ("warnings", warnings.into()),
        ("status", op.name().into()),
    ]))
}

/// Applies `diff` to the custom domain (create or PATCH), waiting for it to be AVAILABLE
/// before and after a change. Returns the op and the domain as the change left it (`None`
/// when kept, and in a plan).
pub(super) fn converge_domain(
    ctx: &Context,
    domain: &str,
    wanted: &WantedDomain,
    observed: &Observed<DomainName>,
    diff: &Diff<DomainField>,
    describe: impl FnOnce(Action) -> Action,
) -> Result<(Op, Option<DomainName>), Error> {
    // API Gateway refuses to change a domain that is still UPDATING, and reports it so for
    // a while after each create and update: every change waits until it is AVAILABLE.
    let wait = Wait::domain_update();
    let busy = observed
        .present()
        .is_some_and(|d| matches!(d.status.as_deref(), Some("UPDATING" | "PENDING")));
    let settle = |created: DomainName| -> Result<DomainName, Error> {
        let mut settled = ctx.write(|aws| aws.apigateway().wait_domain_available(domain, &wait))?;
        // API Gateway reports truststore problems only in the answer to a change.
        if settled.truststore_warnings.is_empty() {
            settled.truststore_warnings = created.truststore_warnings;
        }
        Ok(settled)
    };
    let (op, changed) = reconcile::apply(
        &ctx.effects,
        Kind::ApiCustomDomain,
        domain,
        observed,
        diff,
        describe,
        || match diff {
            Diff::Update(changes) => {
                let batches = patch_batches(changes)?;
                if batches.is_empty() {
                    // Only a status, and nothing this step sends repairs it.
                    return Err(status_error(ctx, domain, observed.present()));
                }
                if busy {
                    ctx.write(|aws| aws.apigateway().wait_domain_available(domain, &wait))?;
                }
                let mut settled = None;
                for patches in &batches {
                    let updated =
                        ctx.write(|aws| aws.apigateway().update_domain_name(domain, patches))?;
                    settled = Some(settle(updated)?);
                }
                settled
                    .ok_or_else(|| Error::internal("update the custom domain", "no change to send"))
            }
            _ => {
                let spec = MtlsDomainSpec {
                    domain_name: domain,
                    regional_certificate_arn: wanted
                        .certificate_arn
                        .known("the server certificate ARN")?,
                    truststore_uri: wanted.truststore_uri.known("the truststore URI")?,
                    truststore_version: Some(
                        wanted.truststore_version.known("the truststore version")?,
                    ),
                    ownership_verification_certificate_arn: Some(
                        wanted
                            .ownership_arn
                            .known("the ownership certificate ARN")?,
                    ),
                    tags: &tags(domain, "domain"),
                };
                let created = ctx.write(|aws| aws.apigateway().create_domain_name(&spec))?;
                settle(created)
            }
        },
    )?;
    if op == Op::Keep && busy {
        // Kept, but a change is still under way (a run stopped right after making it): the
        // steps after this one may change the domain, so they wait for it here.
        ctx.effects.prepare(|| {
            ctx.write(|aws| aws.apigateway().wait_domain_available(domain, &wait))
                .map(|_| ())
        })?;
    }
    Ok((op, changed))
}

/// Reads the custom domain; a status that needs its owner is explained as a notice, in
/// plans and runs alike.
pub(super) fn read_domain(ctx: &Context, domain: &str) -> Result<Observed<DomainName>, Error> {
    let observed = ctx.observe(|aws| aws.apigateway().domain_name(domain))?;
    if let Some(d) = observed.present() {
        if status_field(d.status.as_deref()).is_some() {
            ctx.notice(&format!("warning: {}", explain_status(ctx, domain, d)));
        }
    }
    Ok(observed)
}

/// The truststore warnings API Gateway gave for `info`, each also shown as a notice.
pub(super) fn domain_warnings(ctx: &Context, domain: &str, info: Option<&DomainName>) -> Array {
    let warnings: Array = info
        .map(|d| {
            d.truststore_warnings
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect()
        })
        .unwrap_or_default();
    for w in &warnings {
        ctx.notice(&format!(
            "warning: API Gateway reports a truststore problem for {domain}: {w}"
        ));
    }
    warnings
}

pub(super) fn delete_domain(ctx: &Context, domain: &str) -> Result<(), Error> {
    super::super::check_domain("apigw_delete_domain", domain)?;
    hold_domain(ctx, domain)?;
    let found = ctx.observe(|aws| aws.apigateway().domain_name(domain))?;
    if let Observed::Present(d) = &found {
        if !domain_made_for(d, domain) {
            let keep = Diff::<()>::Keep("not made by mtls");
            let kind = Kind::ApiCustomDomain;
            reconcile::apply(&ctx.effects, kind, domain, &found, &keep, |a| a, || Ok(()))?;
            return Ok(());
        }
    }
    reconcile::delete(&ctx.effects, Kind::ApiCustomDomain, domain, &found, |d| {
        ctx.write(|aws| aws.apigateway().delete_domain_name(&d.name))
    })?;
    Ok(())
}

/// Whether mtls created the custom domain `d` (its tag names the domain).
pub(super) fn domain_made_for(d: &DomainName, domain: &str) -> bool {
    d.tags.get(TAG_DOMAIN).map(String::as_str) == Some(domain)
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    pub(in super::super) fn domain(
        uri: &str,
        version: &str,
        cert: &str,
        owner: &str,
        ours: bool,
    ) -> DomainName {
        let mut tags = BTreeMap::new();
        if ours {
            tags.insert(TAG_DOMAIN.to_string(), "api.example.com".to_string());
        }
        DomainName {
            name: "api.example.com".into(),
            regional_domain_name: Some("d-1.execute-api.us-east-1.amazonaws.com".into()),
            regional_hosted_zone_id: Some("Z1".into()),
            truststore_uri: (!uri.is_empty()).then(|| uri.to_string()),
            truststore_version: (!version.is_empty()).then(|| version.to_string()),
            truststore_warnings: vec![],
            regional_certificate_arn: Some(cert.into()),
            ownership_verification_certificate_arn: Some(owner.into()),
            security_policy: Some("TLS_1_2".into()),
            endpoint_types: vec!["REGIONAL".into()],
            status: Some("AVAILABLE".into()),
            status_message: None,
            tags: tags.into_iter().collect(),
        }
    }

    pub(in super::super) fn wanted(version: Option<&str>) -> WantedDomain {
        WantedDomain {
            certificate_arn: Known::value("cert".into()),
            ownership_arn: Known::value("owner".into()),
            truststore_uri: Known::value("s3://b/RootCA.pem".into()),
            truststore_version: version.map(str::to_string).into(),
        }
    }

    pub(in super::super) fn fields(diff: &Diff<DomainField>) -> Vec<&'static str> {
        diff.changes().iter().map(|c| c.field).collect()
    }

    #[test]
    fn domain_diffs() {
        let present = |d| Observed::Present(d);
        let same = domain("s3://b/RootCA.pem", "v1", "cert", "owner", true);
        let case = |observed: Observed<DomainName>, want: WantedDomain, expected: &[&str]| {
            let diff = diff_domain("api.example.com", &want, &observed).unwrap();
            match expected {
                ["keep"] => assert_eq!(diff, Diff::Keep("exists, as asked")),
                ["create"] => assert_eq!(diff, Diff::Create),
                fields_wanted => assert_eq!(fields(&diff), fields_wanted, "{diff:?}"),
            }
        };
        case(present(same.clone()), wanted(Some("v1")), &["keep"]);
        case(Observed::Absent, wanted(Some("v1")), &["create"]);
        case(Observed::NotLookedUp, wanted(None), &["create"]);
        case(
            present(same.clone()),
            wanted(Some("v2")),
            &["truststoreVersion"],
        );
        case(
            present(domain("s3://other/RootCA.pem", "v1", "cert", "owner", true)),
            wanted(Some("v1")),
            &["truststoreUri"],
        );
        case(
            present(domain("s3://b/RootCA.pem", "v1", "old", "owner", true)),
            wanted(Some("v1")),
            &["regionalCertificateArn"],
        );
        case(
            present(domain("s3://b/RootCA.pem", "v1", "cert", "old", true)),
            wanted(Some("v1")),
            &["ownershipVerificationCertificateArn"],
        );
        // mTLS switched off outside mtls: both fields are missing, and both are set again.
        case(
            present(domain("", "", "cert", "owner", true)),
            wanted(Some("v1")),
            &["truststoreUri", "truststoreVersion"],
        );
        // A plan that does not know the new version yet shows it as an update.
        case(present(same.clone()), wanted(None), &["truststoreVersion"]);
        let theirs = present(domain("s3://b/RootCA.pem", "v1", "cert", "owner", false));
        assert!(diff_domain("api.example.com", &wanted(Some("v1")), &theirs).is_err());
    }

    #[test]
    fn unknown_patch_values_never_become_patches() {
        assert!(domain_patch(&DomainField::TruststoreVersion(Known::unknown())).is_err());
        assert_eq!(
            domain_patch(&DomainField::TruststoreVersion(Known::value("v".into()))).unwrap(),
            Some(DomainPatch::TruststoreVersion("v".into()))
        );
        assert_eq!(
            domain_patch(&DomainField::Status("FAILED".into())).unwrap(),
            None
        );
    }

    #[test]
    fn the_ownership_certificate_is_patched_alone_and_first() {
        let change = |field, patch| Change { field, patch };
        let changes = vec![
            change(
                "domainNameStatus FAILED",
                DomainField::Status("FAILED".into()),
            ),
            change(
                "truststoreVersion",
                DomainField::TruststoreVersion(Known::value("v2".into())),
            ),
            change(
                "regionalCertificateArn",
                DomainField::RegionalCertificateArn(Known::value("c2".into())),
            ),
            change(
                "ownershipVerificationCertificateArn",
                DomainField::OwnershipArn(Known::value("o2".into())),
            ),
        ];
        assert_eq!(
            patch_batches(&changes).unwrap(),
            vec![
                vec![DomainPatch::OwnershipVerificationCertificateArn(
                    "o2".into()
                )],
                vec![
                    DomainPatch::TruststoreVersion("v2".into()),
                    DomainPatch::RegionalCertificateArn("c2".into())
                ],
            ]
        );
        // Without an ownership change: one call; a status alone: none.
        assert_eq!(patch_batches(&changes[..2]).unwrap().len(), 1);
        assert!(patch_batches(&changes[..1]).unwrap().is_empty());
    }
}

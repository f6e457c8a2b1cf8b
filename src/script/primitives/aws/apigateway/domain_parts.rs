//! CA rollover's changes to an existing custom domain: its truststore only, or the
//! certificate it presents only, the rest left as it is.

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{display, map, text, unknown_or};
use super::domain::{
    converge_domain, diff_domain, domain_warnings, read_domain, DomainField, WantedDomain,
};
use crate::aws::apigateway::DomainName;
use crate::effects::{Action, Op};
use crate::error::Error;
use crate::reconcile::{Change, Diff, Known, Observed};
use crate::script::Context;

/// The domain's truststore only (CA rollover): the uri and version change, its
/// certificates stay as they are. The domain must exist and be mtls's; a plan that did not
/// read it shows the version as changing.
fn diff_domain_truststore(
    domain: &str,
    uri: &Known<String>,
    version: &Known<String>,
    observed: &Observed<DomainName>,
) -> Result<Diff<DomainField>, Error> {
    diff_domain_part(
        "apigw_ensure_domain_truststore",
        domain,
        observed,
        |w| {
            w.truststore_uri = uri.clone();
            w.truststore_version = version.clone();
        },
        |f| {
            matches!(
                f,
                DomainField::TruststoreUri(_) | DomainField::TruststoreVersion(_)
            )
        },
        Change {
            field: "truststoreVersion",
            patch: DomainField::TruststoreVersion(version.clone()),
        },
    )
}

/// The certificate the domain presents only (CA rollover): `regionalCertificateArn`
/// changes, the rest stays as it is.
fn diff_domain_certificate(
    domain: &str,
    arn: &Known<String>,
    observed: &Observed<DomainName>,
) -> Result<Diff<DomainField>, Error> {
    diff_domain_part(
        "apigw_ensure_domain_certificate",
        domain,
        observed,
        |w| w.certificate_arn = arn.clone(),
        |f| matches!(f, DomainField::RegionalCertificateArn(_)),
        Change {
            field: "regionalCertificateArn",
            patch: DomainField::RegionalCertificateArn(arn.clone()),
        },
    )
}

/// One part of an existing domain mtls made: `set` puts the wanted values of that part
/// into the domain as it is, and only the fields `part` selects (and a status that needs
/// the owner) make the diff. `offline` is the change a plan that did not read it shows.
fn diff_domain_part(
    function: &'static str,
    domain: &str,
    observed: &Observed<DomainName>,
    set: impl FnOnce(&mut WantedDomain),
    part: fn(&DomainField) -> bool,
    offline: Change<DomainField>,
) -> Result<Diff<DomainField>, Error> {
    let d = match observed {
        Observed::Present(d) => d,
        Observed::NotLookedUp => return Ok(Diff::Update(vec![offline])),
        Observed::Absent => {
            return Err(Error::invalid_argument(
                function,
                "domain",
                format!("there is no API Gateway custom domain {domain}"),
                "run `mtls run setup.rhai --var domain=DOMAIN` first: a rollover changes a domain setup made",
            ))
        }
    };
    let mut wanted = WantedDomain {
        certificate_arn: d.regional_certificate_arn.clone().into(),
        ownership_arn: d.ownership_verification_certificate_arn.clone().into(),
        truststore_uri: d.truststore_uri.clone().into(),
        truststore_version: d.truststore_version.clone().into(),
    };
    set(&mut wanted);
    Ok(match diff_domain(domain, &wanted, observed)? {
        Diff::Update(changes) => Diff::update_or_keep(
            changes
                .into_iter()
                .filter(|c| matches!(c.patch, DomainField::Status(_)) || part(&c.patch))
                .collect(),
            "exists, as asked",
        ),
        other => other,
    })
}

/// How a plan shows a value that changes: `before -> after`.
fn from_to(before: Option<&str>, after: &Known<String>) -> String {
    format!(
        "{} -> {}",
        before.unwrap_or("(none)"),
        after.as_deref().unwrap_or(crate::effects::Unknown::TEXT)
    )
}

pub(super) fn ensure_domain_truststore(
    ctx: &Context,
    domain: &str,
    truststore: &Map,
) -> Result<Map, Error> {
    let f = "apigw_ensure_domain_truststore";
    super::super::check_domain(f, domain)?;
    let get = |k: &str| -> Result<(Known<String>, String), Error> {
        let v = truststore.get(k).cloned().ok_or_else(|| {
            Error::invalid_argument(
                f,
                "truststore",
                format!("the map has no `{k}`"),
                "pass the map upload_truststore returns (#{ uri, version, ... })",
            )
        })?;
        Ok((text(f, k, &v)?, display(&v)))
    };
    let (uri, uri_shown) = get("uri")?;
    let (version, _) = get("version")?;
    hold_domain(ctx, domain)?;
    let observed = read_domain(ctx, domain)?;
    let diff = diff_domain_truststore(domain, &uri, &version, &observed)?;
    let before = observed.present().cloned();
    let wanted = WantedDomain {
        certificate_arn: Known::from(
            before
                .as_ref()
                .and_then(|d| d.regional_certificate_arn.clone()),
        ),
        ownership_arn: Known::from(
            before
                .as_ref()
                .and_then(|d| d.ownership_verification_certificate_arn.clone()),
        ),
        truststore_uri: uri.clone(),
        truststore_version: version.clone(),
    };
    let old_version = before.as_ref().and_then(|d| d.truststore_version.clone());
    let describe = |a: Action| {
        let a = a.arg("truststore_uri", &uri_shown);
        match &observed {
            Observed::NotLookedUp => a.arg_maybe("truststore_version", version.get()),
            _ => a.arg(
                "truststore_version",
                from_to(old_version.as_deref(), &version),
            ),
        }
    };
    let (op, changed) = converge_domain(ctx, domain, &wanted, &observed, &diff, describe)?;
    // Kept: as it was. Changed: as the change left it (unknown in a plan).
    let info = if op == Op::Keep {
        before.clone()
    } else {
        changed
    };
    let warnings = domain_warnings(ctx, domain, info.as_ref());
    Ok(map(vec![
        ("name", domain.into()),
        ("version_before", unknown_or(old_version)),
        (
            "version",
            unknown_or(info.as_ref().and_then(|d| d.truststore_version.clone())),
        ),
        (
            "domain_status",
            unknown_or(info.as_ref().and_then(|d| d.status.clone())),
        ),
        ("warnings", warnings.into()),
        ("status", op.name().into()),
    ]))
}

pub(super) fn ensure_domain_certificate(
    ctx: &Context,
    domain: &str,
    arn: &Dynamic,
) -> Result<Map, Error> {
    let f = "apigw_ensure_domain_certificate";
    super::super::check_domain(f, domain)?;
    let arn = text(f, "certificate_arn", arn)?;
    hold_domain(ctx, domain)?;
    let observed = read_domain(ctx, domain)?;
    let diff = diff_domain_certificate(domain, &arn, &observed)?;
    let before = observed.present().cloned();
    let old_arn = before
        .as_ref()
        .and_then(|d| d.regional_certificate_arn.clone());
    let wanted = WantedDomain {
        certificate_arn: arn.clone(),
        ownership_arn: Known::from(
            before
                .as_ref()
                .and_then(|d| d.ownership_verification_certificate_arn.clone()),
        ),
        truststore_uri: Known::from(before.as_ref().and_then(|d| d.truststore_uri.clone())),
        truststore_version: Known::from(before.as_ref().and_then(|d| d.truststore_version.clone())),
    };
    let describe = |a: Action| a.arg("certificate_arn", from_to(old_arn.as_deref(), &arn));
    let (op, changed) = converge_domain(ctx, domain, &wanted, &observed, &diff, describe)?;
    let info = if op == Op::Keep { before } else { changed };
    Ok(map(vec![
        ("name", domain.into()),
        ("arn_before", unknown_or(old_arn)),
        (
            "arn",
            unknown_or(
                info.as_ref()
                    .and_then(|d| d.regional_certificate_arn.clone()),
            ),
        ),
        (
            "domain_status",
            unknown_or(info.as_ref().and_then(|d| d.status.clone())),
        ),
        ("status", op.name().into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::super::domain::tests::{domain, fields, wanted};
    use super::*;

    #[test]
    fn domain_truststore_diffs() {
        let v = |s: &str| Known::value(s.to_string());
        let uri = v("s3://b/RootCA.pem");
        let diff = |o: &Observed<DomainName>, version: &Known<String>| {
            diff_domain_truststore("api.example.com", &uri, version, o)
        };
        let same = Observed::Present(domain("s3://b/RootCA.pem", "v1", "cert", "owner", true));
        assert_eq!(
            diff(&same, &v("v1")).unwrap(),
            Diff::Keep("exists, as asked")
        );
        assert_eq!(
            fields(&diff(&same, &v("v2")).unwrap()),
            ["truststoreVersion"]
        );
        // Only the truststore: certificates missing from the domain are not this step's to set.
        let bare = Observed::Present(DomainName {
            regional_certificate_arn: None,
            ownership_verification_certificate_arn: None,
            ..domain("s3://b/RootCA.pem", "v1", "", "", true)
        });
        assert_eq!(
            diff(&bare, &v("v1")).unwrap(),
            Diff::Keep("exists, as asked")
        );
        assert_eq!(
            fields(&diff(&bare, &v("v2")).unwrap()),
            ["truststoreVersion"]
        );
        let moved = Observed::Present(domain("s3://old/RootCA.pem", "v1", "cert", "owner", true));
        assert_eq!(
            fields(&diff(&moved, &v("v2")).unwrap()),
            ["truststoreUri", "truststoreVersion"]
        );
        // A plan that did not look (or does not know the version yet) shows a change.
        assert_eq!(
            fields(&diff(&Observed::NotLookedUp, &Known::unknown()).unwrap()),
            ["truststoreVersion"]
        );
        assert_eq!(
            fields(&diff(&same, &Known::unknown()).unwrap()),
            ["truststoreVersion"]
        );
        // No domain (setup has not run), or someone else's: an error, nothing sent.
        let err = diff(&Observed::Absent, &v("v2")).unwrap_err().to_string();
        assert!(err.contains("no API Gateway custom domain"), "{err}");
        let theirs = Observed::Present(domain("s3://b/RootCA.pem", "v1", "cert", "owner", false));
        assert!(diff(&theirs, &v("v2")).is_err());
        assert_eq!(
            from_to(Some("v1"), &Known::unknown()),
            format!("v1 -> {}", crate::effects::Unknown::TEXT)
        );
        assert_eq!(from_to(None, &v("v2")), "(none) -> v2");
    }

    #[test]
    fn a_status_that_needs_the_owner_is_an_update_with_the_status_as_reason() {
        let with_status = |status: &str| {
            Observed::Present(DomainName {
                status: Some(status.into()),
                ..domain("s3://b/RootCA.pem", "v1", "cert", "owner", true)
            })
        };
        for status in [
            "PENDING_CERTIFICATE_REIMPORT",
            "PENDING_OWNERSHIP_VERIFICATION",
            "FAILED",
        ] {
            let diff =
                diff_domain("api.example.com", &wanted(Some("v1")), &with_status(status)).unwrap();
            assert_eq!(
                fields(&diff),
                [format!("domainNameStatus {status}")],
                "{status}"
            );
            // The partial steps of the rollover show it too.
            let uri = Known::value("s3://b/RootCA.pem".to_string());
            let v1 = Known::value("v1".to_string());
            let t =
                diff_domain_truststore("api.example.com", &uri, &v1, &with_status(status)).unwrap();
            assert_eq!(
                fields(&t),
                [format!("domainNameStatus {status}")],
                "{status}"
            );
            let c = diff_domain_certificate(
                "api.example.com",
                &Known::value("cert".into()),
                &with_status(status),
            )
            .unwrap();
            assert_eq!(
                fields(&c),
                [format!("domainNameStatus {status}")],
                "{status}"
            );
        }
        // Statuses that pass by themselves are not changes.
        for status in ["AVAILABLE", "UPDATING", "PENDING"] {
            let diff =
                diff_domain("api.example.com", &wanted(Some("v1")), &with_status(status)).unwrap();
            assert_eq!(diff, Diff::Keep("exists, as asked"), "{status}");
        }
        // With the repair: the status first, then the field that repairs it.
        let expired = Observed::Present(DomainName {
            status: Some("PENDING_OWNERSHIP_VERIFICATION".into()),
            ..domain("s3://b/RootCA.pem", "v1", "cert", "expired", true)
        });
        let diff = diff_domain("api.example.com", &wanted(Some("v1")), &expired).unwrap();
        assert_eq!(
            fields(&diff),
            [
                "domainNameStatus PENDING_OWNERSHIP_VERIFICATION",
                "ownershipVerificationCertificateArn"
            ]
        );
    }
}

//! Step 8: the DNS-validated ownership verification certificate ACM issues for the
//! domain: requested once, found again by its tags, waited for until ISSUED.

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{map, tags, text, unknown_or};
use super::duplicates;
use crate::aws::acm::CertificateSummary;
use crate::aws::Wait;
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, Diff, Observed};
use crate::script::Context;

/// The ownership verification certificate: the one requested before is kept unless it
/// can no longer become ISSUED (failed, expired, revoked, timed out). Two that still can
/// are an error: which one the domain should use is not mtls's guess.
fn diff_requested(
    domain: &str,
    observed: &Observed<Vec<CertificateSummary>>,
) -> Result<(Diff<()>, Option<CertificateSummary>), Error> {
    let usable: Vec<CertificateSummary> = observed
        .present()
        .map(|found| {
            found
                .iter()
                .filter(|c| {
                    !matches!(
                        c.status.as_str(),
                        "FAILED" | "EXPIRED" | "REVOKED" | "VALIDATION_TIMED_OUT"
                    )
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    match usable.as_slice() {
        [] => Ok((Diff::Create, None)),
        [c] => Ok((Diff::Keep("requested before"), Some(c.clone()))),
        many => Err(duplicates(
            &format!("tagged as the ownership verification certificate of {domain}"),
            &many.iter().map(|c| c.arn.clone()).collect::<Vec<_>>(),
            "keep the one the custom domain uses (its ownershipVerificationCertificateArn: aws apigateway get-domain-name --domain-name DOMAIN), or the ISSUED one",
        )),
    }
}

pub(super) fn ensure_requested_cert(ctx: &Context, domain: &str) -> Result<Map, Error> {
    super::super::check_domain("acm_ensure_requested", domain)?;
    let wanted_tags = tags(domain, "ownership-verification");
    hold_domain(ctx, domain)?;
    let observed = ctx.observe(|aws| async {
        let found = aws
            .acm()
            .find_certificates(Some(domain), &wanted_tags)
            .await;
        found.map(Some)
    })?;
    let (diff, usable) = diff_requested(domain, &observed)?;
    let target = format!("ownership verification certificate for {domain}");
    let describe = |a: Action| a.arg("validation", "DNS").arg_maybe("arn", None::<String>);
    let (op, requested) = reconcile::apply(
        &ctx.effects,
        Kind::AcmCertificate,
        &target,
        &observed,
        &diff,
        describe,
        || {
            // One token per request: the SDK's retries of this call reuse it (so a retry
            // cannot make a second certificate), while a request after a teardown is a
            // new one (ACM would answer a reused token with the deleted certificate).
            let mut random = [0u8; 8];
            aws_lc_rs::rand::fill(&mut random)
                .map_err(|_| Error::internal("make an idempotency token", "no randomness"))?;
            let token: String = domain
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(16)
                .chain(
                    random
                        .iter()
                        .flat_map(|b| format!("{b:02x}").chars().collect::<Vec<_>>()),
                )
                .collect();
            ctx.write(|aws| {
                aws.acm()
                    .request_certificate(domain, &wanted_tags, Some(&token))
            })
        },
    )?;
    if let Some(c) = &usable {
        ctx.effects.resolve(&target, "arn", &c.arn);
        ctx.effects.resolve(&target, "status", &c.status);
    }
    if let Some(a) = &requested {
        ctx.effects.resolve(&target, "arn", a);
    }
    let arn = requested.or(usable.map(|c| c.arn));
    // The validation CNAME appears a few seconds after the request.
    let (mut cert_status, mut record) = (None, None);
    if let Some(arn) = &arn {
        let info = ctx.observe(|aws| async { aws.acm().describe_new(arn).await.map(Some) })?;
        if let Observed::Present(info) = info {
            if let Some(not_after) = info.not_after {
                ctx.warn_if_expiring(
                    &format!("the ownership verification certificate of {domain} ({arn})"),
                    not_after,
                    "ACM renews it by itself while its validation CNAME record stays in the zone: check that the record is still there",
                );
            }
            cert_status = Some(info.status.clone());
            record = info.validation_cname.clone();
            if record.is_none() && !info.is_issued() {
                let wait = Wait::new(
                    std::time::Duration::from_secs(120),
                    std::time::Duration::from_secs(2),
                );
                record = ctx
                    .observe(|aws| async {
                        let found = aws.acm().wait_for_validation_record(arn, &wait).await;
                        found.map(Some)
                    })?
                    .into_present();
            }
        }
    }
    Ok(map(vec![
        ("arn", unknown_or(arn)),
        ("status", op.name().into()),
        ("cert_status", unknown_or(cert_status)),
        (
            "validation_name",
            unknown_or(record.as_ref().map(|r| r.name.clone())),
        ),
        (
            "validation_value",
            unknown_or(record.as_ref().map(|r| r.value.clone())),
        ),
    ]))
}

pub(super) fn wait_until_issued(
    ctx: &Context,
    arn: &Dynamic,
    timeout: i64,
) -> Result<Dynamic, Error> {
    let arn = text("acm_wait_issued", "arn", arn)?;
    let timeout = std::time::Duration::from_secs(timeout.clamp(1, 24 * 3600) as u64);
    let action = Action::new(
        Op::Check,
        Kind::AcmCertificate,
        format!("{} is ISSUED", arn.shown()),
        "wait for DNS validation",
    )
    .arg("timeout", format!("{}s", timeout.as_secs()));
    let status = ctx.effects.apply(action, || {
        let arn = arn.known("the certificate ARN to wait for")?;
        let wait = Wait::new(timeout, std::time::Duration::from_secs(10).min(timeout));
        Ok(ctx
            .write(|aws| aws.acm().wait_until_issued(arn, &wait))?
            .status)
    })?;
    Ok(unknown_or(status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::acm::CertificateKind;

    #[test]
    fn requested_certificate_diffs() {
        let cert = |status: &str| CertificateSummary {
            arn: format!("arn:{status}"),
            domain: "api.example.com".into(),
            status: status.into(),
            kind: CertificateKind::AmazonIssued,
            tags: Default::default(),
        };
        let diff_requested = |o: &Observed<Vec<CertificateSummary>>| diff_requested("d", o);
        let (diff, kept) = diff_requested(&Observed::Present(vec![
            cert("FAILED"),
            cert("PENDING_VALIDATION"),
        ]))
        .unwrap();
        assert_eq!(diff, Diff::Keep("requested before"));
        assert_eq!(kept.unwrap().arn, "arn:PENDING_VALIDATION");
        for dead in ["FAILED", "EXPIRED", "REVOKED", "VALIDATION_TIMED_OUT"] {
            assert_eq!(
                diff_requested(&Observed::Present(vec![cert(dead)]))
                    .unwrap()
                    .0,
                Diff::Create
            );
        }
        assert_eq!(
            diff_requested(&Observed::Present(vec![])).unwrap().0,
            Diff::Create
        );
        assert_eq!(
            diff_requested(&Observed::NotLookedUp).unwrap().0,
            Diff::Create
        );
        // Two that can still be used: an error that names both and says what to do.
        let err = diff_requested(&Observed::Present(vec![
            cert("ISSUED"),
            cert("PENDING_VALIDATION"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("arn:ISSUED") && err.contains("arn:PENDING_VALIDATION"),
            "{err}"
        );
        assert!(err.contains("delete-certificate"), "{err}");
    }
}

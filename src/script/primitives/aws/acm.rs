//! Steps 7-8: the imported server certificate and the DNS-validated ownership
//! verification certificate, found again by their tags; teardown's certificate removal.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::lock::hold_domain;
use super::{delete_if, map, shown, tags, text, unknown_or, TAG_DOMAIN, TAG_ROLE};
use crate::aws::acm::{CertificateImport, CertificateSummary};
use crate::aws::{local_code, AwsError, Tags, Wait};
use crate::effects::{Action, Kind, Op, Unknown};
use crate::error::Error;
use crate::pki::ParsedCert;
use crate::reconcile::{self, Change, Diff, Observed};
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "acm_ensure_imported", "acm_ensure_imported(domain: string, cert: string, key: string, chain: string) -> map", "Import the server certificate into ACM, or keep (or re-import over) the one mtls imported for `domain`. Returns #{ arn, status }.", |c, domain: &str, cert: &str, key: &str, chain: &str| -> Map { ensure_imported_cert(c, domain, cert, key, chain) });
    bound!(reg, ctx, "acm_ensure_requested", "acm_ensure_requested(domain: string) -> map", "Request (or find) the DNS-validated ACM certificate for `domain` (the ownership verification certificate). Returns #{ arn, status, cert_status, validation_name, validation_value }.", |c, domain: &str| -> Map { ensure_requested_cert(c, domain) });
    bound!(reg, ctx, "acm_wait_issued", "acm_wait_issued(arn: string, timeout_seconds: int) -> string", "Wait (with a spinner) until the ACM certificate is ISSUED; an error after the timeout. Returns the status.", |c, arn: Dynamic, timeout: i64| -> Dynamic { wait_until_issued(c, &arn, timeout) });
    bound!(
        reg,
        ctx,
        "acm_delete_tagged",
        "acm_delete_tagged(domain: string)",
        "Delete the ACM certificates mtls made for `domain` (found by their tags).",
        |c, domain: &str| -> () { delete_tagged_certs(c, domain) }
    );
}

fn ensure_imported_cert(
    ctx: &Context,
    domain: &str,
    cert: &str,
    key: &str,
    chain: &str,
) -> Result<Map, Error> {
    super::check_domain("acm_ensure_imported", domain)?;
    let wanted_tags = tags(domain, "server");
    // ACM's rules are checked here whatever the script did before: nothing is imported
    // that ACM would refuse, and what is sent is rebuilt from the parsed certificates.
    let files = super::checks::checked_acm_import(ctx, cert, key, chain)?;
    let local = files.as_ref().and_then(|f| pem_der(&f.certificate));
    hold_domain(ctx, domain)?;
    // What ACM holds for this domain: the certificate mtls imported (by its tags) and its body.
    let observed = match ctx.read(|aws| aws.acm().find_certificates(None, &wanted_tags))? {
        None => Observed::NotLookedUp,
        Some(found) => match found.as_slice() {
            [] => Observed::Absent,
            [c] => {
                let body = ctx.read(|aws| async move {
                    match aws.acm().certificate_pem(&c.arn).await {
                        Ok(b) => Ok(Some(b)),
                        // Deleted since it was listed.
                        Err(e) if e.is_not_found() => Ok(None),
                        Err(e) => Err(e),
                    }
                })?;
                match body {
                    Some(None) => Observed::Absent,
                    body => Observed::Present(Imported {
                        arn: c.arn.clone(),
                        der: body.flatten().and_then(|b| pem_der(&b.certificate)),
                    }),
                }
            }
            many => {
                return Err(duplicates(
                    &format!("tagged as the server certificate of {domain}"),
                    many,
                    "keep the one the custom domain presents (its regionalCertificateArn: aws apigateway get-domain-name --domain-name DOMAIN)",
                ))
            }
        },
    };
    let diff = diff_imported(&local, &observed);
    // What the domain serves until the re-import: warn when that expires soon too.
    if let Observed::Present(Imported {
        arn,
        der: Some(der),
    }) = &observed
    {
        if local.as_ref() != Some(der) {
            let served = crate::pki::ParsedCert { der: der.clone() };
            if let Ok(not_after) = served.not_after() {
                ctx.warn_if_expiring(
                    &format!("the server certificate in ACM ({arn})"),
                    not_after,
                    "run setup to re-import server.pem over it",
                );
            }
        }
    }
    let reimport = observed.present().map(|e| e.arn.clone());
    let target = format!("server certificate for {domain}");
    let describe = |a: Action| {
        a.arg("certificate", cert)
            .arg("chain", chain)
            .arg_sensitive("private_key")
            .arg_maybe("arn", reimport.clone())
    };
    let (op, imported) = reconcile::apply(
        &ctx.effects,
        Kind::AcmCertificate,
        &target,
        observed.looked_up(),
        &diff,
        describe,
        || {
            let files = files.as_ref().ok_or_else(|| {
                Error::internal("import the server certificate", "its files were not read")
            })?;
            let import = CertificateImport {
                certificate_pem: &files.certificate,
                private_key: &files.private_key,
                chain_pem: Some(&files.chain),
                reimport_arn: reimport.as_deref(),
                tags: &wanted_tags,
            };
            ctx.write(|aws| aws.acm().import_certificate(&import))
        },
    )?;
    if let Some(a) = imported.as_ref().or(reimport.as_ref()) {
        ctx.effects.resolve(&target, "arn", a);
    }
    Ok(map(vec![
        ("arn", unknown_or(imported.or(reimport))),
        ("status", op.name().into()),
    ]))
}

/// The certificate mtls imported for a domain: its ARN and its body as DER.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Imported {
    arn: String,
    der: Option<Vec<u8>>,
}

/// The imported server certificate: kept when ACM holds the same one; re-imported over
/// the same ARN (so the domain follows) when it differs; imported when there is none.
/// `local` is `None` while the file does not exist yet (a plan).
fn diff_imported(local: &Option<Vec<u8>>, observed: &Observed<Imported>) -> Diff<()> {
    match observed {
        Observed::Present(i) if local.is_some() && i.der == *local => {
            Diff::Keep("imported, same certificate")
        }
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "certificate",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

/// Two or more certificates where mtls makes one (two runs at once before mtls locked
/// them out, or a copy made by hand): which to keep is the user's call, never a guess.
fn duplicates(what: &str, found: &[CertificateSummary], keep: &str) -> Error {
    let arns: Vec<&str> = found.iter().map(|c| c.arn.as_str()).collect();
    Error::Aws(AwsError::local(
        "acm",
        "ListCertificates",
        local_code::AMBIGUOUS,
        format!(
            "{} ACM certificates are {what} ({}): {keep}, delete the others (aws acm delete-certificate --certificate-arn ARN) and run again",
            found.len(),
            arns.join(", ")
        ),
    ))
}

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
            many,
            "keep the one the custom domain uses (its ownershipVerificationCertificateArn: aws apigateway get-domain-name --domain-name DOMAIN), or the ISSUED one",
        )),
    }
}

/// DER of the first certificate of a PEM text, to compare two PEMs whatever their line breaks.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    ParsedCert::from_pem("", pem).ok().map(|c| c.der)
}

fn ensure_requested_cert(ctx: &Context, domain: &str) -> Result<Map, Error> {
    super::check_domain("acm_ensure_requested", domain)?;
    let wanted_tags = tags(domain, "ownership-verification");
    hold_domain(ctx, domain)?;
    let observed = Observed::from_read(
        ctx.read(|aws| aws.acm().find_certificates(Some(domain), &wanted_tags))?
            .map(Some),
    );
    let (diff, usable) = diff_requested(domain, &observed)?;
    let target = format!("ownership verification certificate for {domain}");
    let describe = |a: Action| a.arg("validation", "DNS").arg_maybe("arn", None::<String>);
    let (op, requested) = reconcile::apply(
        &ctx.effects,
        Kind::AcmCertificate,
        &target,
        observed.looked_up(),
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
        if let Some(info) = ctx.read(|aws| aws.acm().describe_new(arn))? {
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
                record = ctx.read(|aws| aws.acm().wait_for_validation_record(arn, &wait))?;
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

fn wait_until_issued(ctx: &Context, arn: &Dynamic, timeout: i64) -> Result<Dynamic, Error> {
    let arn = text("acm_wait_issued", "arn", arn)?;
    let timeout = std::time::Duration::from_secs(timeout.clamp(1, 24 * 3600) as u64);
    let action = Action::new(
        Op::Check,
        Kind::AcmCertificate,
        format!("{} is ISSUED", shown(&arn)),
        "wait for DNS validation",
    )
    .arg("timeout", format!("{}s", timeout.as_secs()));
    let status = ctx.effects.apply(action, || {
        let arn = crate::reconcile::known(&arn, "the certificate ARN to wait for")?;
        let wait = Wait::new(timeout, std::time::Duration::from_secs(10).min(timeout));
        Ok(ctx
            .write(|aws| aws.acm().wait_until_issued(arn, &wait))?
            .status)
    })?;
    Ok(unknown_or(status))
}

fn delete_tagged_certs(ctx: &Context, domain: &str) -> Result<(), Error> {
    super::check_domain("acm_delete_tagged", domain)?;
    hold_domain(ctx, domain)?;
    let mut by_domain = Tags::new();
    by_domain.insert(TAG_DOMAIN.to_string(), domain.to_string());
    match ctx.read(|aws| aws.acm().find_certificates(None, &by_domain))? {
        // Offline: which certificates are tagged is not known (the target is the live
        // one's, with the role unknown: a confirmed run sends only what it showed).
        None => delete_if(
            ctx,
            None,
            Kind::AcmCertificate,
            &format!("{} certificate for {domain}", Unknown::TEXT),
            || Ok(()),
        ),
        Some(certs) => {
            for c in certs {
                let role = c.tags.get(TAG_ROLE).cloned().unwrap_or_default();
                delete_if(
                    ctx,
                    Some(true),
                    Kind::AcmCertificate,
                    &format!("{role} certificate for {domain}"),
                    || ctx.write(|aws| aws.acm().delete(&c.arn)),
                )?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::acm::CertificateKind;

    #[test]
    fn imported_certificate_diffs() {
        let held = |der: Option<&[u8]>| {
            Observed::Present(Imported {
                arn: "arn:1".into(),
                der: der.map(<[u8]>::to_vec),
            })
        };
        let local = Some(vec![1, 2, 3]);
        assert_eq!(
            diff_imported(&local, &held(Some(&[1, 2, 3]))),
            Diff::Keep("imported, same certificate")
        );
        assert_eq!(diff_imported(&local, &held(Some(&[9]))).op(), Op::Update);
        assert_eq!(diff_imported(&local, &held(None)).op(), Op::Update);
        assert_eq!(diff_imported(&None, &held(None)).op(), Op::Update);
        assert_eq!(diff_imported(&local, &Observed::Absent), Diff::Create);
        assert_eq!(diff_imported(&None, &Observed::NotLookedUp), Diff::Create);
    }

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

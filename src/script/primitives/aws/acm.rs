//! Steps 7-8: the imported server certificate and the DNS-validated ownership
//! verification certificate, found again by their tags; teardown's certificate removal.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::lock::hold_domain;
use super::{map, tags, text, unknown_or, TAG_DOMAIN, TAG_ROLE};
use crate::aws::acm::{CertificateImport, CertificateSummary};
use crate::aws::{local_code, AwsError, Tags, Wait};
use crate::effects::{Action, Kind, Op, Unknown};
use crate::error::Error;
use crate::pki::ParsedCert;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "acm_ensure_imported", "acm_ensure_imported(domain: string, cert: string, key: string, chain: string) -> map", "Import the server certificate into ACM, or keep (or re-import over) the one mtls imported for `domain`. Returns #{ arn, status }.", |c, domain: &str, cert: &str, key: &str, chain: &str| -> Map { ensure_imported_cert(c, domain, cert, key, chain) });
    bound!(reg, ctx, "acm_ensure_requested", "acm_ensure_requested(domain: string) -> map", "Request (or find) the DNS-validated ACM certificate for `domain` (the ownership verification certificate). Returns #{ arn, status, cert_status, validation_name, validation_value }.", |c, domain: &str| -> Map { ensure_requested_cert(c, domain) });
    bound!(reg, ctx, "acm_wait_issued", "acm_wait_issued(arn: string, timeout_seconds: int) -> string", "Wait (with a spinner) until the ACM certificate is ISSUED; an error after the timeout. Returns the status.", |c, arn: Dynamic, timeout: i64| -> Dynamic { wait_until_issued(c, &arn, timeout) });
    bound!(reg, ctx, "acm_delete_replaced", "acm_delete_replaced(domain: string, keep_arn: string)", "Delete the server certificates mtls imported for `domain` other than `keep_arn` (a certificate from another CA is imported as a new one, not over the old), once the custom domain presents `keep_arn`; ACM's in-use answers are asked again. Nothing to do when there are none.", |c, domain: &str, keep: Dynamic| -> () { delete_replaced(c, domain, &keep) });
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
    let local = files.as_ref().and_then(LocalCert::of);
    hold_domain(ctx, domain)?;
    // What ACM holds for this domain: the certificates mtls imported (by their tags).
    let listed = ctx.observe(|aws| async {
        let found = aws.acm().find_certificates(None, &wanted_tags).await?;
        Ok(Some(found).filter(|f| !f.is_empty()))
    })?;
    let observed = match listed {
        Observed::Present(found) => {
            let mut held = Vec::new();
            for c in &found {
                if let Some(i) = read_imported(ctx, &c.arn, local.as_ref())? {
                    held.push(i);
                }
            }
            Observed::found(Some(held).filter(|h| !h.is_empty()))
        }
        unseen => unseen.map(|_| Vec::new()),
    };
    let diff = diff_imported(local.as_ref().map(|l| &l.der), &observed).map_err(|many| {
        duplicates(
            &format!("tagged as the server certificate of {domain}"),
            &many,
            "keep the one the custom domain presents (its regionalCertificateArn: aws apigateway get-domain-name --domain-name DOMAIN)",
        )
    })?;
    let held = observed.present().cloned().unwrap_or_default();
    // What the domain serves until the change: warn when that expires soon too.
    if diff.op() != Op::Keep {
        for i in &held {
            warn_served_expiring(ctx, i);
        }
    }
    let kept = match &diff {
        Diff::Keep(_) => held
            .iter()
            .find(|i| local.as_ref().map(|l| &l.der) == i.der.as_ref()),
        _ => None,
    };
    // A renewal from the same CA goes over the same ARN (the domain follows); a certificate
    // from another CA is imported anew, and the domain is moved to it by its own step.
    let reimport = match &diff {
        Diff::Update(_) => held.first().map(|i| i.arn.clone()),
        _ => None,
    };
    let replaces = match &diff {
        Diff::Replace(_) => held.first().map(|i| i.arn.clone()),
        _ => None,
    };
    let target = format!("server certificate for {domain}");
    let describe = |a: Action| {
        a.arg("certificate", cert)
            .arg("chain", chain)
            .arg_sensitive("private_key")
            .arg_maybe("arn", reimport.clone())
            .arg_maybe("replaces", replaces.clone())
    };
    let (op, imported) = reconcile::apply(
        &ctx.effects,
        Kind::AcmCertificate,
        &target,
        &observed,
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
            let arn = ctx.write(|aws| aws.acm().import_certificate(&import))?;
            if reimport.is_some() {
                // A re-import changes what the domain presents without an UpdateDomainName:
                // read the domain now, so a status AWS puts it in is not left unseen.
                settle_domain_after_reimport(ctx, domain, &arn)?;
            }
            Ok(arn)
        },
    )?;
    let arn = imported
        .or(reimport)
        .or_else(|| kept.map(|i| i.arn.clone()));
    if let Some(a) = &arn {
        ctx.effects.resolve(&target, "arn", a);
    }
    Ok(map(vec![
        ("arn", unknown_or(arn)),
        ("replaces", replaces.map_or(Dynamic::UNIT, Dynamic::from)),
        ("status", op.name().into()),
    ]))
}

/// The local server certificate to import: its DER, and the CA that issued it (the first
/// certificate of its chain file).
struct LocalCert {
    der: Vec<u8>,
    issuer: Option<ParsedCert>,
}

impl LocalCert {
    fn of(files: &super::checks::AcmImportFiles) -> Option<LocalCert> {
        let der = pem_der(&files.certificate)?;
        let issuer = ParsedCert::from_pem("", &files.chain).ok();
        Some(LocalCert { der, issuer })
    }

    /// Whether `other` (a certificate in ACM) comes from the same issuing CA, same name
    /// and same key, as this one: only then may it be re-imported over.
    fn same_issuer_as(&self, other: &[u8]) -> bool {
        let Some(ca) = &self.issuer else { return false };
        let mine = ParsedCert {
            der: self.der.clone(),
        };
        let theirs = ParsedCert {
            der: other.to_vec(),
        };
        mine.is_issued_by(ca) && theirs.is_issued_by(ca)
    }
}

/// The certificate mtls imported for a domain: its ARN, its body as DER, and whether the
/// local certificate renews it (same issuing CA, same key).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Imported {
    arn: String,
    der: Option<Vec<u8>>,
    renewed_by_local: bool,
}

/// One certificate found by its tags, with its body; `None` when it was deleted since it
/// was listed.
fn read_imported(
    ctx: &Context,
    arn: &str,
    local: Option<&LocalCert>,
) -> Result<Option<Imported>, Error> {
    let body = ctx.observe(|aws| async move {
        match aws.acm().certificate_pem(arn).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    if matches!(body, Observed::Absent) {
        return Ok(None);
    }
    let der = body.present().and_then(|b| pem_der(&b.certificate));
    let renewed_by_local = match (&der, local) {
        (Some(der), Some(l)) => l.same_issuer_as(der),
        _ => false,
    };
    Ok(Some(Imported {
        arn: arn.to_string(),
        der,
        renewed_by_local,
    }))
}

/// Warns when the certificate ACM serves now expires soon.
fn warn_served_expiring(ctx: &Context, i: &Imported) {
    let Some(der) = &i.der else { return };
    let served = ParsedCert { der: der.clone() };
    if let Ok(not_after) = served.not_after() {
        ctx.warn_if_expiring(
            &format!("the server certificate in ACM ({})", i.arn),
            not_after,
            "run setup to import server.pem",
        );
    }
}

/// After a re-import over `arn`: the custom domain that presents it must end AVAILABLE.
/// API Gateway puts a domain in PENDING_CERTIFICATE_REIMPORT when the re-imported
/// certificate breaks its rules (API Gateway developer guide, rest-api-mutual-tls:
/// "If a certificate is directly re-imported into ACM, the issuer must stay the same").
fn settle_domain_after_reimport(ctx: &Context, domain: &str, arn: &str) -> Result<(), Error> {
    let Some(d) = ctx.write(|aws| aws.apigateway().domain_name(domain))? else {
        return Ok(());
    };
    if d.regional_certificate_arn.as_deref() != Some(arn) {
        return Ok(());
    }
    let wait = Wait::domain_update();
    ctx.write(|aws| aws.apigateway().wait_domain_available(domain, &wait))
        .map(|_| ())
}

/// The imported server certificate: kept when ACM holds the same one; re-imported over
/// the same ARN (so the domain follows) when the local one renews it from the same CA;
/// imported anew (replaced) when it comes from another CA, since API Gateway refuses a
/// re-import across issuers (API Gateway developer guide, rest-api-mutual-tls); imported
/// when there is none. `local` is `None` while the file does not exist yet (a plan).
/// Several held and none the same: an error (`Err` with them), never a guess.
fn diff_imported(
    local: Option<&Vec<u8>>,
    observed: &Observed<Vec<Imported>>,
) -> Result<Diff<()>, Vec<String>> {
    let held = match observed {
        Observed::Present(held) => held,
        _ => return Ok(Diff::Create),
    };
    if local.is_some() && held.iter().any(|i| i.der.as_ref() == local) {
        return Ok(Diff::Keep("imported, same certificate"));
    }
    match held.as_slice() {
        [i] if i.renewed_by_local => Ok(Diff::Update(vec![Change {
            field: "certificate",
            patch: (),
        }])),
        [_] if local.is_none() => Ok(Diff::Replace(
            "a certificate this run makes: imported as a new certificate (a re-import only when it renews the one in ACM from the same CA)".to_string(),
        )),
        [_] => Ok(Diff::Replace(
            "issued by another CA than the one in ACM: imported as a new certificate, since API Gateway refuses a re-import from another issuer".to_string(),
        )),
        many => Err(many.iter().map(|i| i.arn.clone()).collect()),
    }
}

/// Two or more certificates where mtls makes one (two runs at once before mtls locked
/// them out, or a copy made by hand): which to keep is the user's call, never a guess.
fn duplicates(what: &str, arns: &[String], keep: &str) -> Error {
    Error::Aws(AwsError::local(
        "acm",
        "ListCertificates",
        local_code::AMBIGUOUS,
        format!(
            "{} ACM certificates are {what} ({}): {keep}, delete the others (aws acm delete-certificate --certificate-arn ARN) and run again",
            arns.len(),
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
            &many.iter().map(|c| c.arn.clone()).collect::<Vec<_>>(),
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

fn wait_until_issued(ctx: &Context, arn: &Dynamic, timeout: i64) -> Result<Dynamic, Error> {
    let arn = Known::from(text("acm_wait_issued", "arn", arn)?);
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

fn delete_replaced(ctx: &Context, domain: &str, keep: &Dynamic) -> Result<(), Error> {
    let f = "acm_delete_replaced";
    super::check_domain(f, domain)?;
    let keep = text(f, "keep_arn", keep)?;
    hold_domain(ctx, domain)?;
    // Offline nothing is known to be replaced: the plan shows no deletion.
    let server = tags(domain, "server");
    let found =
        ctx.observe(|aws| async { aws.acm().find_certificates(None, &server).await.map(Some) })?;
    let Observed::Present(found) = found else {
        return Ok(());
    };
    // `keep` unknown (a plan): the run imports a new certificate, so each one held is old.
    for c in found.iter().filter(|c| Some(&c.arn) != keep.as_ref()) {
        let action = Action::new(
            Op::Delete,
            Kind::AcmCertificate,
            format!("replaced server certificate for {domain}"),
            "replaced by a certificate from another CA",
        )
        .arg("arn", &c.arn)
        .arg_maybe("replaced_by", keep.clone());
        ctx.effects.apply(action, || {
            refuse_if_presented(ctx, domain, &c.arn)?;
            ctx.write(|aws| aws.acm().delete(&c.arn))
        })?;
    }
    Ok(())
}

/// A certificate the custom domain still uses is never deleted (a run stopped before the
/// domain moved to the new one): an error that says what to run.
fn refuse_if_presented(ctx: &Context, domain: &str, arn: &str) -> Result<(), Error> {
    let Some(d) = ctx.write(|aws| aws.apigateway().domain_name(domain))? else {
        return Ok(());
    };
    let uses = [
        d.regional_certificate_arn.as_deref(),
        d.ownership_verification_certificate_arn.as_deref(),
    ]
    .contains(&Some(arn));
    if !uses {
        return Ok(());
    }
    Err(Error::Aws(AwsError::local(
        "acm",
        "DeleteCertificate",
        local_code::FAILED_STATE,
        format!("the custom domain {domain} still uses {arn}: it was not deleted; run the flow again, which moves the domain to the new certificate first"),
    )))
}

fn delete_tagged_certs(ctx: &Context, domain: &str) -> Result<(), Error> {
    super::check_domain("acm_delete_tagged", domain)?;
    hold_domain(ctx, domain)?;
    let mut by_domain = Tags::new();
    by_domain.insert(TAG_DOMAIN.to_string(), domain.to_string());
    let found = ctx.observe(|aws| async {
        let found = aws.acm().find_certificates(None, &by_domain).await;
        found.map(Some)
    })?;
    let Observed::Present(certs) = found else {
        // Not looked up: which certificates are tagged is not known (the target is the
        // live one's, with the role unknown: a confirmed run sends only what it showed).
        let target = format!("{} certificate for {domain}", Unknown::TEXT);
        let unseen = Observed::<CertificateSummary>::NotLookedUp;
        reconcile::delete(&ctx.effects, Kind::AcmCertificate, &target, &unseen, |_| {
            Ok(())
        })?;
        return Ok(());
    };
    for c in certs {
        let role = c.tags.get(TAG_ROLE).cloned().unwrap_or_default();
        let target = format!("{role} certificate for {domain}");
        let found = Observed::Present(c);
        reconcile::delete(&ctx.effects, Kind::AcmCertificate, &target, &found, |c| {
            ctx.write(|aws| aws.acm().delete(&c.arn))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::acm::CertificateKind;

    #[test]
    fn imported_certificate_diffs() {
        let held = |arn: &str, der: Option<&[u8]>, renewed: bool| Imported {
            arn: arn.into(),
            der: der.map(<[u8]>::to_vec),
            renewed_by_local: renewed,
        };
        let one = |i: Imported| Observed::Present(vec![i]);
        let local = vec![1, 2, 3];
        let diff =
            |local: Option<&Vec<u8>>, o: &Observed<Vec<Imported>>| diff_imported(local, o).unwrap();
        assert_eq!(
            diff(Some(&local), &one(held("a", Some(&[1, 2, 3]), false))),
            Diff::Keep("imported, same certificate")
        );
        // A renewal from the same CA: re-imported over the same ARN.
        assert_eq!(
            diff(Some(&local), &one(held("a", Some(&[9]), true))).op(),
            Op::Update
        );
        // Another CA: a new certificate, never a re-import across issuers.
        let other = diff(Some(&local), &one(held("a", Some(&[9]), false)));
        assert_eq!(other.op(), Op::Replace);
        assert!(
            matches!(&other, Diff::Replace(r) if r.contains("another CA")),
            "{other:?}"
        );
        assert_eq!(
            diff(Some(&local), &one(held("a", None, false))).op(),
            Op::Replace
        );
        assert_eq!(diff(None, &one(held("a", None, false))).op(), Op::Replace);
        assert_eq!(diff(Some(&local), &Observed::Absent), Diff::Create);
        assert_eq!(diff(None, &Observed::NotLookedUp), Diff::Create);
        // The new one beside the old (a run stopped before deleting it): kept.
        let both = Observed::Present(vec![
            held("old", Some(&[9]), false),
            held("new", Some(&[1, 2, 3]), false),
        ]);
        assert_eq!(
            diff(Some(&local), &both),
            Diff::Keep("imported, same certificate")
        );
        // Two, neither the local one: which to keep is the user's call.
        let two = Observed::Present(vec![
            held("x", Some(&[8]), true),
            held("y", Some(&[9]), true),
        ]);
        assert_eq!(diff_imported(Some(&local), &two).unwrap_err(), ["x", "y"]);
    }

    #[test]
    fn only_a_certificate_from_the_same_ca_renews_one() {
        let ca = |name: &str| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(rcgen::DnType::CommonName, name);
            p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            (p.self_signed(&key).unwrap(), key)
        };
        let leaf = |(ca, ca_key): &(rcgen::Certificate, rcgen::KeyPair)| {
            let issuer = rcgen::Issuer::from_ca_cert_pem(&ca.pem(), ca_key).unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            rcgen::CertificateParams::new(vec!["api.example.com".to_string()])
                .unwrap()
                .signed_by(&key, &issuer)
                .unwrap()
                .der()
                .to_vec()
        };
        let inca = ca("mtls intermediate CA");
        // Same name, another key: not the same issuer.
        let twin = ca("mtls intermediate CA");
        let other = ca("mtls intermediate CA inca-2");
        let local = LocalCert {
            der: leaf(&inca),
            issuer: Some(ParsedCert {
                der: inca.0.der().to_vec(),
            }),
        };
        assert!(local.same_issuer_as(&leaf(&inca)));
        assert!(!local.same_issuer_as(&leaf(&twin)));
        assert!(!local.same_issuer_as(&leaf(&other)));
        let no_chain = LocalCert {
            issuer: None,
            ..local
        };
        assert!(!no_chain.same_issuer_as(&leaf(&inca)));
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

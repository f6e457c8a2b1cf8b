//! ACM for scripts (steps 7-8): the imported server certificate and the requested
//! ownership verification certificate, one file each; teardown's removal of both.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::lock::hold_domain;
use super::{TAG_DOMAIN, TAG_ROLE};
use crate::aws::acm::CertificateSummary;
use crate::aws::{local_code, AwsError, Tags};
use crate::effects::{Kind, Unknown};
use crate::error::Error;
use crate::reconcile::{self, Observed};
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

mod imported;
mod requested;

use imported::{delete_replaced, ensure_imported_cert};
use requested::{ensure_requested_cert, wait_until_issued};

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

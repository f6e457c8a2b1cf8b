//! Adoption (issue 20): what a walkthrough done by hand made becomes mtls's own, without
//! downtime. Like Terraform's `import`, nothing is made again: each resource is found from
//! the custom domain outward and tagged as mtls tags what it makes, after which setup's own
//! steps find it (by those tags) and change only what differs from what setup makes.
//!
//! - `adopt_find` reads (it needs AWS: an offline plan cannot adopt) and refuses, before
//!   anything changes, what cannot be taken over safely: a resource tagged for another
//!   domain, an API other domains map too, and anything setup could only reach with downtime;
//! - `adopt_resources` records one `adopt` action per resource (tagging it in a live run);
//! - `adopted_settings` gives later runs (setup, teardown) what adoption kept as it was and
//!   recorded on the domain's tags: the truststore object and the stage.
//!
//! The files: `find.rs` (what exists, read from the custom domain outward), `checks.rs`
//! (the refusals, each before any change), `tags.rs` (the `adopt` actions and the tags they
//! write, and `adopted_settings` reading them back). Here: the Rhai functions' registration
//! and the reads the files share.

use std::rc::Rc;

use rhai::Map;

use super::TAG_DOMAIN;
use crate::aws::Tags;
use crate::error::Error;
use crate::reconcile::Observed;
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

mod checks;
mod find;
mod tags;

use find::find;
use tags::{adopt, settings};

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "adopt_find", "adopt_find(domain: string, files: map) -> map", "Adoption, first half (read-only): finds what exists for `domain` from the custom domain outward (its root mapping, API and stage, certificates, truststore object, the Route 53 records) and refuses, before any change, what cannot be taken over without downtime or from another domain. `files`: #{ root, intermediate, client, server } (the certificate files setup keeps). Needs AWS: an offline plan is an error. Returns the map adopt_resources takes.", |c, domain: &str, files: Map| -> Map { find(c, domain, &files) });
    bound!(reg, ctx, "adopt_resources", "adopt_resources(found: map) -> map", "Adoption, second half: one `adopt` action per resource adopt_find found (a live run tags it with mtls's tags; nothing is made or deleted). Returns #{ adopted }.", |c, found: Map| -> Map { adopt(c, &found) });
    bound!(reg, ctx, "adopted_settings", "adopted_settings(domain: string) -> map", "What an adoption recorded on the custom domain mtls holds for `domain`: #{ bucket, truststore_key, stage }, each () when not recorded (and all () in an offline plan).", |c, domain: &str| -> Map { settings(c, domain) });
}

/// A read that must have happened did not (adoption checked it was online): a bug.
fn offline(domain: &str) -> Error {
    Error::internal(
        format!("adopt what exists for {domain}"),
        "AWS could not be read",
    )
}

/// Runs a read that must happen (adoption has checked it is online).
fn must_read<'a, T, F>(
    ctx: &'a Context,
    domain: &str,
    call: impl FnOnce(&'a crate::aws::Aws) -> F,
) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, crate::aws::AwsError>> + 'a,
{
    let read = ctx.observe(|aws| {
        let call = call(aws);
        async move { call.await.map(Some) }
    })?;
    match read {
        Observed::Present(t) => Ok(t),
        _ => Err(offline(domain)),
    }
}

/// Whether AWS may be read in this run (a live run, `plan --refresh`): asked through the
/// one read there is, which makes no call.
fn online(ctx: &Context) -> Result<bool, Error> {
    Ok(ctx.observe(|_| async { Ok(Some(())) })?.looked_up())
}

/// Who a resource's tags say it belongs to: nobody (made by hand), this domain (mtls's
/// already), or another domain (a refusal).
fn owner(tags: &Tags) -> Option<&str> {
    tags.get(TAG_DOMAIN).map(String::as_str)
}

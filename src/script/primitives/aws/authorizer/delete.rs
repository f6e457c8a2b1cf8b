//! Teardown of the revocation authorizer: its function, its role and policy, and every
//! version of the published list and CRLs (`authorizer_delete`). The REQUEST authorizer
//! itself goes with the API.

use rhai::Dynamic;

use super::super::lock::hold_domain;
use super::super::{display, text, TAG_DOMAIN};
use super::role::POLICY_NAME;
use super::{index_key, resource_name};
use crate::effects::Kind;
use crate::error::Error;
use crate::reconcile::{self, Observed};
use crate::script::Context;

pub(super) fn delete(ctx: &Context, domain: &str, bucket: &Dynamic) -> Result<(), Error> {
    super::super::check_domain("authorizer_delete", domain)?;
    let target_bucket = display(bucket);
    let bucket = text("authorizer_delete", "bucket", bucket)?;
    super::super::check_bucket("authorizer_delete", "bucket", bucket.as_deref())?;
    hold_domain(ctx, domain)?;
    let name = resource_name(domain);
    let function = ctx.observe(|aws| aws.lambda().function(&name))?;
    reconcile::delete(&ctx.effects, Kind::LambdaFunction, &name, &function, |_| {
        ctx.write(|aws| aws.lambda().delete_function(&name))
    })?;
    // Only a role mtls made for this domain (its tag).
    let role = ctx
        .observe(|aws| aws.iam().role(&name))?
        .and_then(|r| (r.tags.get(TAG_DOMAIN).map(String::as_str) == Some(domain)).then_some(r));
    reconcile::delete(&ctx.effects, Kind::IamRole, &name, &role, |_| {
        ctx.write(|aws| aws.iam().delete_role_policy(&name, POLICY_NAME))?;
        ctx.write(|aws| aws.iam().delete_role(&name))
    })?;
    // Every version of the published list and of the CRLs beside it (`--var crl` may
    // name another file than RootCA.crl.pem).
    let prefix = format!("{domain}/");
    let index = index_key(domain);
    let published = |key: &str| key == index || key.ends_with(".crl.pem");
    let versions = match bucket.get() {
        Some(b) => ctx.observe(|aws| async move {
            // No bucket (a teardown that ran before): nothing of ours is left in it.
            let all = match aws.s3().list_object_versions(b, Some(&prefix)).await {
                Ok(all) => all,
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e),
            };
            let ours: Vec<_> = all.into_iter().filter(|v| published(&v.key)).collect();
            Ok(Some(ours).filter(|o| !o.is_empty()))
        })?,
        None => Observed::NotLookedUp,
    };
    reconcile::delete_described(
        &ctx.effects,
        Kind::S3Object,
        &format!("s3://{target_bucket}/{}", index_key(domain)),
        &versions,
        |a, v| a.arg("versions", v.len()),
        |versions| {
            let b = bucket.known("the bucket name")?;
            for v in versions {
                ctx.write(|aws| aws.s3().delete_object_version(b, &v.key, &v.version_id))?;
            }
            Ok(())
        },
    )?;
    Ok(())
}

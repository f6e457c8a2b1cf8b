//! Step 6: the versioned truststore bucket and its object; teardown's bucket removal.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::{aws_region, delete_if, display, map, shown, text, unknown_or, RhaiResult, OFFLINE};
use crate::aws::s3::{sha256_hex, BucketState, Versioning};
use crate::effects::{Action, Op};
use crate::error::Error;
use crate::script::error::fail;
use crate::script::primitives::{primitive, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    let c = ctx.clone();
    primitive!(reg, "s3_ensure_bucket", "s3_ensure_bucket(name: string) -> map",
        "Find or create the S3 bucket `name` (in the run's region) with versioning enabled. Returns #{ name, status }.",
        move |name: Dynamic| -> RhaiResult<Map> { ensure_bucket(&c, &name).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "s3_ensure_truststore", "s3_ensure_truststore(bucket: string, key: string, path: string) -> map",
        "Check the truststore `path` against API Gateway's rules and upload its certificates (rebuilt from the parsed certificates: nothing else in the file is sent) as s3://bucket/key, unless the latest version already holds them. Returns #{ uri, version, sha256, status }.",
        move |bucket: Dynamic, key: &str, path: &str| -> RhaiResult<Map> { ensure_truststore(&c, &bucket, key, path).map_err(fail) });
    let c = ctx.clone();
    primitive!(
        reg,
        "s3_delete_truststore",
        "s3_delete_truststore(bucket: string, key: string)",
        "Delete every version of the truststore object, then the bucket unless it holds other objects.",
        move |bucket: Dynamic, key: &str| -> RhaiResult<()> { delete_truststore(&c, &bucket, key).map_err(fail) }
    );
}

fn ensure_bucket(ctx: &Context, name: &Dynamic) -> Result<Map, Error> {
    let target = display(name);
    let name = text("s3_ensure_bucket", "name", name)?;
    let region = aws_region(ctx)?;
    let state = match &name {
        Some(n) => ctx.read(|aws| aws.s3().find_bucket(n))?,
        None => None,
    };
    let mut op = Op::Keep;
    match state {
        Some(BucketState::OwnedByOther) => {
            return Err(Error::invalid_argument("s3_ensure_bucket", "name", format!("the bucket name {target} belongs to another AWS account (or this identity may not use it)"), "bucket names are global: pass another with --var bucket=NAME"));
        }
        Some(BucketState::Owned { .. }) => {
            ctx.effects
                .keep(Action::new(Op::Keep, "s3 bucket", &target, "exists"))
        }
        state => {
            op = Op::Create;
            let reason = if state.is_none() {
                OFFLINE
            } else {
                "does not exist"
            };
            let action = Action::new(Op::Create, "s3 bucket", &target, reason)
                .arg_maybe("region", region.clone().try_cast::<String>());
            ctx.effects.apply(action, || {
                ctx.write(|aws| aws.s3().create_bucket(name.as_deref().unwrap_or_default()))
            })?;
        }
    }
    // Versioning: API Gateway pins the truststore to an object version.
    let versioning = match (&name, op) {
        (Some(n), Op::Keep) => ctx.read(|aws| aws.s3().versioning(n))?,
        _ => None,
    };
    let target_v = format!("{target} versioning");
    match versioning {
        Some(Versioning::Enabled) => {
            ctx.effects
                .keep(Action::new(Op::Keep, "s3 versioning", &target_v, "enabled"))
        }
        v => {
            let (vop, reason) = match v {
                Some(_) => (Op::Update, "not enabled"),
                None if op == Op::Create => (Op::Create, "new bucket"),
                None => (Op::Create, OFFLINE),
            };
            if vop == Op::Update {
                op = Op::Update;
            }
            let action =
                Action::new(vop, "s3 versioning", &target_v, reason).arg("status", "Enabled");
            ctx.effects.apply(action, || {
                ctx.write(|aws| {
                    aws.s3()
                        .enable_versioning(name.as_deref().unwrap_or_default())
                })
            })?;
        }
    }
    Ok(map(vec![
        ("name", unknown_or(name)),
        ("status", op.name().into()),
    ]))
}

fn ensure_truststore(ctx: &Context, bucket: &Dynamic, key: &str, path: &str) -> Result<Map, Error> {
    let uri = format!("s3://{}/{key}", display(bucket));
    let bucket = text("s3_ensure_truststore", "bucket", bucket)?;
    // The truststore rules run here whatever the script checked before; `None` in a plan
    // where an earlier step makes the file.
    let body = super::checks::checked_truststore(ctx, path)?.map(|store| store.to_pem());
    let sha = body.as_ref().map(|b| sha256_hex(b.as_bytes()));
    let head = match &bucket {
        Some(b) => ctx.read(|aws| aws.s3().head_object(b, key, None))?,
        None => None,
    };
    let (op, version) = match (&head, &sha) {
        (Some(Some(h)), Some(s)) if h.sha256.as_deref() == Some(s.as_str()) => {
            ctx.effects.keep(
                Action::new(Op::Keep, "s3 object", &uri, "same content")
                    .arg("version", shown(&h.version_id)),
            );
            (Op::Keep, h.version_id.clone())
        }
        (head, _) => {
            let (op, reason) = match head {
                None => (Op::Create, OFFLINE),
                Some(None) => (Op::Create, "does not exist"),
                Some(Some(_)) => (Op::Update, "content differs: a new version"),
            };
            let action = Action::new(op, "s3 object", &uri, reason)
                .arg("file", path)
                .arg_maybe("sha256", sha.clone())
                .arg_maybe("version", None::<String>);
            let put = ctx.effects.apply(action, || {
                let body = body.as_deref().unwrap_or_default();
                ctx.write(|aws| {
                    aws.s3().put_object(
                        bucket.as_deref().unwrap_or_default(),
                        key,
                        body.as_bytes(),
                        "application/x-pem-file",
                    )
                })
            })?;
            let version = put.and_then(|p| p.version_id);
            if let Some(v) = &version {
                ctx.effects.resolve(&uri, "version", v);
            }
            (op, version)
        }
    };
    Ok(map(vec![
        // Reads "s3://trust-store-(known after apply)/RootCA.pem" in an offline plan.
        ("uri", uri.clone().into()),
        ("version", unknown_or(version)),
        ("sha256", unknown_or(sha)),
        ("status", op.name().into()),
    ]))
}

/// Removes the truststore object (every version of `key`), then the bucket if nothing
/// else is in it: a bucket the user pointed mtls at may hold other data, and teardown
/// must not lose it.
fn delete_truststore(ctx: &Context, bucket: &Dynamic, key: &str) -> Result<(), Error> {
    let target = display(bucket);
    let name = text("s3_delete_truststore", "bucket", bucket)?;
    let Some(name) = name.filter(|_| ctx.effects.may_read()) else {
        delete_if(
            ctx,
            None,
            "s3 object",
            &format!("s3://{target}/{key}"),
            || Ok(()),
        )?;
        return delete_if(ctx, None, "s3 bucket", &target, || Ok(()));
    };
    let owned = matches!(
        ctx.read(|aws| aws.s3().find_bucket(&name))?,
        Some(BucketState::Owned { .. })
    );
    if !owned {
        return Ok(());
    }
    let versions = ctx
        .read(|aws| aws.s3().list_object_versions(&name, None))?
        .unwrap_or_default();
    let (ours, others): (Vec<_>, Vec<_>) = versions.into_iter().partition(|v| v.key == key);
    if !ours.is_empty() {
        let uri = format!("s3://{name}/{key}");
        let action =
            Action::new(Op::Delete, "s3 object", &uri, "exists").arg("versions", ours.len());
        ctx.effects.apply(action, || {
            for v in &ours {
                ctx.write(|aws| aws.s3().delete_object_version(&name, &v.key, &v.version_id))?;
            }
            Ok(())
        })?;
    }
    if others.is_empty() {
        delete_if(ctx, Some(true), "s3 bucket", &name, || {
            ctx.write(|aws| aws.s3().delete_bucket(&name))
        })
    } else {
        let keys: std::collections::BTreeSet<_> = others.iter().map(|v| v.key.as_str()).collect();
        ctx.effects.keep(
            Action::new(
                Op::Keep,
                "s3 bucket",
                &name,
                "holds objects mtls did not put there",
            )
            .arg("objects", keys.into_iter().collect::<Vec<_>>().join(", ")),
        );
        Ok(())
    }
}

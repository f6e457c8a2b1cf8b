//! Step 6: the versioned truststore bucket and its object; teardown's bucket removal.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::lock::Scoped;
use super::{aws_region, display, map, text, unknown_or};
use crate::aws::s3::{sha256_hex, BucketState, ObjectHead, Versioning};
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::primitives::{bound, bundle, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "s3_ensure_bucket", "s3_ensure_bucket(name: string) -> map", "Find or create the S3 bucket `name` (in the run's region) with versioning enabled. Returns #{ name, status }.", |c, name: Dynamic| -> Map { ensure_bucket(c, &name) });
    bound!(reg, ctx, "s3_ensure_truststore", "s3_ensure_truststore(bucket: string, key: string, path: string) -> map", "Check the truststore `path` against API Gateway's rules and upload its certificates (rebuilt from the parsed certificates: nothing else in the file is sent) as s3://bucket/key, unless the latest version already holds them. Returns #{ uri, version, sha256, added, removed, status } (added, removed: the certificates a new version adds to and removes from the one it replaces).", |c, bucket: Dynamic, key: &str, path: &str| -> Map { ensure_truststore(c, &bucket, key, path) });
    bound!(reg, ctx, "s3_delete_truststore", "s3_delete_truststore(bucket: string, key: string)", "Delete every version of the truststore object, then the bucket unless it holds other objects.", |c, bucket: Dynamic, key: &str| -> () { delete_truststore(c, &bucket, key) });
}

/// The bucket: kept when this identity owns it; a name another account holds is an error.
fn diff_bucket(target: &str, observed: &Observed<BucketState>) -> Result<Diff<()>, Error> {
    match observed {
        Observed::Present(BucketState::Owned { .. }) => Ok(Diff::Keep("exists")),
        Observed::Present(BucketState::OwnedByOther) => Err(Error::invalid_argument(
            "s3_ensure_bucket",
            "name",
            format!("the bucket name {target} belongs to another AWS account (or this identity may not use it)"),
            "bucket names are global: pass another with --var bucket=NAME",
        )),
        _ => Ok(Diff::Create),
    }
}

/// Versioning: API Gateway pins the truststore to an object version, so it must be on.
/// A bucket that does not exist yet is `Absent` here: versioning is set when it is made.
fn diff_versioning(observed: &Observed<Versioning>) -> Diff<()> {
    match observed {
        Observed::Present(Versioning::Enabled) => Diff::Keep("enabled"),
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "status",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

fn ensure_bucket(ctx: &Context, name: &Dynamic) -> Result<Map, Error> {
    let target = display(name);
    let name = text("s3_ensure_bucket", "name", name)?;
    super::check_bucket("s3_ensure_bucket", "name", name.as_deref())?;
    let region = aws_region(ctx)?;
    // Domains share the bucket: one run at a time finds or creates it.
    let _lock = match name.get() {
        Some(n) => Some(Scoped::take(ctx, "bucket", n, &format!("the bucket {n}"))?),
        None => None,
    };
    let observed = read_bucket(ctx, &name)?;
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::S3Bucket,
        &target,
        &observed,
        &diff_bucket(&target, &observed)?,
        |a| a.arg_maybe("region", region.clone().try_cast::<String>()),
        || {
            let name = name.known("the bucket name")?;
            ctx.write(|aws| aws.s3().create_bucket(name))
        },
    )?;
    // A bucket that is made has no versioning yet (as read as the bucket was).
    let versioning = match (name.get(), op) {
        (Some(n), Op::Keep) => {
            ctx.observe(|aws| async { aws.s3().versioning(n).await.map(Some) })?
        }
        _ => observed.clone().and_then(|_| None),
    };
    let vdiff = diff_versioning(&versioning);
    reconcile::apply(
        &ctx.effects,
        Kind::S3Versioning,
        &format!("{target} versioning"),
        &versioning,
        &vdiff,
        |a| a.arg("status", "Enabled"),
        || {
            let name = name.known("the bucket name")?;
            ctx.write(|aws| aws.s3().enable_versioning(name))
        },
    )?;
    let op = if op == Op::Keep { vdiff.op() } else { op };
    Ok(map(vec![
        ("name", unknown_or(name.into_option())),
        ("status", op.name().into()),
    ]))
}

/// The truststore object: kept when its latest version holds the same certificates
/// (`sha256`: `None` until the file exists) and has a version id for API Gateway to pin
/// (a write made before versioning took effect has none), else a new version is put.
fn diff_truststore_object(sha256: &Known<String>, observed: &Observed<ObjectHead>) -> Diff<()> {
    match observed {
        Observed::Present(h) if sha256.is_known() && h.sha256.as_ref() == sha256.get() => {
            if h.version_id.is_some() {
                Diff::Keep("same content")
            } else {
                Diff::Update(vec![Change {
                    field: "versionId",
                    patch: (),
                }])
            }
        }
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "content",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

fn ensure_truststore(ctx: &Context, bucket: &Dynamic, key: &str, path: &str) -> Result<Map, Error> {
    let uri = format!("s3://{}/{key}", display(bucket));
    let bucket = text("s3_ensure_truststore", "bucket", bucket)?;
    super::check_bucket("s3_ensure_truststore", "bucket", bucket.as_deref())?;
    super::check_object_key("s3_ensure_truststore", key)?;
    // The truststore rules run here whatever the script checked before; `None` in a plan
    // where an earlier step makes the file.
    // A file an earlier step of a plan rewrites is known only once applied.
    let store = if ctx.effects.pending(path) {
        None
    } else {
        super::checks::checked_truststore(ctx, path)?
    };
    let body = Known::from(store.as_ref().map(|store| store.to_pem()));
    let sha = body.map(|b| sha256_hex(b.as_bytes()));
    let observed = match bucket.get() {
        Some(b) => with_content_sha(
            ctx,
            b,
            key,
            ctx.observe(|aws| aws.s3().head_object(b, key, None))?,
        ),
        None => Observed::NotLookedUp,
    };
    let diff = diff_truststore_object(&sha, &observed);
    // A new version of a truststore that exists: the plan names the certificates it adds
    // and removes, read back from the version it replaces (a failed read only leaves
    // them out: it is information, and the upload does not depend on it).
    let change = match (bucket.get(), observed.present(), &store, &diff) {
        (Some(b), Some(head), Some(store), Diff::Update(_)) => {
            let before =
                super::rollover::read_truststore_object(ctx, b, key, head.version_id.as_deref())
                    .ok()
                    .and_then(|before| before.present().cloned());
            match before {
                Some(before) => Some(bundle::bundle_change(
                    &bundle::entries(&before)?,
                    &bundle::entries(store)?,
                )),
                None => None,
            }
        }
        _ => None,
    };
    let old_version = observed.present().and_then(|h| h.version_id.clone());
    let describe = |a: Action| {
        let a = a.arg("file", path).arg_maybe("sha256", sha.get());
        let a = match &change {
            Some(c) => bundle::describe_change(a, c),
            None => a,
        };
        match &old_version {
            Some(v) if diff.op() == Op::Update => a.arg(
                "version",
                format!("{v} -> {}", crate::effects::Unknown::TEXT),
            ),
            _ => a.arg_maybe("version", None::<String>),
        }
    };
    let (op, put) = reconcile::apply(
        &ctx.effects,
        Kind::S3Object,
        &uri,
        &observed,
        &diff,
        describe,
        || {
            let body = body.known("the truststore")?;
            let bucket = bucket.known("the bucket name")?;
            // Right after versioning is enabled S3 may store a write without a version id
            // (written again until it has one), then answer 404 for the new version for a
            // while (read back until S3 serves it, before the domain is pointed at it).
            ctx.write(|aws| async move {
                let s3 = aws.s3();
                let written = s3
                    .put_object_versioned(bucket, key, body.as_bytes(), "application/x-pem-file")
                    .await?;
                s3.wait_until_readable(bucket, key, &written).await?;
                Ok(written)
            })
        },
    )?;
    let version = match put {
        Some(p) => {
            if let Some(v) = &p.version_id {
                ctx.effects.resolve(&uri, "version", v);
            }
            p.version_id
        }
        // Kept: the version there. A change in a plan: a new version, not known yet (the
        // old one would make the domain step look kept).
        None if op == Op::Keep => observed.present().and_then(|h| h.version_id.clone()),
        None => None,
    };
    Ok(map(vec![
        // In an offline plan the bucket, and so the URI, is not known yet.
        ("uri", uri.clone().into()),
        ("version", unknown_or(version)),
        ("sha256", unknown_or(sha.into_option())),
        ("added", labels(change.as_ref().map(|c| &c.added))),
        ("removed", labels(change.as_ref().map(|c| &c.removed))),
        ("status", op.name().into()),
    ]))
}

/// An object mtls did not upload (by hand, as the article does) has no sha256 metadata: its
/// certificates are read, so one that holds the same certificates is kept rather than
/// uploaded again (which would move the domain to a new version for nothing). An object
/// that cannot be read as certificates is left without one: it differs.
fn with_content_sha(
    ctx: &Context,
    bucket: &str,
    key: &str,
    observed: Observed<ObjectHead>,
) -> Observed<ObjectHead> {
    match observed {
        Observed::Present(mut h) if h.sha256.is_none() => {
            let store =
                super::rollover::read_truststore_object(ctx, bucket, key, h.version_id.as_deref())
                    .ok();
            h.sha256 = store
                .as_ref()
                .and_then(Observed::present)
                .map(|s| sha256_hex(s.to_pem().as_bytes()));
            Observed::Present(h)
        }
        other => other,
    }
}

/// The certificates of a bundle change as a script list (empty when nothing was compared).
fn labels(list: Option<&Vec<bundle::BundleEntry>>) -> Dynamic {
    list.into_iter()
        .flatten()
        .map(|e| Dynamic::from(e.label()))
        .collect::<rhai::Array>()
        .into()
}

/// Removes the truststore object (every version of `key`), then the bucket if nothing
/// else is in it: a bucket the user pointed mtls at may hold other data, and teardown
/// must not lose it.
fn delete_truststore(ctx: &Context, bucket: &Dynamic, key: &str) -> Result<(), Error> {
    let target = display(bucket);
    let name = text("s3_delete_truststore", "bucket", bucket)?;
    super::check_bucket("s3_delete_truststore", "bucket", name.as_deref())?;
    super::check_object_key("s3_delete_truststore", key)?;
    // A bucket of another account is not ours to empty: as absent as one that is not there.
    let bucket = read_bucket(ctx, &name)?.and_then(|state| match state {
        BucketState::Owned { .. } => name.get().cloned(),
        _ => None,
    });
    let versions = match bucket.present() {
        Some(n) => {
            ctx.observe(|aws| async { aws.s3().list_object_versions(n, None).await.map(Some) })?
        }
        None => bucket.clone().map(|_| Vec::new()),
    };
    let (ours, others) = match versions {
        Observed::Present(v) => {
            let (ours, others): (Vec<_>, Vec<_>) = v.into_iter().partition(|v| v.key == key);
            (
                Observed::found(Some(ours).filter(|o| !o.is_empty())),
                others,
            )
        }
        unseen => (unseen.map(|_| Vec::new()), Vec::new()),
    };
    let bucket_name = bucket.present().map_or(target.as_str(), String::as_str);
    reconcile::delete_described(
        &ctx.effects,
        Kind::S3Object,
        &format!("s3://{bucket_name}/{key}"),
        &ours,
        |a, ours| a.arg("versions", ours.len()),
        |ours| {
            let name = bucket.present().ok_or_else(|| {
                Error::internal("empty the truststore bucket", "its name was not read")
            })?;
            for v in ours {
                ctx.write(|aws| aws.s3().delete_object_version(name, &v.key, &v.version_id))?;
            }
            Ok(())
        },
    )?;
    if others.is_empty() {
        reconcile::delete(&ctx.effects, Kind::S3Bucket, bucket_name, &bucket, |name| {
            ctx.write(|aws| aws.s3().delete_bucket(name))
        })?;
    } else {
        let keys: std::collections::BTreeSet<_> = others.iter().map(|v| v.key.as_str()).collect();
        ctx.effects.keep(
            Action::new(
                Op::Keep,
                Kind::S3Bucket,
                bucket_name,
                "holds objects mtls did not put there",
            )
            .arg("objects", keys.into_iter().collect::<Vec<_>>().join(", ")),
        );
    }
    Ok(())
}

/// The bucket `name` as this identity sees it (not looked up while its name is unknown).
fn read_bucket(ctx: &Context, name: &Known<String>) -> Result<Observed<BucketState>, Error> {
    Ok(match name.get() {
        Some(n) => ctx
            .observe(|aws| async { aws.s3().find_bucket(n).await.map(Some) })?
            .and_then_state(),
        None => Observed::NotLookedUp,
    })
}

/// `find_bucket` answers `Absent` as a state of its own; as an observation it is absence.
trait BucketObservation {
    fn and_then_state(self) -> Observed<BucketState>;
}

impl BucketObservation for Observed<BucketState> {
    fn and_then_state(self) -> Observed<BucketState> {
        match self {
            Observed::Present(BucketState::Absent) => Observed::Absent,
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_and_versioning_diffs() {
        let owned = Observed::Present(BucketState::Owned { region: None });
        assert_eq!(diff_bucket("b", &owned).unwrap(), Diff::Keep("exists"));
        assert_eq!(diff_bucket("b", &Observed::Absent).unwrap(), Diff::Create);
        assert_eq!(
            diff_bucket("b", &Observed::NotLookedUp).unwrap(),
            Diff::Create
        );
        assert!(diff_bucket("b", &Observed::Present(BucketState::OwnedByOther)).is_err());
        assert_eq!(
            Observed::Present(BucketState::Absent).and_then_state(),
            Observed::Absent
        );
        assert_eq!(
            diff_versioning(&Observed::Present(Versioning::Enabled)),
            Diff::Keep("enabled")
        );
        for v in [Versioning::Unversioned, Versioning::Suspended] {
            assert_eq!(diff_versioning(&Observed::Present(v)).op(), Op::Update);
        }
        assert_eq!(diff_versioning(&Observed::Absent), Diff::Create);
    }

    #[test]
    fn truststore_object_diffs() {
        let head = |sha: Option<&str>| {
            Observed::Present(ObjectHead {
                version_id: Some("v1".into()),
                etag: "e".into(),
                sha256: sha.map(str::to_string),
                size: 1,
            })
        };
        let sha = Known::value("aa".to_string());
        assert_eq!(
            diff_truststore_object(&sha, &head(Some("aa"))),
            Diff::Keep("same content")
        );
        assert_eq!(
            diff_truststore_object(&sha, &head(Some("bb"))).op(),
            Op::Update
        );
        // The same bytes written before versioning took effect: written again, for a version.
        let unversioned = Observed::Present(ObjectHead {
            version_id: None,
            etag: "e".into(),
            sha256: Some("aa".into()),
            size: 1,
        });
        assert_eq!(
            diff_truststore_object(&sha, &unversioned).changes()[0].field,
            "versionId"
        );
        // An object without mtls's checksum (put by someone else) is replaced by a new version.
        assert_eq!(diff_truststore_object(&sha, &head(None)).op(), Op::Update);
        // A plan that does not know the file yet never calls it "the same".
        assert_eq!(
            diff_truststore_object(&Known::unknown(), &head(None)).op(),
            Op::Update
        );
        assert_eq!(
            diff_truststore_object(&sha, &Observed::Absent),
            Diff::Create
        );
        assert_eq!(
            diff_truststore_object(&Known::unknown(), &Observed::NotLookedUp),
            Diff::Create
        );
    }
}

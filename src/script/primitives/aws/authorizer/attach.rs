//! The authorizer on the API: API Gateway's permission to invoke the function, the REQUEST
//! authorizer (TTL 0), every method made CUSTOM with it, and the stage deployed again when a
//! method changed (`authorizer_ensure_attached`).

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{map, text, unknown_or};
use super::{region_and_account, resource_name};
use crate::aws::apigateway::authorizers::{
    authorizers_source_arn, lambda_invocation_uri, Authorizer, MethodAuth,
};
use crate::effects::{Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::Context;

/// The authorizer's name on the API.
const AUTHORIZER_NAME: &str = "mtls-revocation";

fn diff_authorizer(uri: &Known<String>, observed: &Observed<Authorizer>) -> Diff<()> {
    match observed {
        Observed::Present(a)
            if a.kind == "REQUEST"
                && uri.is_known()
                && a.uri.as_ref() == uri.get()
                && a.ttl_seconds.unwrap_or(0) == 0 =>
        {
            Diff::Keep("same function, TTL 0")
        }
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "authorizerUri",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

/// The methods not guarded by the authorizer `id` (all of them while it is unknown).
fn unguarded(methods: &[MethodAuth], id: Option<&str>) -> Vec<MethodAuth> {
    methods
        .iter()
        .filter(|m| {
            m.authorization_type != "CUSTOM" || id.is_none() || m.authorizer_id.as_deref() != id
        })
        .cloned()
        .collect()
}

/// API Gateway may invoke the function `name` from the authorizers of `api_id`
/// (AddPermission, one statement per API).
fn ensure_permission(ctx: &Context, name: &str, api_id: &Known<String>) -> Result<(), Error> {
    let (region, account) = region_and_account(ctx)?;
    let sid = api_id.map(|id| format!("mtls-apigateway-{id}"));
    let source: Known<String> = match (region.get(), account.get(), api_id.get()) {
        (Some(r), Some(a), Some(id)) => Known::value(authorizers_source_arn(r, a, id)),
        _ => Known::unknown(),
    };
    let granted = match sid.get() {
        Some(sid) => ctx.observe(|aws| async move {
            let ids = aws.lambda().permission_ids(name).await?;
            Ok(ids.contains(sid).then_some(()))
        })?,
        None => Observed::NotLookedUp,
    };
    let diff = match granted {
        Observed::Present(()) => Diff::<()>::Keep("granted"),
        _ => Diff::Create,
    };
    reconcile::apply(
        &ctx.effects,
        Kind::LambdaPermission,
        &format!("{name} invoked by apigateway.amazonaws.com"),
        &granted,
        &diff,
        |a| a.arg("source", source.shown()),
        || {
            let (sid, source) = (
                sid.known("the statement id")?,
                source.known("the source ARN")?,
            );
            ctx.write(|aws| {
                aws.lambda()
                    .add_permission(name, sid, "apigateway.amazonaws.com", source)
            })
        },
    )?;
    Ok(())
}

/// The REQUEST authorizer on the API, invoking `function_arn`; returns its operation and id.
fn ensure_request_authorizer(
    ctx: &Context,
    api_id: &Known<String>,
    function_arn: &Known<String>,
) -> Result<(Op, Known<String>), Error> {
    let (region, _) = region_and_account(ctx)?;
    let uri: Known<String> = match (region.get(), function_arn.get()) {
        (Some(r), Some(f)) => Known::value(lambda_invocation_uri(r, f)),
        _ => Known::unknown(),
    };
    let observed = match api_id.get() {
        Some(id) => ctx.observe(|aws| async move {
            let all = aws.apigateway().authorizers(id).await?;
            Ok(all.into_iter().find(|a| a.name == AUTHORIZER_NAME))
        })?,
        None => Observed::NotLookedUp,
    };
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::ApiAuthorizer,
        &format!("{}/{AUTHORIZER_NAME}", api_id.shown()),
        &observed,
        &diff_authorizer(&uri, &observed),
        |a| {
            a.arg("type", "REQUEST")
                .arg("ttl", 0)
                .arg("function", function_arn.shown())
        },
        || {
            let (id, uri) = (
                api_id.known("the REST API id")?,
                uri.known("the function URI")?,
            );
            match observed.present() {
                Some(a) => ctx
                    .write(|aws| aws.apigateway().update_request_authorizer(id, &a.id, uri))
                    .map(|_| None),
                None => ctx
                    .write(|aws| {
                        aws.apigateway()
                            .create_request_authorizer(id, AUTHORIZER_NAME, uri)
                    })
                    .map(Some),
            }
        },
    )?;
    let id = created
        .flatten()
        .or_else(|| observed.present().map(|a| a.id.clone()));
    Ok((op, id.into()))
}

/// Every method of the API guarded by `authorizer_id`, then `stage` deployed again so
/// that the change reaches clients (a REST API's changes take effect with a deployment:
/// API Gateway developer guide, how-to-deploy-api).
fn ensure_methods_guarded(
    ctx: &Context,
    api_id: &Known<String>,
    stage: &str,
    authorizer_id: &Known<String>,
) -> Result<Op, Error> {
    let observed =
        match api_id.get() {
            Some(id) => ctx.observe(|aws| async move {
                aws.apigateway().method_authorizations(id).await.map(Some)
            })?,
            None => Observed::NotLookedUp,
        };
    let todo = observed
        .clone()
        .map(|m| unguarded(&m, authorizer_id.as_deref()));
    let diff = match todo.present() {
        Some(t) if t.is_empty() => Diff::Keep("every method guarded"),
        Some(_) => Diff::Update(vec![Change {
            field: "authorizationType",
            patch: (),
        }]),
        None => Diff::Create,
    };
    let listed = todo.present().map(|t| {
        t.iter()
            .map(|m| format!("{} {}", m.http_method, m.path))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::ApiMethodAuthorization,
        &format!("{} methods", api_id.shown()),
        &observed,
        &diff,
        |a| {
            a.arg("authorizationType", "CUSTOM")
                .arg_maybe("methods", listed.clone())
                .arg("redeploy", stage)
        },
        || {
            let id = api_id.known("the REST API id")?;
            let authorizer = authorizer_id.known("the authorizer id")?;
            for m in todo.present().into_iter().flatten() {
                ctx.write(|aws| {
                    aws.apigateway().set_method_authorizer(
                        id,
                        &m.resource_id,
                        &m.http_method,
                        Some(authorizer),
                    )
                })?;
            }
            let why = "revocation authorizer attached by mtls";
            ctx.write(|aws| aws.apigateway().create_deployment(id, stage, Some(why)))
                .map(|_| ())
        },
    )?;
    Ok(op)
}

pub(super) fn ensure_attached(
    ctx: &Context,
    domain: &str,
    api: &Dynamic,
    stage: &str,
    function: &Dynamic,
) -> Result<Map, Error> {
    super::super::check_domain("authorizer_ensure_attached", domain)?;
    super::super::check_stage("authorizer_ensure_attached", stage)?;
    let api_id = text("authorizer_ensure_attached", "api_id", api)?;
    let function_arn = text("authorizer_ensure_attached", "function_arn", function)?;
    hold_domain(ctx, domain)?;
    ensure_permission(ctx, &resource_name(domain), &api_id)?;
    let (op, authorizer_id) = ensure_request_authorizer(ctx, &api_id, &function_arn)?;
    let guarded = ensure_methods_guarded(ctx, &api_id, stage, &authorizer_id)?;
    let status = if guarded == Op::Keep { op } else { guarded };
    Ok(map(vec![
        ("authorizer_id", unknown_or(authorizer_id.into_option())),
        ("status", status.name().into()),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_methods_left_to_guard() {
        let m = |kind: &str, id: Option<&str>| MethodAuth {
            resource_id: "r".into(),
            path: "/pets".into(),
            http_method: "GET".into(),
            authorization_type: kind.into(),
            authorizer_id: id.map(str::to_string),
        };
        assert!(unguarded(&[m("CUSTOM", Some("a1"))], Some("a1")).is_empty());
        assert_eq!(unguarded(&[m("NONE", None)], Some("a1")).len(), 1);
        assert_eq!(
            unguarded(&[m("CUSTOM", Some("other"))], Some("a1")).len(),
            1
        );
    }
}

//! Steps 9-10: the PetStore REST API mtls makes for a domain (found by its tag) and its
//! default execute-api endpoint, turned off; teardown's removal of the API.

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{map, tags, text, unknown_or, TAG_DOMAIN};
use super::stage::{change_then_redeploy, redeploy, TAG_UNDEPLOYED};
use crate::aws::apigateway::{RestApi, Stage};
use crate::effects::{Action, Kind};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Observed};
use crate::script::Context;

/// Whether mtls created `api` for `domain` (it tags what it creates).
fn made_for(api: &RestApi, domain: &str) -> bool {
    api.tags.get(TAG_DOMAIN).map(String::as_str) == Some(domain)
}

/// The REST API mtls made for `domain`, found by its tag: API names are not unique, and
/// two domains in one account may both use the default name.
fn read_api_for(ctx: &Context, domain: &str) -> Result<Observed<RestApi>, Error> {
    let what = format!("tagged {TAG_DOMAIN}={domain}");
    ctx.observe(|aws| {
        aws.apigateway()
            .find_one_rest_api(&what, |a| made_for(a, domain))
    })
}

/// The REST API mtls made for a domain, and whether it holds the PetStore sample yet:
/// `CreateRestApi` (with the tags) and the `PutRestApi` that fills it are two calls, and a
/// run stopped between them leaves an empty API that a re-run must fill.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FoundApi {
    api: RestApi,
    has_definition: bool,
}

/// The path every PetStore definition has.
const PETSTORE_PATH: &str = "/pets";

/// The REST API: kept when mtls made one for this domain and it serves the sample; filled
/// when it is empty; else created.
fn diff_api(observed: &Observed<FoundApi>) -> Diff<()> {
    match observed {
        Observed::Present(f) if f.has_definition => Diff::Keep("exists, tagged for this domain"),
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "definition",
            patch: (),
        }]),
        Observed::Absent | Observed::NotLookedUp => Diff::Create,
    }
}

/// Why mtls deploys the stages again after disabling the default endpoint.
const ENDPOINT_DISABLED: &str = "default execute-api endpoint disabled by mtls";

pub(super) fn ensure_rest_api(ctx: &Context, name: &str, domain: &str) -> Result<Map, Error> {
    super::super::check_domain("apigw_ensure_api", domain)?;
    hold_domain(ctx, domain)?;
    let observed = read_api_for(ctx, domain)?.then(|api| {
        let paths =
            ctx.observe(|aws| async { aws.apigateway().resource_paths(&api.id).await.map(Some) })?;
        Ok::<_, Error>(paths.map(|paths| FoundApi {
            has_definition: paths.iter().any(|p| p == PETSTORE_PATH),
            api,
        }))
    })?;
    let diff = diff_api(&observed);
    let existing = observed.present().map(|f| f.api.clone());
    let describe = |a: Action| {
        a.arg(
            "definition",
            "PetStore sample: GET /pets, GET /pets/{petId} (MOCK)",
        )
        .arg("endpoint", "REGIONAL")
        .arg("tags", format!("{TAG_DOMAIN}={domain}"))
        .arg_maybe("id", existing.as_ref().map(|a| a.id.clone()))
    };
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::RestApi,
        name,
        &observed,
        &diff,
        describe,
        || {
            let body = crate::petstore::openapi_json(name);
            let id = match &existing {
                Some(api) => api.id.clone(),
                None => {
                    let api_tags = tags(domain, "api");
                    ctx.write(|aws| aws.apigateway().create_rest_api(name, &api_tags))?
                        .id
                }
            };
            let fill = || ctx.write(|aws| aws.apigateway().overwrite_rest_api(&id, &body, false));
            if existing.is_some() {
                let stages = ctx.write(|aws| aws.apigateway().stage_names(&id))?;
                let why = "the PetStore definition, restored by mtls";
                change_then_redeploy(ctx, &id, &stages, why, fill)
            } else {
                fill()
            }
        },
    )?;
    if let Some(a) = &created {
        ctx.effects.resolve(name, "id", &a.id);
    }
    let id = created.or(existing).map(|a| a.id);
    Ok(map(vec![
        ("id", unknown_or(id)),
        ("name", name.into()),
        ("status", op.name().into()),
    ]))
}

/// The default endpoint: off, or turned off. `observed` is whether it is disabled now;
/// `undeployed`, the stages tagged [`TAG_UNDEPLOYED`] (a run stopped before deploying them).
fn diff_endpoint(observed: &Observed<bool>, undeployed: &[String]) -> Diff<()> {
    match observed {
        Observed::Present(true) if undeployed.is_empty() => Diff::Keep("already disabled"),
        Observed::Present(true) => Diff::Update(vec![Change {
            field: "deployment",
            patch: (),
        }]),
        _ => Diff::Update(vec![Change {
            field: "disableExecuteApiEndpoint",
            patch: (),
        }]),
    }
}

pub(super) fn ensure_default_endpoint_disabled(ctx: &Context, api: &Dynamic) -> Result<Map, Error> {
    let api_id = text("apigw_ensure_endpoint_disabled", "api_id", api)?;
    let observed = match api_id.get() {
        Some(id) => ctx
            .observe(|aws| aws.apigateway().rest_api(id))?
            .map(|a| a.disable_execute_api_endpoint),
        None => Observed::NotLookedUp,
    };
    // The setting takes effect only with a deployment: stages that exist are deployed
    // again with it, and a stage an earlier run left undeployed is deployed now.
    let stages: Vec<Stage> = match (api_id.get(), observed.present()) {
        (Some(id), Some(_)) => ctx
            .observe(|aws| async { aws.apigateway().stages(id).await.map(Some) })?
            .into_present()
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let undeployed: Vec<String> = stages
        .iter()
        .filter(|s| s.tags.contains_key(TAG_UNDEPLOYED))
        .map(|s| s.name.clone())
        .collect();
    let diff = diff_endpoint(&observed, &undeployed);
    let disabled = observed.present() == Some(&true);
    let redeployed: Vec<String> = if disabled {
        undeployed
    } else {
        stages.iter().map(|s| s.name.clone()).collect()
    };
    let target = format!("{} default endpoint", api_id.shown());
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::RestApiSetting,
        &target,
        &observed,
        &diff,
        |a| {
            let a = a.arg("disableExecuteApiEndpoint", "true");
            if redeployed.is_empty() {
                a
            } else {
                a.arg("redeploy", redeployed.join(", "))
            }
        },
        || {
            let id = api_id.known("the REST API id")?;
            if disabled {
                return redeploy(ctx, id, &redeployed, ENDPOINT_DISABLED);
            }
            change_then_redeploy(ctx, id, &redeployed, ENDPOINT_DISABLED, || {
                ctx.write(|aws| aws.apigateway().set_execute_api_endpoint_disabled(id, true))
                    .map(|_| ())
            })
        },
    )?;
    Ok(map(vec![("status", op.name().into())]))
}

pub(super) fn delete_rest_api(ctx: &Context, name: &str, domain: &str) -> Result<(), Error> {
    super::super::check_domain("apigw_delete_api", domain)?;
    hold_domain(ctx, domain)?;
    // Only the API mtls made for this domain (by its tag), whatever else is named `name`.
    let observed = read_api_for(ctx, domain)?;
    reconcile::delete(&ctx.effects, Kind::RestApi, name, &observed, |api| {
        ctx.write(|aws| aws.apigateway().delete_rest_api(&api.id))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::stage::diff_stage;
    use super::*;

    #[test]
    fn api_endpoint_and_stage_diffs() {
        let api = RestApi {
            id: "a1".into(),
            name: "PetStore".into(),
            disable_execute_api_endpoint: false,
            endpoint_types: vec!["REGIONAL".into()],
            warnings: vec![],
            tags: Default::default(),
        };
        assert_eq!(
            diff_api(&Observed::Present(FoundApi {
                api: api.clone(),
                has_definition: true
            })),
            Diff::Keep("exists, tagged for this domain")
        );
        // Created, then stopped before its definition was put: filled, not kept empty.
        assert_eq!(
            fields_of(&diff_api(&Observed::Present(FoundApi {
                api,
                has_definition: false
            }))),
            ["definition"]
        );
        assert_eq!(diff_api(&Observed::Absent), Diff::Create);
        assert_eq!(diff_api(&Observed::NotLookedUp), Diff::Create);
        assert_eq!(
            diff_endpoint(&Observed::Present(true), &[]),
            Diff::Keep("already disabled")
        );
        // Disabled, but a run stopped before deploying a stage: the stage is deployed.
        assert_eq!(
            fields_of(&diff_endpoint(&Observed::Present(true), &["prod".into()])),
            ["deployment"]
        );
        for o in [
            Observed::Present(false),
            Observed::Absent,
            Observed::NotLookedUp,
        ] {
            assert_eq!(
                fields_of(&diff_endpoint(&o, &[])),
                ["disableExecuteApiEndpoint"]
            );
            assert_eq!(
                fields_of(&diff_endpoint(&o, &["prod".into()])),
                ["disableExecuteApiEndpoint"]
            );
        }
        let stage = Stage {
            name: "prod".into(),
            deployment_id: Some("d1".into()),
            tags: Default::default(),
        };
        assert_eq!(
            diff_stage(&Observed::Present(stage)),
            Diff::Keep("deployed")
        );
        assert_eq!(diff_stage(&Observed::Absent), Diff::Create);
    }

    fn fields_of(diff: &Diff<()>) -> Vec<&'static str> {
        diff.changes().iter().map(|c| c.field).collect()
    }
}

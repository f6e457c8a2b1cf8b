//! Steps 9-13: the PetStore API, its default endpoint, its stage, the mTLS custom domain
//! and its mapping; teardown's removal of them.

use std::rc::Rc;

use rhai::{Array, Dynamic, Map};

use super::{
    delete_if, display, map, shown, tags, text, unknown_or, RhaiResult, OFFLINE, TAG_DOMAIN,
    TAG_TRUSTSTORE,
};
use crate::aws::apigateway::{DomainName, DomainPatch, MtlsDomainSpec};
use crate::effects::{Action, Op};
use crate::error::Error;
use crate::script::error::fail;
use crate::script::primitives::{primitive, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    let c = ctx.clone();
    primitive!(reg, "apigw_ensure_api", "apigw_ensure_api(name: string, domain: string) -> map",
        "Find the REST API `name` that mtls made for `domain`, or create it (tagged) with the PetStore sample (GET /pets, GET /pets/{petId}, MOCK). Someone else's API of that name is an error. Returns #{ id, name, status }.",
        move |name: &str, domain: &str| -> RhaiResult<Map> { ensure_rest_api(&c, name, domain).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "apigw_ensure_endpoint_disabled", "apigw_ensure_endpoint_disabled(api_id: string) -> map",
        "Turn off the API's default execute-api endpoint, so clients cannot bypass mutual TLS. Returns #{ status }.",
        move |api: Dynamic| -> RhaiResult<Map> { ensure_default_endpoint_disabled(&c, &api).map_err(fail) });
    let c = ctx.clone();
    primitive!(
        reg,
        "apigw_ensure_stage",
        "apigw_ensure_stage(api_id: string, stage: string) -> map",
        "Deploy the API to `stage` unless the stage exists. Returns #{ status, deployment_id }.",
        move |api: Dynamic, stage: &str| -> RhaiResult<Map> {
            ensure_stage(&c, &api, stage).map_err(fail)
        }
    );
    let c = ctx.clone();
    primitive!(reg, "apigw_ensure_domain", "apigw_ensure_domain(opts: map) -> map",
        "Create or update the REGIONAL TLS_1_2 custom domain with mutual TLS. opts: domain, certificate_arn, ownership_arn, truststore_uri, truststore_version. Returns #{ name, regional_domain_name, regional_hosted_zone_id, warnings, status }.",
        move |opts: Map| -> RhaiResult<Map> { ensure_mtls_domain(&c, &opts).map_err(fail) });
    let c = ctx.clone();
    primitive!(
        reg,
        "apigw_ensure_mapping",
        "apigw_ensure_mapping(domain: string, api_id: string, stage: string) -> map",
        "Map the domain's root to the API's stage. Returns #{ status }.",
        move |domain: &str, api: Dynamic, stage: &str| -> RhaiResult<Map> {
            ensure_mapping(&c, domain, &api, stage).map_err(fail)
        }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "apigw_delete_mapping",
        "apigw_delete_mapping(domain: string)",
        "Delete the domain's root mapping, if there is one.",
        move |domain: &str| -> RhaiResult<()> { delete_mapping(&c, domain).map_err(fail) }
    );
    let c = ctx.clone();
    primitive!(reg, "apigw_delete_domain", "apigw_delete_domain(domain: string)",
        "Delete the API Gateway custom domain if mtls made it (by its tag); someone else's is kept.",
        move |domain: &str| -> RhaiResult<()> { delete_domain(&c, domain).map_err(fail) });
    let c = ctx.clone();
    primitive!(
        reg,
        "apigw_delete_api",
        "apigw_delete_api(name: string, domain: string)",
        "Delete the REST API called `name` if mtls made it for `domain` (by its tag); someone else's is kept.",
        move |name: &str, domain: &str| -> RhaiResult<()> { delete_rest_api(&c, name, domain).map_err(fail) }
    );
}

/// Whether mtls created `api` for `domain` (it tags what it creates).
fn made_for(api: &crate::aws::apigateway::RestApi, domain: &str) -> bool {
    api.tags.get(TAG_DOMAIN).map(String::as_str) == Some(domain)
}

fn ensure_rest_api(ctx: &Context, name: &str, domain: &str) -> Result<Map, Error> {
    let found = ctx.read(|aws| aws.apigateway().find_rest_api(name))?;
    let (op, api) = match found {
        Some(Some(api)) if made_for(&api, domain) => {
            ctx.effects
                .keep(Action::new(Op::Keep, "rest api", name, "exists").arg("id", &api.id));
            (Op::Keep, Some(api))
        }
        Some(Some(api)) => {
            // Someone else's API of that name (the console's sample is also "PetStore"):
            // changing or later deleting it would be a surprise.
            return Err(Error::invalid_argument(
                "apigw_ensure_api",
                "name",
                format!(
                    "a REST API named {name} ({}) exists that mtls did not create for {domain}",
                    api.id
                ),
                "choose another name with --var api_name=NAME, or delete or rename that API",
            ));
        }
        found => {
            let reason = if found.is_none() {
                OFFLINE
            } else {
                "does not exist"
            };
            let action = Action::new(Op::Create, "rest api", name, reason)
                .arg(
                    "definition",
                    "PetStore sample: GET /pets, GET /pets/{petId} (MOCK)",
                )
                .arg("endpoint", "REGIONAL")
                .arg("tags", format!("{TAG_DOMAIN}={domain}"))
                .arg_maybe("id", None::<String>);
            let api = ctx.effects.apply(action, || {
                let api_tags = tags(domain, "api");
                let mut doc = crate::aws::apigateway::petstore_openapi();
                doc["info"]["title"] = serde_json::Value::String(name.to_string());
                let body = doc.to_string();
                let created = ctx.write(|aws| aws.apigateway().create_rest_api(name, &api_tags))?;
                ctx.write(|aws| {
                    aws.apigateway()
                        .overwrite_rest_api(&created.id, &body, false)
                })
            })?;
            if let Some(a) = &api {
                ctx.effects.resolve(name, "id", &a.id);
            }
            (Op::Create, api)
        }
    };
    Ok(map(vec![
        ("id", unknown_or(api.as_ref().map(|a| a.id.clone()))),
        ("name", name.into()),
        ("status", op.name().into()),
    ]))
}

fn ensure_default_endpoint_disabled(ctx: &Context, api: &Dynamic) -> Result<Map, Error> {
    let api_id = text("apigw_ensure_endpoint_disabled", "api_id", api)?;
    let current = match &api_id {
        Some(id) => ctx.read(|aws| aws.apigateway().rest_api(id))?.flatten(),
        None => None,
    };
    let target = format!("{} default endpoint", shown(&api_id));
    let op = match current {
        Some(a) if a.disable_execute_api_endpoint => {
            ctx.effects.keep(Action::new(
                Op::Keep,
                "rest api setting",
                &target,
                "already disabled",
            ));
            Op::Keep
        }
        current => {
            let reason = if current.is_some() {
                "enabled: clients could bypass mTLS"
            } else if api_id.is_some() && !ctx.effects.is_plan() {
                "new api"
            } else {
                OFFLINE
            };
            let action = Action::new(Op::Update, "rest api setting", &target, reason)
                .arg("disableExecuteApiEndpoint", "true");
            ctx.effects.apply(action, || {
                ctx.write(|aws| {
                    aws.apigateway().set_execute_api_endpoint_disabled(
                        api_id.as_deref().unwrap_or_default(),
                        true,
                    )
                })
            })?;
            Op::Update
        }
    };
    Ok(map(vec![("status", op.name().into())]))
}

fn ensure_stage(ctx: &Context, api: &Dynamic, stage: &str) -> Result<Map, Error> {
    let api_id = text("apigw_ensure_stage", "api_id", api)?;
    let found = match &api_id {
        Some(id) => ctx.read(|aws| aws.apigateway().stage(id, stage))?,
        None => None,
    };
    let target = format!("{}/{stage}", shown(&api_id));
    let (op, deployment) = match found {
        Some(Some(s)) => {
            ctx.effects
                .keep(Action::new(Op::Keep, "api stage", &target, "deployed"));
            (Op::Keep, s.deployment_id)
        }
        found => {
            let reason = if found.is_none() {
                OFFLINE
            } else {
                "not deployed"
            };
            let action = Action::new(Op::Create, "api stage", &target, reason).arg("stage", stage);
            let id = ctx.effects.apply(action, || {
                ctx.write(|aws| {
                    aws.apigateway().create_deployment(
                        api_id.as_deref().unwrap_or_default(),
                        stage,
                        Some("deployed by mtls"),
                    )
                })
            })?;
            (Op::Create, id)
        }
    };
    Ok(map(vec![
        ("deployment_id", unknown_or(deployment)),
        ("status", op.name().into()),
    ]))
}

fn ensure_mtls_domain(ctx: &Context, opts: &Map) -> Result<Map, Error> {
    let f = "apigw_ensure_domain";
    let get = |k: &str| -> Result<Option<String>, Error> {
        let v = opts.get(k).cloned().ok_or_else(|| {
            Error::invalid_argument(f, k, "missing", format!("add `{k}` to the options map"))
        })?;
        text(f, k, &v)
    };
    let domain = get("domain")?
        .ok_or_else(|| Error::invalid_argument(f, "domain", "unknown", "pass the domain name"))?;
    let cert = get("certificate_arn")?;
    let owner = get("ownership_arn")?;
    let uri = get("truststore_uri")?;
    let uri_shown = opts.get("truststore_uri").map(display).unwrap_or_default();
    let version = get("truststore_version")?;
    let current = ctx.read(|aws| aws.apigateway().domain_name(&domain))?;
    let truststore_tag = format!("{}@{}", shown(&uri), shown(&version));
    let mut patches = Vec::new();
    let mut differs = Vec::new();
    if let Some(Some(d)) = &current {
        if !domain_made_for(d, &domain) {
            return Err(Error::invalid_argument(
                "apigw_ensure_domain",
                "domain",
                format!("the API Gateway custom domain {domain} exists, and mtls did not create it"),
                "mtls changes only the domains it made: delete that one first (it then makes it anew), or use another domain",
            ));
        }
        // Compare what the service reports; a field it omits (an emulator drops the mTLS
        // ones) is compared through the tag mtls wrote when it set that field.
        let reported = d
            .truststore_uri
            .as_ref()
            .map(|u| format!("{u}@{}", d.truststore_version.clone().unwrap_or_default()));
        let applied = reported.or_else(|| d.tags.get(TAG_TRUSTSTORE).cloned());
        if applied.as_deref() != Some(truststore_tag.as_str()) {
            if d.truststore_uri.as_deref() != uri.as_deref() {
                patches.push(DomainPatch::TruststoreUri(uri.clone().unwrap_or_default()));
                differs.push("truststoreUri");
            }
            patches.push(DomainPatch::TruststoreVersion(
                version.clone().unwrap_or_default(),
            ));
            differs.push("truststoreVersion");
        }
        if d.regional_certificate_arn.is_some() && d.regional_certificate_arn != cert {
            patches.push(DomainPatch::RegionalCertificateArn(
                cert.clone().unwrap_or_default(),
            ));
            differs.push("regionalCertificateArn");
        }
        if d.ownership_verification_certificate_arn.is_some()
            && d.ownership_verification_certificate_arn != owner
        {
            patches.push(DomainPatch::OwnershipVerificationCertificateArn(
                owner.clone().unwrap_or_default(),
            ));
            differs.push("ownershipVerificationCertificateArn");
        }
    }
    let describe = |a: Action| {
        a.arg("endpoint", "REGIONAL")
            .arg("security_policy", "TLS_1_2")
            .arg_maybe("certificate_arn", cert.clone())
            .arg_maybe("ownership_arn", owner.clone())
            .arg("truststore_uri", &uri_shown)
            .arg_maybe("truststore_version", version.clone())
    };
    let (op, domain_info): (Op, Option<DomainName>) = match current {
        Some(Some(d)) if patches.is_empty() => {
            ctx.effects.keep(Action::new(
                Op::Keep,
                "api custom domain",
                &domain,
                "exists, as asked",
            ));
            (Op::Keep, Some(d))
        }
        Some(Some(_)) => {
            let action = describe(Action::new(
                Op::Update,
                "api custom domain",
                &domain,
                format!("{} differ", differs.join(", ")),
            ));
            let d = ctx.effects.apply(action, || {
                ctx.write(|aws| aws.apigateway().update_domain_name(&domain, &patches))
            })?;
            (Op::Update, d)
        }
        current => {
            let reason = if current.is_none() {
                OFFLINE
            } else {
                "does not exist"
            };
            let action = describe(Action::new(
                Op::Create,
                "api custom domain",
                &domain,
                reason,
            ));
            let d = ctx.effects.apply(action, || {
                let mut t = tags(&domain, "domain");
                t.insert(TAG_TRUSTSTORE.to_string(), truststore_tag.clone());
                let spec = MtlsDomainSpec {
                    domain_name: &domain,
                    regional_certificate_arn: cert.as_deref().unwrap_or_default(),
                    truststore_uri: uri.as_deref().unwrap_or_default(),
                    truststore_version: version.as_deref(),
                    ownership_verification_certificate_arn: owner.as_deref(),
                    tags: &t,
                };
                ctx.write(|aws| aws.apigateway().create_domain_name(&spec))
            })?;
            (Op::Create, d)
        }
    };
    let warnings: Array = domain_info
        .as_ref()
        .map(|d| {
            d.truststore_warnings
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect()
        })
        .unwrap_or_default();
    for w in &warnings {
        tracing::warn!("API Gateway truststore warning for {domain}: {w}");
        eprintln!("warning: API Gateway reports a truststore problem for {domain}: {w}");
    }
    Ok(map(vec![
        ("name", domain.clone().into()),
        (
            "regional_domain_name",
            unknown_or(
                domain_info
                    .as_ref()
                    .and_then(|d| d.regional_domain_name.clone()),
            ),
        ),
        (
            "regional_hosted_zone_id",
            unknown_or(
                domain_info
                    .as_ref()
                    .and_then(|d| d.regional_hosted_zone_id.clone()),
            ),
        ),
        ("warnings", warnings.into()),
        ("status", op.name().into()),
    ]))
}

fn ensure_mapping(ctx: &Context, domain: &str, api: &Dynamic, stage: &str) -> Result<Map, Error> {
    let api_id = text("apigw_ensure_mapping", "api_id", api)?;
    let found = ctx.read(|aws| aws.apigateway().base_path_mapping(domain, None))?;
    let target = format!("{domain}/");
    let op = match &found {
        Some(Some(m))
            if Some(&m.rest_api_id) == api_id.as_ref() && m.stage.as_deref() == Some(stage) =>
        {
            ctx.effects.keep(Action::new(
                Op::Keep,
                "api mapping",
                &target,
                "maps the same api and stage",
            ));
            Op::Keep
        }
        Some(Some(m)) => {
            return Err(Error::invalid_argument("apigw_ensure_mapping", "domain", format!("{domain} already maps its root to api {} stage {}", m.rest_api_id, m.stage.clone().unwrap_or_default()), "remove that mapping (mtls run teardown.rhai, or the console) or use another domain"));
        }
        found => {
            let reason = if found.is_none() {
                OFFLINE
            } else {
                "does not exist"
            };
            let action = Action::new(Op::Create, "api mapping", &target, reason)
                .arg_maybe("api_id", api_id.clone())
                .arg("stage", stage);
            ctx.effects.apply(action, || {
                ctx.write(|aws| {
                    aws.apigateway().create_base_path_mapping(
                        domain,
                        api_id.as_deref().unwrap_or_default(),
                        stage,
                        None,
                    )
                })
            })?;
            Op::Create
        }
    };
    Ok(map(vec![("status", op.name().into())]))
}

fn delete_mapping(ctx: &Context, domain: &str) -> Result<(), Error> {
    // The mapping of a domain mtls did not make is not its to remove.
    if let Some(Some(d)) = ctx.read(|aws| aws.apigateway().domain_name(domain))? {
        if !domain_made_for(&d, domain) {
            return Ok(());
        }
    }
    let found = ctx.read(|aws| aws.apigateway().base_path_mapping(domain, None))?;
    delete_if(
        ctx,
        found.map(|m| m.is_some()),
        "api mapping",
        &format!("{domain}/"),
        || ctx.write(|aws| aws.apigateway().delete_base_path_mapping(domain, None)),
    )
}

fn delete_domain(ctx: &Context, domain: &str) -> Result<(), Error> {
    let found = ctx.read(|aws| aws.apigateway().domain_name(domain))?;
    if let Some(Some(d)) = &found {
        if !domain_made_for(d, domain) {
            ctx.effects.keep(Action::new(
                Op::Keep,
                "api custom domain",
                domain,
                "not made by mtls",
            ));
            return Ok(());
        }
    }
    delete_if(
        ctx,
        found.map(|d| d.is_some()),
        "api custom domain",
        domain,
        || ctx.write(|aws| aws.apigateway().delete_domain_name(domain)),
    )
}

/// Whether mtls created the custom domain `d` (its tag names the domain).
fn domain_made_for(d: &DomainName, domain: &str) -> bool {
    d.tags.get(TAG_DOMAIN).map(String::as_str) == Some(domain)
}

fn delete_rest_api(ctx: &Context, name: &str, domain: &str) -> Result<(), Error> {
    let found = ctx.read(|aws| aws.apigateway().find_rest_api(name))?;
    match found.clone().flatten() {
        Some(api) if !made_for(&api, domain) => {
            ctx.effects.keep(
                Action::new(
                    Op::Keep,
                    "rest api",
                    name,
                    "not made by mtls for this domain",
                )
                .arg("id", &api.id),
            );
            Ok(())
        }
        api => {
            let id = api.map(|a| a.id);
            delete_if(ctx, found.map(|a| a.is_some()), "rest api", name, || {
                ctx.write(|aws| {
                    aws.apigateway()
                        .delete_rest_api(id.as_deref().unwrap_or_default())
                })
            })
        }
    }
}

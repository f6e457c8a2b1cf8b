//! Steps 9-13: the PetStore API, its default endpoint, its stage, the mTLS custom domain
//! and its mapping; teardown's removal of them.

use std::rc::Rc;

use rhai::{Array, Dynamic, Map};

use super::lock::hold_domain;
use super::{display, map, tags, text, unknown_or, TAG_DOMAIN};
use crate::aws::apigateway::{
    BasePathMapping, DomainName, DomainPatch, MtlsDomainSpec, RestApi, Stage,
};
use crate::aws::Wait;
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::primitives::Opts;
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "apigw_ensure_api", "apigw_ensure_api(name: string, domain: string) -> map", "Find the REST API `name` that mtls made for `domain` (by its tag), or create it (tagged) with the PetStore sample (GET /pets, GET /pets/{petId}, MOCK); one found without the sample is filled. Someone else's API of that name is left alone. Returns #{ id, name, status }.", |c, name: &str, domain: &str| -> Map { ensure_rest_api(c, name, domain) });
    bound!(reg, ctx, "apigw_ensure_endpoint_disabled", "apigw_ensure_endpoint_disabled(api_id: string) -> map", "Turn off the API's default execute-api endpoint, so clients cannot bypass mutual TLS; stages that exist are deployed again, since the setting takes effect only with a deployment (as is a stage a stopped run left undeployed). Returns #{ status }.", |c, api: Dynamic| -> Map { ensure_default_endpoint_disabled(c, &api) });
    bound!(
        reg,
        ctx,
        "apigw_ensure_stage",
        "apigw_ensure_stage(api_id: string, stage: string) -> map",
        "Deploy the API to `stage` unless the stage exists. Returns #{ status, deployment_id }.",
        |c, api: Dynamic, stage: &str| -> Map { ensure_stage(c, &api, stage) }
    );
    bound!(reg, ctx, "apigw_ensure_domain", "apigw_ensure_domain(opts: map) -> map", "Create or update the REGIONAL TLS_1_2 custom domain with mutual TLS, then wait until API Gateway reports it AVAILABLE (it refuses changes while UPDATING). opts: domain, certificate_arn, ownership_arn, truststore_uri, truststore_version. Returns #{ name, regional_domain_name, regional_hosted_zone_id, warnings, status }.", |c, opts: Map| -> Map { ensure_mtls_domain(c, &opts) });
    bound!(reg, ctx, "apigw_ensure_domain_truststore", "apigw_ensure_domain_truststore(domain: string, truststore: map) -> map", "Point the existing custom domain mtls made at the truststore #{ uri, version } (as upload_truststore returns it), changing nothing else, then wait until it is AVAILABLE; kept when it already uses that version. Returns #{ name, version_before, version, domain_status, warnings, status }.", |c, domain: &str, truststore: Map| -> Map { ensure_domain_truststore(c, domain, &truststore) });
    bound!(reg, ctx, "apigw_ensure_domain_certificate", "apigw_ensure_domain_certificate(domain: string, certificate_arn: string) -> map", "Make the existing custom domain mtls made present the ACM certificate `certificate_arn` (its regionalCertificateArn), changing nothing else, then wait until it is AVAILABLE (any other status is an error that says why); kept when it already presents it. Returns #{ name, arn_before, arn, domain_status, status }.", |c, domain: &str, arn: Dynamic| -> Map { ensure_domain_certificate(c, domain, &arn) });
    bound!(
        reg,
        ctx,
        "apigw_ensure_mapping",
        "apigw_ensure_mapping(domain: string, api_id: string, stage: string) -> map",
        "Map the domain's root to the API's stage. Returns #{ status }.",
        |c, domain: &str, api: Dynamic, stage: &str| -> Map {
            ensure_mapping(c, domain, &api, stage)
        }
    );
    bound!(
        reg,
        ctx,
        "apigw_delete_mapping",
        "apigw_delete_mapping(domain: string)",
        "Delete the domain's root mapping, if there is one.",
        |c, domain: &str| -> () { delete_mapping(c, domain) }
    );
    bound!(reg, ctx, "apigw_delete_domain", "apigw_delete_domain(domain: string)", "Delete the API Gateway custom domain if mtls made it (by its tag); someone else's is kept.", |c, domain: &str| -> () { delete_domain(c, domain) });
    bound!(reg, ctx, "apigw_delete_api", "apigw_delete_api(name: string, domain: string)", "Delete the REST API called `name` if mtls made it for `domain` (by its tag); someone else's is kept.", |c, name: &str, domain: &str| -> () { delete_rest_api(c, name, domain) });
}

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

/// A stage tag that says a change of its API has not reached it yet: set before the
/// change, removed once the stage is deployed again. A change to a REST API (its
/// definition, its default endpoint) reaches clients only with a deployment, and AWS shows
/// no way to tell whether a stage's deployment predates a setting; a run stopped between
/// the change and the deployment leaves the tag, and the next run deploys the stage.
const TAG_UNDEPLOYED: &str = "mtls:undeployed-change";

/// Makes `change` to the API `api_id`, then deploys each of `stages` again so that it
/// reaches them; each stage is tagged [`TAG_UNDEPLOYED`] (with `why`) before the change.
fn change_then_redeploy<T>(
    ctx: &Context,
    api_id: &str,
    stages: &[String],
    why: &str,
    change: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    for stage in stages {
        ctx.write(|aws| {
            aws.apigateway()
                .tag_stage(api_id, stage, TAG_UNDEPLOYED, why)
        })?;
    }
    let out = change()?;
    redeploy(ctx, api_id, stages, why)?;
    Ok(out)
}

/// Deploys each of `stages` of `api_id` again, then removes its [`TAG_UNDEPLOYED`].
fn redeploy(ctx: &Context, api_id: &str, stages: &[String], why: &str) -> Result<(), Error> {
    for stage in stages {
        ctx.write(|aws| aws.apigateway().create_deployment(api_id, stage, Some(why)))?;
        ctx.write(|aws| aws.apigateway().untag_stage(api_id, stage, TAG_UNDEPLOYED))?;
    }
    Ok(())
}

/// Why mtls deploys the stages again after disabling the default endpoint.
const ENDPOINT_DISABLED: &str = "default execute-api endpoint disabled by mtls";

fn ensure_rest_api(ctx: &Context, name: &str, domain: &str) -> Result<Map, Error> {
    super::check_domain("apigw_ensure_api", domain)?;
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

fn ensure_default_endpoint_disabled(ctx: &Context, api: &Dynamic) -> Result<Map, Error> {
    let api_id = Known::from(text("apigw_ensure_endpoint_disabled", "api_id", api)?);
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

/// The stage: kept when it is deployed, else deployed.
fn diff_stage(observed: &Observed<Stage>) -> Diff<()> {
    match observed {
        Observed::Present(_) => Diff::Keep("deployed"),
        _ => Diff::Create,
    }
}

fn ensure_stage(ctx: &Context, api: &Dynamic, stage: &str) -> Result<Map, Error> {
    super::check_stage("apigw_ensure_stage", stage)?;
    let api_id = Known::from(text("apigw_ensure_stage", "api_id", api)?);
    let observed = match api_id.get() {
        Some(id) => ctx.observe(|aws| aws.apigateway().stage(id, stage))?,
        None => Observed::NotLookedUp,
    };
    let target = format!("{}/{stage}", api_id.shown());
    let (op, deployed) = reconcile::apply(
        &ctx.effects,
        Kind::ApiStage,
        &target,
        &observed,
        &diff_stage(&observed),
        |a| a.arg("stage", stage),
        || {
            let id = api_id.known("the REST API id")?;
            ctx.write(|aws| {
                aws.apigateway()
                    .create_deployment(id, stage, Some("deployed by mtls"))
            })
        },
    )?;
    let deployment = deployed.or_else(|| observed.present().and_then(|s| s.deployment_id.clone()));
    Ok(map(vec![
        ("deployment_id", unknown_or(deployment)),
        ("status", op.name().into()),
    ]))
}

/// What the custom domain must be: REGIONAL, TLS 1.2, these certificates and this
/// truststore object version (`None`: not known until an earlier step runs).
#[derive(Debug, Clone, PartialEq, Eq)]
struct WantedDomain {
    certificate_arn: Known<String>,
    ownership_arn: Known<String>,
    truststore_uri: Known<String>,
    truststore_version: Known<String>,
}

/// A field of the domain that an update sets, and its wanted value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DomainField {
    TruststoreUri(Known<String>),
    TruststoreVersion(Known<String>),
    RegionalCertificateArn(Known<String>),
    OwnershipArn(Known<String>),
    /// A status that needs an action of the domain's owner: no patch of its own, the other
    /// changes repair it (or the run explains what is missing).
    Status(String),
}

/// The field a plan shows for a domain whose status needs its owner: the statuses API
/// Gateway names (API Gateway API reference, DomainName.domainNameStatus: AVAILABLE,
/// UPDATING, PENDING, PENDING_CERTIFICATE_REIMPORT, PENDING_OWNERSHIP_VERIFICATION,
/// FAILED) less those that pass by themselves (AVAILABLE, and UPDATING or PENDING, which
/// every change waits out).
fn status_field(status: Option<&str>) -> Option<&'static str> {
    match status? {
        "PENDING_CERTIFICATE_REIMPORT" => Some("domainNameStatus PENDING_CERTIFICATE_REIMPORT"),
        "PENDING_OWNERSHIP_VERIFICATION" => Some("domainNameStatus PENDING_OWNERSHIP_VERIFICATION"),
        "FAILED" => Some("domainNameStatus FAILED"),
        _ => None,
    }
}

/// The custom domain: mtls changes only a domain it made (tagged for it); mutual TLS is
/// compared as AWS reports it, so a domain whose mTLS was switched off outside mtls is
/// an update, never "as asked".
fn diff_domain(
    domain: &str,
    wanted: &WantedDomain,
    observed: &Observed<DomainName>,
) -> Result<Diff<DomainField>, Error> {
    let d = match observed {
        Observed::Present(d) => d,
        _ => return Ok(Diff::Create),
    };
    if d.tags.get(TAG_DOMAIN).map(String::as_str) != Some(domain) {
        return Err(Error::invalid_argument(
            "apigw_ensure_domain",
            "domain",
            format!("the API Gateway custom domain {domain} exists, and mtls did not create it"),
            "mtls changes only the domains it made: delete that one first (it then makes it anew), or use another domain",
        ));
    }
    let mut changes = Vec::new();
    if let (Some(field), Some(status)) = (status_field(d.status.as_deref()), &d.status) {
        changes.push(Change {
            field,
            patch: DomainField::Status(status.clone()),
        });
    }
    let mut differs = |field, now: &Option<String>, want: &Known<String>, patch: DomainField| {
        // An unknown wanted value (a plan) may differ: it is shown as an update.
        if !want.is_known() || now.as_ref() != want.get() {
            changes.push(Change { field, patch });
        }
    };
    differs(
        "truststoreUri",
        &d.truststore_uri,
        &wanted.truststore_uri,
        DomainField::TruststoreUri(wanted.truststore_uri.clone()),
    );
    differs(
        "truststoreVersion",
        &d.truststore_version,
        &wanted.truststore_version,
        DomainField::TruststoreVersion(wanted.truststore_version.clone()),
    );
    differs(
        "regionalCertificateArn",
        &d.regional_certificate_arn,
        &wanted.certificate_arn,
        DomainField::RegionalCertificateArn(wanted.certificate_arn.clone()),
    );
    differs(
        "ownershipVerificationCertificateArn",
        &d.ownership_verification_certificate_arn,
        &wanted.ownership_arn,
        DomainField::OwnershipArn(wanted.ownership_arn.clone()),
    );
    Ok(Diff::update_or_keep(changes, "exists, as asked"))
}

/// The AWS patch for a field, once its value is known; `None` for a status.
fn domain_patch(field: &DomainField) -> Result<Option<DomainPatch>, Error> {
    Ok(Some(match field {
        DomainField::Status(_) => return Ok(None),
        DomainField::TruststoreUri(v) => {
            DomainPatch::TruststoreUri(v.known("the truststore URI")?.clone())
        }
        DomainField::TruststoreVersion(v) => {
            DomainPatch::TruststoreVersion(v.known("the truststore version")?.clone())
        }
        DomainField::RegionalCertificateArn(v) => {
            DomainPatch::RegionalCertificateArn(v.known("the server certificate ARN")?.clone())
        }
        DomainField::OwnershipArn(v) => DomainPatch::OwnershipVerificationCertificateArn(
            v.known("the ownership certificate ARN")?.clone(),
        ),
    }))
}

/// The patches of an update, in the UpdateDomainName calls that send them: a new
/// ownership verification certificate alone and first, since a domain whose ownership
/// certificate expired (PENDING_OWNERSHIP_VERIFICATION) refuses every other update until it
/// is replaced (API Gateway developer guide, rest-api-mutual-tls); the rest together.
fn patch_batches(changes: &[Change<DomainField>]) -> Result<Vec<Vec<DomainPatch>>, Error> {
    let mut ownership = Vec::new();
    let mut rest = Vec::new();
    for c in changes {
        match domain_patch(&c.patch)? {
            Some(p @ DomainPatch::OwnershipVerificationCertificateArn(_)) => ownership.push(p),
            Some(p) => rest.push(p),
            None => {}
        }
    }
    Ok([ownership, rest]
        .into_iter()
        .filter(|b| !b.is_empty())
        .collect())
}

const DOMAIN_OPTIONS: [&str; 5] = [
    "domain",
    "certificate_arn",
    "ownership_arn",
    "truststore_uri",
    "truststore_version",
];

fn ensure_mtls_domain(ctx: &Context, opts: &Map) -> Result<Map, Error> {
    let f = "apigw_ensure_domain";
    let o = Opts::new(f, opts);
    o.only(&DOMAIN_OPTIONS)?;
    let get = |k: &str| -> Result<Known<String>, Error> {
        let v = opts.get(k).cloned().ok_or_else(|| {
            Error::invalid_argument(f, k, "missing", format!("add `{k}` to the options map"))
        })?;
        text(f, k, &v).map(Known::from)
    };
    let domain = get("domain")?
        .into_option()
        .ok_or_else(|| Error::invalid_argument(f, "domain", "unknown", "pass the domain name"))?;
    super::check_domain(f, &domain)?;
    let wanted = WantedDomain {
        certificate_arn: get("certificate_arn")?,
        ownership_arn: get("ownership_arn")?,
        truststore_uri: get("truststore_uri")?,
        truststore_version: get("truststore_version")?,
    };
    let uri_shown = opts.get("truststore_uri").map(display).unwrap_or_default();
    hold_domain(ctx, &domain)?;
    let observed = read_domain(ctx, &domain)?;
    let diff = diff_domain(&domain, &wanted, &observed)?;
    let describe = |a: Action| {
        a.arg("endpoint", "REGIONAL")
            .arg("security_policy", "TLS_1_2")
            .arg_maybe("certificate_arn", wanted.certificate_arn.get())
            .arg_maybe("ownership_arn", wanted.ownership_arn.get())
            .arg("truststore_uri", &uri_shown)
            .arg_maybe("truststore_version", wanted.truststore_version.get())
    };
    let (op, changed) = converge_domain(ctx, &domain, &wanted, &observed, &diff, describe)?;
    let info = changed.or_else(|| observed.present().cloned());
    let warnings = domain_warnings(ctx, &domain, info.as_ref());
    Ok(map(vec![
        ("name", domain.clone().into()),
        (
            "regional_domain_name",
            unknown_or(info.as_ref().and_then(|d| d.regional_domain_name.clone())),
        ),
        (
            "regional_hosted_zone_id",
            unknown_or(
                info.as_ref()
                    .and_then(|d| d.regional_hosted_zone_id.clone()),
            ),
        ),
        ("warnings", warnings.into()),
        ("status", op.name().into()),
    ]))
}

/// Applies `diff` to the custom domain (create or PATCH), waiting for it to be AVAILABLE
/// before and after a change. Returns the op and the domain as the change left it (`None`
/// when kept, and in a plan).
fn converge_domain(
    ctx: &Context,
    domain: &str,
    wanted: &WantedDomain,
    observed: &Observed<DomainName>,
    diff: &Diff<DomainField>,
    describe: impl FnOnce(Action) -> Action,
) -> Result<(Op, Option<DomainName>), Error> {
    // API Gateway refuses to change a domain that is still UPDATING, and reports it so for
    // a while after each create and update: every change waits until it is AVAILABLE.
    let wait = Wait::domain_update();
    let busy = observed
        .present()
        .is_some_and(|d| matches!(d.status.as_deref(), Some("UPDATING" | "PENDING")));
    let settle = |created: DomainName| -> Result<DomainName, Error> {
        let mut settled = ctx.write(|aws| aws.apigateway().wait_domain_available(domain, &wait))?;
        // API Gateway reports truststore problems only in the answer to a change.
        if settled.truststore_warnings.is_empty() {
            settled.truststore_warnings = created.truststore_warnings;
        }
        Ok(settled)
    };
    let (op, changed) = reconcile::apply(
        &ctx.effects,
        Kind::ApiCustomDomain,
        domain,
        observed,
        diff,
        describe,
        || match diff {
            Diff::Update(changes) => {
                let batches = patch_batches(changes)?;
                if batches.is_empty() {
                    // Only a status, and nothing this step sends repairs it.
                    return Err(status_error(ctx, domain, observed.present()));
                }
                if busy {
                    ctx.write(|aws| aws.apigateway().wait_domain_available(domain, &wait))?;
                }
                let mut settled = None;
                for patches in &batches {
                    let updated =
                        ctx.write(|aws| aws.apigateway().update_domain_name(domain, patches))?;
                    settled = Some(settle(updated)?);
                }
                settled
                    .ok_or_else(|| Error::internal("update the custom domain", "no change to send"))
            }
            _ => {
                let spec = MtlsDomainSpec {
                    domain_name: domain,
                    regional_certificate_arn: wanted
                        .certificate_arn
                        .known("the server certificate ARN")?,
                    truststore_uri: wanted.truststore_uri.known("the truststore URI")?,
                    truststore_version: Some(
                        wanted.truststore_version.known("the truststore version")?,
                    ),
                    ownership_verification_certificate_arn: Some(
                        wanted
                            .ownership_arn
                            .known("the ownership certificate ARN")?,
                    ),
                    tags: &tags(domain, "domain"),
                };
                let created = ctx.write(|aws| aws.apigateway().create_domain_name(&spec))?;
                settle(created)
            }
        },
    )?;
    if op == Op::Keep && busy {
        // Kept, but a change is still under way (a run stopped right after making it): the
        // steps after this one may change the domain, so they wait for it here.
        ctx.effects.prepare(|| {
            ctx.write(|aws| aws.apigateway().wait_domain_available(domain, &wait))
                .map(|_| ())
        })?;
    }
    Ok((op, changed))
}

/// Reads the custom domain; a status that needs its owner is explained as a notice, in
/// plans and runs alike.
fn read_domain(ctx: &Context, domain: &str) -> Result<Observed<DomainName>, Error> {
    let observed = ctx.observe(|aws| aws.apigateway().domain_name(domain))?;
    if let Some(d) = observed.present() {
        if status_field(d.status.as_deref()).is_some() {
            ctx.notice(&format!("warning: {}", explain_status(ctx, domain, d)));
        }
    }
    Ok(observed)
}

/// Why the domain is in a status that needs its owner, and what repairs it.
fn explain_status(ctx: &Context, domain: &str, d: &DomainName) -> String {
    let status = d.status.as_deref().unwrap_or_default();
    let message = d
        .status_message
        .as_deref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default();
    let why = match status {
        // API Gateway developer guide, rest-api-mutual-tls: an expired ownership
        // certificate locks every other update until it is replaced.
        "PENDING_OWNERSHIP_VERIFICATION" => format!(
            "its ownership verification certificate ({}) expired or is missing, and API Gateway refuses every other update until it is replaced: run setup.rhai, which requests a new one and gives it to the domain before any other change",
            d.ownership_verification_certificate_arn.as_deref().unwrap_or("none")
        ),
        "PENDING_CERTIFICATE_REIMPORT" => format!(
            "{}: run setup.rhai, which imports server.pem (it names {domain}) as a new certificate and moves the domain to it",
            uncovered_names(ctx, domain, d)
        ),
        _ => "API Gateway could not set it up: read the message, mend the cause, then delete the domain (mtls run teardown.rhai) and run setup.rhai again".to_string(),
    };
    format!("the custom domain {domain} is {status}{message}: {why}")
}

/// PENDING_CERTIFICATE_REIMPORT: the certificate re-imported under the domain's ARN names
/// what its ownership verification certificate does not cover (API Gateway developer guide,
/// rest-api-mutual-tls). Says which names, from the certificate ACM holds.
fn uncovered_names(ctx: &Context, domain: &str, d: &DomainName) -> String {
    let Some(arn) = d.regional_certificate_arn.as_deref() else {
        return "it presents no certificate".to_string();
    };
    let names = ctx
        .observe(|aws| async { aws.acm().certificate_pem(arn).await.map(Some) })
        .ok()
        .and_then(Observed::into_present)
        .and_then(|pem| crate::pki::ParsedCert::from_pem(arn, &pem.certificate).ok())
        .and_then(|c| c.info().ok())
        .map(|info| {
            info.san
                .iter()
                .filter_map(|n| n.strip_prefix("DNS:").map(str::to_string))
                .collect::<Vec<_>>()
        });
    match names {
        None => format!("the certificate it presents ({arn}) was re-imported with names its ownership verification certificate ({domain}) does not cover"),
        Some(names) => {
            let uncovered: Vec<&str> = names
                .iter()
                .map(String::as_str)
                .filter(|n| !n.eq_ignore_ascii_case(domain))
                .collect();
            let missing = if names.iter().any(|n| n.eq_ignore_ascii_case(domain)) {
                String::new()
            } else {
                format!("; it does not name {domain}")
            };
            format!(
                "the certificate it presents ({arn}) names {}, not covered by its ownership verification certificate ({domain}){missing}",
                if uncovered.is_empty() { "nothing else".to_string() } else { uncovered.join(", ") }
            )
        }
    }
}

/// The error of a run that finds the domain in a status nothing it sends repairs.
fn status_error(ctx: &Context, domain: &str, d: Option<&DomainName>) -> Error {
    let text = match d {
        Some(d) => explain_status(ctx, domain, d),
        None => format!("the custom domain {domain} needs an action of its owner"),
    };
    Error::Aws(crate::aws::AwsError::local(
        "apigateway",
        "GetDomainName",
        crate::aws::local_code::FAILED_STATE,
        text,
    ))
}

/// The truststore warnings API Gateway gave for `info`, each also shown as a notice.
fn domain_warnings(ctx: &Context, domain: &str, info: Option<&DomainName>) -> Array {
    let warnings: Array = info
        .map(|d| {
            d.truststore_warnings
                .iter()
                .cloned()
                .map(Dynamic::from)
                .collect()
        })
        .unwrap_or_default();
    for w in &warnings {
        ctx.notice(&format!(
            "warning: API Gateway reports a truststore problem for {domain}: {w}"
        ));
    }
    warnings
}

/// The domain's truststore only (CA rollover): the uri and version change, its
/// certificates stay as they are. The domain must exist and be mtls's; a plan that did not
/// read it shows the version as changing.
fn diff_domain_truststore(
    domain: &str,
    uri: &Known<String>,
    version: &Known<String>,
    observed: &Observed<DomainName>,
) -> Result<Diff<DomainField>, Error> {
    diff_domain_part(
        "apigw_ensure_domain_truststore",
        domain,
        observed,
        |w| {
            w.truststore_uri = uri.clone();
            w.truststore_version = version.clone();
        },
        |f| {
            matches!(
                f,
                DomainField::TruststoreUri(_) | DomainField::TruststoreVersion(_)
            )
        },
        Change {
            field: "truststoreVersion",
            patch: DomainField::TruststoreVersion(version.clone()),
        },
    )
}

/// The certificate the domain presents only (CA rollover): `regionalCertificateArn`
/// changes, the rest stays as it is.
fn diff_domain_certificate(
    domain: &str,
    arn: &Known<String>,
    observed: &Observed<DomainName>,
) -> Result<Diff<DomainField>, Error> {
    diff_domain_part(
        "apigw_ensure_domain_certificate",
        domain,
        observed,
        |w| w.certificate_arn = arn.clone(),
        |f| matches!(f, DomainField::RegionalCertificateArn(_)),
        Change {
            field: "regionalCertificateArn",
            patch: DomainField::RegionalCertificateArn(arn.clone()),
        },
    )
}

/// One part of an existing domain mtls made: `set` puts the wanted values of that part
/// into the domain as it is, and only the fields `part` selects (and a status that needs
/// the owner) make the diff. `offline` is the change a plan that did not read it shows.
fn diff_domain_part(
    function: &'static str,
    domain: &str,
    observed: &Observed<DomainName>,
    set: impl FnOnce(&mut WantedDomain),
    part: fn(&DomainField) -> bool,
    offline: Change<DomainField>,
) -> Result<Diff<DomainField>, Error> {
    let d = match observed {
        Observed::Present(d) => d,
        Observed::NotLookedUp => return Ok(Diff::Update(vec![offline])),
        Observed::Absent => {
            return Err(Error::invalid_argument(
                function,
                "domain",
                format!("there is no API Gateway custom domain {domain}"),
                "run `mtls run setup.rhai --var domain=DOMAIN` first: a rollover changes a domain setup made",
            ))
        }
    };
    let mut wanted = WantedDomain {
        certificate_arn: d.regional_certificate_arn.clone().into(),
        ownership_arn: d.ownership_verification_certificate_arn.clone().into(),
        truststore_uri: d.truststore_uri.clone().into(),
        truststore_version: d.truststore_version.clone().into(),
    };
    set(&mut wanted);
    Ok(match diff_domain(domain, &wanted, observed)? {
        Diff::Update(changes) => Diff::update_or_keep(
            changes
                .into_iter()
                .filter(|c| matches!(c.patch, DomainField::Status(_)) || part(&c.patch))
                .collect(),
            "exists, as asked",
        ),
        other => other,
    })
}

/// How a plan shows a value that changes: `before -> after`.
fn from_to(before: Option<&str>, after: &Known<String>) -> String {
    format!(
        "{} -> {}",
        before.unwrap_or("(none)"),
        after.as_deref().unwrap_or(crate::effects::Unknown::TEXT)
    )
}

fn ensure_domain_truststore(ctx: &Context, domain: &str, truststore: &Map) -> Result<Map, Error> {
    let f = "apigw_ensure_domain_truststore";
    super::check_domain(f, domain)?;
    let get = |k: &str| -> Result<(Known<String>, String), Error> {
        let v = truststore.get(k).cloned().ok_or_else(|| {
            Error::invalid_argument(
                f,
                "truststore",
                format!("the map has no `{k}`"),
                "pass the map upload_truststore returns (#{ uri, version, ... })",
            )
        })?;
        Ok((text(f, k, &v)?.into(), display(&v)))
    };
    let (uri, uri_shown) = get("uri")?;
    let (version, _) = get("version")?;
    hold_domain(ctx, domain)?;
    let observed = read_domain(ctx, domain)?;
    let diff = diff_domain_truststore(domain, &uri, &version, &observed)?;
    let before = observed.present().cloned();
    let wanted = WantedDomain {
        certificate_arn: Known::from(
            before
                .as_ref()
                .and_then(|d| d.regional_certificate_arn.clone()),
        ),
        ownership_arn: Known::from(
            before
                .as_ref()
                .and_then(|d| d.ownership_verification_certificate_arn.clone()),
        ),
        truststore_uri: uri.clone(),
        truststore_version: version.clone(),
    };
    let old_version = before.as_ref().and_then(|d| d.truststore_version.clone());
    let describe = |a: Action| {
        let a = a.arg("truststore_uri", &uri_shown);
        if observed.looked_up() {
            a.arg(
                "truststore_version",
                from_to(old_version.as_deref(), &version),
            )
        } else {
            a.arg_maybe("truststore_version", version.get())
        }
    };
    let (op, changed) = converge_domain(ctx, domain, &wanted, &observed, &diff, describe)?;
    // Kept: as it was. Changed: as the change left it (unknown in a plan).
    let info = if op == Op::Keep {
        before.clone()
    } else {
        changed
    };
    let warnings = domain_warnings(ctx, domain, info.as_ref());
    Ok(map(vec![
        ("name", domain.into()),
        ("version_before", unknown_or(old_version)),
        (
            "version",
            unknown_or(info.as_ref().and_then(|d| d.truststore_version.clone())),
        ),
        (
            "domain_status",
            unknown_or(info.as_ref().and_then(|d| d.status.clone())),
        ),
        ("warnings", warnings.into()),
        ("status", op.name().into()),
    ]))
}

fn ensure_domain_certificate(ctx: &Context, domain: &str, arn: &Dynamic) -> Result<Map, Error> {
    let f = "apigw_ensure_domain_certificate";
    super::check_domain(f, domain)?;
    let arn = Known::from(text(f, "certificate_arn", arn)?);
    hold_domain(ctx, domain)?;
    let observed = read_domain(ctx, domain)?;
    let diff = diff_domain_certificate(domain, &arn, &observed)?;
    let before = observed.present().cloned();
    let old_arn = before
        .as_ref()
        .and_then(|d| d.regional_certificate_arn.clone());
    let wanted = WantedDomain {
        certificate_arn: arn.clone(),
        ownership_arn: Known::from(
            before
                .as_ref()
                .and_then(|d| d.ownership_verification_certificate_arn.clone()),
        ),
        truststore_uri: Known::from(before.as_ref().and_then(|d| d.truststore_uri.clone())),
        truststore_version: Known::from(before.as_ref().and_then(|d| d.truststore_version.clone())),
    };
    let describe = |a: Action| a.arg("certificate_arn", from_to(old_arn.as_deref(), &arn));
    let (op, changed) = converge_domain(ctx, domain, &wanted, &observed, &diff, describe)?;
    let info = if op == Op::Keep { before } else { changed };
    Ok(map(vec![
        ("name", domain.into()),
        ("arn_before", unknown_or(old_arn)),
        (
            "arn",
            unknown_or(
                info.as_ref()
                    .and_then(|d| d.regional_certificate_arn.clone()),
            ),
        ),
        (
            "domain_status",
            unknown_or(info.as_ref().and_then(|d| d.status.clone())),
        ),
        ("status", op.name().into()),
    ]))
}

/// The root mapping: kept when it serves this API and stage; someone else's is an error.
fn diff_mapping(
    domain: &str,
    api_id: &Known<String>,
    stage: &str,
    observed: &Observed<BasePathMapping>,
) -> Result<Diff<()>, Error> {
    match observed {
        Observed::Present(m)
            if Some(&m.rest_api_id) == api_id.get() && m.stage.as_deref() == Some(stage) =>
        {
            Ok(Diff::Keep("maps the same api and stage"))
        }
        Observed::Present(m) => Err(Error::invalid_argument(
            "apigw_ensure_mapping",
            "domain",
            format!(
                "{domain} already maps its root to api {} stage {}",
                m.rest_api_id,
                m.stage.clone().unwrap_or_default()
            ),
            "remove that mapping (mtls run teardown.rhai, or the console) or use another domain",
        )),
        _ => Ok(Diff::Create),
    }
}

fn ensure_mapping(ctx: &Context, domain: &str, api: &Dynamic, stage: &str) -> Result<Map, Error> {
    super::check_domain("apigw_ensure_mapping", domain)?;
    super::check_stage("apigw_ensure_mapping", stage)?;
    let api_id = Known::from(text("apigw_ensure_mapping", "api_id", api)?);
    hold_domain(ctx, domain)?;
    let observed = ctx.observe(|aws| aws.apigateway().base_path_mapping(domain, None))?;
    let diff = diff_mapping(domain, &api_id, stage, &observed)?;
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::ApiMapping,
        &format!("{domain}/"),
        &observed,
        &diff,
        |a| a.arg_maybe("api_id", api_id.get()).arg("stage", stage),
        || {
            let id = api_id.known("the REST API id")?;
            ctx.write(|aws| {
                aws.apigateway()
                    .create_base_path_mapping(domain, id, stage, None)
            })
        },
    )?;
    Ok(map(vec![("status", op.name().into())]))
}

fn delete_mapping(ctx: &Context, domain: &str) -> Result<(), Error> {
    super::check_domain("apigw_delete_mapping", domain)?;
    hold_domain(ctx, domain)?;
    // The mapping of a domain mtls did not make is not its to remove.
    if let Observed::Present(d) = ctx.observe(|aws| aws.apigateway().domain_name(domain))? {
        if !domain_made_for(&d, domain) {
            return Ok(());
        }
    }
    let found = ctx.observe(|aws| aws.apigateway().base_path_mapping(domain, None))?;
    reconcile::delete(
        &ctx.effects,
        Kind::ApiMapping,
        &format!("{domain}/"),
        &found,
        |_| ctx.write(|aws| aws.apigateway().delete_base_path_mapping(domain, None)),
    )?;
    Ok(())
}

fn delete_domain(ctx: &Context, domain: &str) -> Result<(), Error> {
    super::check_domain("apigw_delete_domain", domain)?;
    hold_domain(ctx, domain)?;
    let found = ctx.observe(|aws| aws.apigateway().domain_name(domain))?;
    if let Observed::Present(d) = &found {
        if !domain_made_for(d, domain) {
            ctx.effects.keep(Action::new(
                Op::Keep,
                Kind::ApiCustomDomain,
                domain,
                "not made by mtls",
            ));
            return Ok(());
        }
    }
    reconcile::delete(&ctx.effects, Kind::ApiCustomDomain, domain, &found, |d| {
        ctx.write(|aws| aws.apigateway().delete_domain_name(&d.name))
    })?;
    Ok(())
}

/// Whether mtls created the custom domain `d` (its tag names the domain).
fn domain_made_for(d: &DomainName, domain: &str) -> bool {
    d.tags.get(TAG_DOMAIN).map(String::as_str) == Some(domain)
}

fn delete_rest_api(ctx: &Context, name: &str, domain: &str) -> Result<(), Error> {
    super::check_domain("apigw_delete_api", domain)?;
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
    use super::*;
    use std::collections::BTreeMap;

    fn domain(uri: &str, version: &str, cert: &str, owner: &str, ours: bool) -> DomainName {
        let mut tags = BTreeMap::new();
        if ours {
            tags.insert(TAG_DOMAIN.to_string(), "api.example.com".to_string());
        }
        DomainName {
            name: "api.example.com".into(),
            regional_domain_name: Some("d-1.execute-api.us-east-1.amazonaws.com".into()),
            regional_hosted_zone_id: Some("Z1".into()),
            truststore_uri: (!uri.is_empty()).then(|| uri.to_string()),
            truststore_version: (!version.is_empty()).then(|| version.to_string()),
            truststore_warnings: vec![],
            regional_certificate_arn: Some(cert.into()),
            ownership_verification_certificate_arn: Some(owner.into()),
            security_policy: Some("TLS_1_2".into()),
            endpoint_types: vec!["REGIONAL".into()],
            status: Some("AVAILABLE".into()),
            status_message: None,
            tags: tags.into_iter().collect(),
        }
    }

    fn wanted(version: Option<&str>) -> WantedDomain {
        WantedDomain {
            certificate_arn: Known::value("cert".into()),
            ownership_arn: Known::value("owner".into()),
            truststore_uri: Known::value("s3://b/RootCA.pem".into()),
            truststore_version: version.map(str::to_string).into(),
        }
    }

    fn fields(diff: &Diff<DomainField>) -> Vec<&'static str> {
        diff.changes().iter().map(|c| c.field).collect()
    }

    #[test]
    fn domain_diffs() {
        let present = |d| Observed::Present(d);
        let same = domain("s3://b/RootCA.pem", "v1", "cert", "owner", true);
        let case = |observed: Observed<DomainName>, want: WantedDomain, expected: &[&str]| {
            let diff = diff_domain("api.example.com", &want, &observed).unwrap();
            match expected {
                ["keep"] => assert_eq!(diff, Diff::Keep("exists, as asked")),
                ["create"] => assert_eq!(diff, Diff::Create),
                fields_wanted => assert_eq!(fields(&diff), fields_wanted, "{diff:?}"),
            }
        };
        case(present(same.clone()), wanted(Some("v1")), &["keep"]);
        case(Observed::Absent, wanted(Some("v1")), &["create"]);
        case(Observed::NotLookedUp, wanted(None), &["create"]);
        case(
            present(same.clone()),
            wanted(Some("v2")),
            &["truststoreVersion"],
        );
        case(
            present(domain("s3://other/RootCA.pem", "v1", "cert", "owner", true)),
            wanted(Some("v1")),
            &["truststoreUri"],
        );
        case(
            present(domain("s3://b/RootCA.pem", "v1", "old", "owner", true)),
            wanted(Some("v1")),
            &["regionalCertificateArn"],
        );
        case(
            present(domain("s3://b/RootCA.pem", "v1", "cert", "old", true)),
            wanted(Some("v1")),
            &["ownershipVerificationCertificateArn"],
        );
        // mTLS switched off outside mtls: both fields are missing, and both are set again.
        case(
            present(domain("", "", "cert", "owner", true)),
            wanted(Some("v1")),
            &["truststoreUri", "truststoreVersion"],
        );
        // A plan that does not know the new version yet shows it as an update.
        case(present(same.clone()), wanted(None), &["truststoreVersion"]);
        let theirs = present(domain("s3://b/RootCA.pem", "v1", "cert", "owner", false));
        assert!(diff_domain("api.example.com", &wanted(Some("v1")), &theirs).is_err());
    }

    #[test]
    fn domain_truststore_diffs() {
        let v = |s: &str| Known::value(s.to_string());
        let uri = v("s3://b/RootCA.pem");
        let diff = |o: &Observed<DomainName>, version: &Known<String>| {
            diff_domain_truststore("api.example.com", &uri, version, o)
        };
        let same = Observed::Present(domain("s3://b/RootCA.pem", "v1", "cert", "owner", true));
        assert_eq!(
            diff(&same, &v("v1")).unwrap(),
            Diff::Keep("exists, as asked")
        );
        assert_eq!(
            fields(&diff(&same, &v("v2")).unwrap()),
            ["truststoreVersion"]
        );
        // Only the truststore: certificates missing from the domain are not this step's to set.
        let bare = Observed::Present(DomainName {
            regional_certificate_arn: None,
            ownership_verification_certificate_arn: None,
            ..domain("s3://b/RootCA.pem", "v1", "", "", true)
        });
        assert_eq!(
            diff(&bare, &v("v1")).unwrap(),
            Diff::Keep("exists, as asked")
        );
        assert_eq!(
            fields(&diff(&bare, &v("v2")).unwrap()),
            ["truststoreVersion"]
        );
        let moved = Observed::Present(domain("s3://old/RootCA.pem", "v1", "cert", "owner", true));
        assert_eq!(
            fields(&diff(&moved, &v("v2")).unwrap()),
            ["truststoreUri", "truststoreVersion"]
        );
        // A plan that did not look (or does not know the version yet) shows a change.
        assert_eq!(
            fields(&diff(&Observed::NotLookedUp, &Known::unknown()).unwrap()),
            ["truststoreVersion"]
        );
        assert_eq!(
            fields(&diff(&same, &Known::unknown()).unwrap()),
            ["truststoreVersion"]
        );
        // No domain (setup has not run), or someone else's: an error, nothing sent.
        let err = diff(&Observed::Absent, &v("v2")).unwrap_err().to_string();
        assert!(err.contains("no API Gateway custom domain"), "{err}");
        let theirs = Observed::Present(domain("s3://b/RootCA.pem", "v1", "cert", "owner", false));
        assert!(diff(&theirs, &v("v2")).is_err());
        assert_eq!(
            from_to(Some("v1"), &Known::unknown()),
            format!("v1 -> {}", crate::effects::Unknown::TEXT)
        );
        assert_eq!(from_to(None, &v("v2")), "(none) -> v2");
    }

    #[test]
    fn unknown_patch_values_never_become_patches() {
        assert!(domain_patch(&DomainField::TruststoreVersion(Known::unknown())).is_err());
        assert_eq!(
            domain_patch(&DomainField::TruststoreVersion(Known::value("v".into()))).unwrap(),
            Some(DomainPatch::TruststoreVersion("v".into()))
        );
        assert_eq!(
            domain_patch(&DomainField::Status("FAILED".into())).unwrap(),
            None
        );
    }

    #[test]
    fn a_status_that_needs_the_owner_is_an_update_with_the_status_as_reason() {
        let with_status = |status: &str| {
            Observed::Present(DomainName {
                status: Some(status.into()),
                ..domain("s3://b/RootCA.pem", "v1", "cert", "owner", true)
            })
        };
        for status in [
            "PENDING_CERTIFICATE_REIMPORT",
            "PENDING_OWNERSHIP_VERIFICATION",
            "FAILED",
        ] {
            let diff =
                diff_domain("api.example.com", &wanted(Some("v1")), &with_status(status)).unwrap();
            assert_eq!(
                fields(&diff),
                [format!("domainNameStatus {status}")],
                "{status}"
            );
            // The partial steps of the rollover show it too.
            let uri = Known::value("s3://b/RootCA.pem".to_string());
            let v1 = Known::value("v1".to_string());
            let t =
                diff_domain_truststore("api.example.com", &uri, &v1, &with_status(status)).unwrap();
            assert_eq!(
                fields(&t),
                [format!("domainNameStatus {status}")],
                "{status}"
            );
            let c = diff_domain_certificate(
                "api.example.com",
                &Known::value("cert".into()),
                &with_status(status),
            )
            .unwrap();
            assert_eq!(
                fields(&c),
                [format!("domainNameStatus {status}")],
                "{status}"
            );
        }
        // Statuses that pass by themselves are not changes.
        for status in ["AVAILABLE", "UPDATING", "PENDING"] {
            let diff =
                diff_domain("api.example.com", &wanted(Some("v1")), &with_status(status)).unwrap();
            assert_eq!(diff, Diff::Keep("exists, as asked"), "{status}");
        }
        // With the repair: the status first, then the field that repairs it.
        let expired = Observed::Present(DomainName {
            status: Some("PENDING_OWNERSHIP_VERIFICATION".into()),
            ..domain("s3://b/RootCA.pem", "v1", "cert", "expired", true)
        });
        let diff = diff_domain("api.example.com", &wanted(Some("v1")), &expired).unwrap();
        assert_eq!(
            fields(&diff),
            [
                "domainNameStatus PENDING_OWNERSHIP_VERIFICATION",
                "ownershipVerificationCertificateArn"
            ]
        );
    }

    #[test]
    fn the_ownership_certificate_is_patched_alone_and_first() {
        let change = |field, patch| Change { field, patch };
        let changes = vec![
            change(
                "domainNameStatus FAILED",
                DomainField::Status("FAILED".into()),
            ),
            change(
                "truststoreVersion",
                DomainField::TruststoreVersion(Known::value("v2".into())),
            ),
            change(
                "regionalCertificateArn",
                DomainField::RegionalCertificateArn(Known::value("c2".into())),
            ),
            change(
                "ownershipVerificationCertificateArn",
                DomainField::OwnershipArn(Known::value("o2".into())),
            ),
        ];
        assert_eq!(
            patch_batches(&changes).unwrap(),
            vec![
                vec![DomainPatch::OwnershipVerificationCertificateArn(
                    "o2".into()
                )],
                vec![
                    DomainPatch::TruststoreVersion("v2".into()),
                    DomainPatch::RegionalCertificateArn("c2".into())
                ],
            ]
        );
        // Without an ownership change: one call; a status alone: none.
        assert_eq!(patch_batches(&changes[..2]).unwrap().len(), 1);
        assert!(patch_batches(&changes[..1]).unwrap().is_empty());
    }

    #[test]
    fn mapping_diffs() {
        let mapping = |api: &str, stage: &str| {
            Observed::Present(BasePathMapping {
                base_path: "(none)".into(),
                rest_api_id: api.into(),
                stage: Some(stage.into()),
            })
        };
        let api = Known::value("a1".to_string());
        let diff =
            |o: &Observed<BasePathMapping>, api: &Known<String>| diff_mapping("d", api, "prod", o);
        assert_eq!(
            diff(&mapping("a1", "prod"), &api).unwrap(),
            Diff::Keep("maps the same api and stage")
        );
        assert_eq!(diff(&Observed::Absent, &api).unwrap(), Diff::Create);
        assert_eq!(
            diff(&Observed::NotLookedUp, &Known::unknown()).unwrap(),
            Diff::Create
        );
        assert!(diff(&mapping("a2", "prod"), &api).is_err());
        assert!(diff(&mapping("a1", "dev"), &api).is_err());
        assert!(diff(&mapping("a1", "prod"), &Known::unknown()).is_err());
    }

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

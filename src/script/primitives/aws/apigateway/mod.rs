//! API Gateway for scripts (steps 9-13): one file per resource, each with its reads,
//! diffs, changes and delete.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

mod api;
mod domain;
mod domain_parts;
mod domain_status;
mod mapping;
mod stage;

use api::{delete_rest_api, ensure_default_endpoint_disabled, ensure_rest_api};
use domain::{delete_domain, ensure_mtls_domain};
use domain_parts::{ensure_domain_certificate, ensure_domain_truststore};
use mapping::{delete_mapping, ensure_mapping};
use stage::ensure_stage;

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

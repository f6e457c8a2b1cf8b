//! Issue 21, item 2: revocation enforced on API Gateway. API Gateway's mutual TLS does not
//! check revocation; it forwards the client certificate to a Lambda authorizer instead (API
//! Gateway developer guide, rest-api-mutual-tls). These steps publish the CA's revocation
//! list beside the truststore, and deploy the authorizer (authorizer/authorizer.py) with
//! its execution role, the permission for API Gateway to invoke it, the REQUEST authorizer
//! and its attachment to every method of the API; teardown removes them.
//!
//! One file per resource: `publish.rs` (the index and CRL on S3), `role.rs` (the execution
//! role and its policy), `function.rs` (the Lambda function), `attach.rs` (the invoke
//! permission, the REQUEST authorizer, every method guarded and the stage redeployed) and
//! `delete.rs` (teardown). Here: the Rhai functions' registration and what the files share
//! (the resource names, the index key, the run's region and account, the tag role).

use std::rc::Rc;

use rhai::{Dynamic, Map};

use crate::aws::s3::sha256_hex;
use crate::error::Error;
use crate::reconcile::Known;
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

mod attach;
mod delete;
mod function;
mod publish;
mod role;

use attach::ensure_attached;
use delete::delete;
use function::ensure_function;
use publish::{check_revocation_list, publish};
use role::ensure_role;

/// The tag role of what these steps create.
const ROLE_TAG: &str = "revocation-authorizer";

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "revocation_publish", "revocation_publish(bucket: string, domain: string, ca_cert: string, crl: string) -> map", "Check the CRL file `crl` (made by revoke.rhai) against the CA certificate `ca_cert` (its issuer and signature), then publish beside the truststore, as DOMAIN/revoked.json, the index the revocation authorizer loads ({issuer DN: [revoked serials in hex]}) and the CRL itself; no CRL file: an empty list. Returns #{ bucket, key, crl_key, revoked, status }.", |c, bucket: Dynamic, domain: &str, ca: &str, crl: &str| -> Map { publish(c, &bucket, domain, ca, crl) });
    bound!(reg, ctx, "check_revocation_list", "check_revocation_list(ca_cert: string, crl: string) -> int", "Check the CRL file `crl` against the CA certificate `ca_cert` (issued by it, signature valid) before anything is sent to AWS; no CRL file is an empty list. Returns how many certificates it revokes.", |c, ca: &str, crl: &str| -> i64 { check_revocation_list(c, ca, crl) });
    bound!(reg, ctx, "authorizer_ensure_role", "authorizer_ensure_role(domain: string, bucket: string, key: string) -> map", "The revocation authorizer's execution role: trusted by lambda.amazonaws.com, allowed s3:GetObject on s3://bucket/key and to write its own log group, nothing else. Returns #{ name, arn, status }.", |c, domain: &str, bucket: Dynamic, key: &str| -> Map { ensure_role(c, domain, &bucket, key) });
    bound!(reg, ctx, "authorizer_ensure_function", "authorizer_ensure_function(domain: string, role_arn: string, bucket: string, key: string) -> map", "The revocation authorizer's Lambda function (Python 3.12, authorizer/authorizer.py zipped), reading s3://bucket/key; its code or configuration changed elsewhere is an update. Returns #{ name, arn, status }.", |c, domain: &str, role: Dynamic, bucket: Dynamic, key: &str| -> Map { ensure_function(c, domain, &role, &bucket, key) });
    bound!(reg, ctx, "authorizer_ensure_attached", "authorizer_ensure_attached(domain: string, api_id: string, stage: string, function_arn: string) -> map", "Let API Gateway invoke the function, create its REQUEST authorizer (TTL 0) on the API, make it the authorizer of every method (CUSTOM) and deploy `stage` again when a method changed. Returns #{ authorizer_id, methods, status }.", |c, domain: &str, api: Dynamic, stage: &str, function: Dynamic| -> Map { ensure_attached(c, domain, &api, stage, &function) });
    bound!(reg, ctx, "authorizer_delete", "authorizer_delete(domain: string, bucket: string)", "Delete the revocation authorizer's function, its role and policy, and the published list and CRL (every version). The authorizer itself goes with the API.", |c, domain: &str, bucket: Dynamic| -> () { delete(c, domain, &bucket) });
}

/// The name of the function and of its role for `domain`: both allow 64 characters of
/// letters, digits, hyphens and underscores (Lambda API reference, CreateFunction,
/// FunctionName; IAM API reference, CreateRole, RoleName).
pub(crate) fn resource_name(domain: &str) -> String {
    let name = format!("mtls-revocation-{}", domain.replace('.', "-"));
    if name.len() <= 64 {
        return name;
    }
    // A long domain: cut, and told apart by a hash of the whole.
    format!("{}-{}", &name[..51], &sha256_hex(domain.as_bytes())[..12])
}

fn index_key(domain: &str) -> String {
    format!("{domain}/revoked.json")
}

/// The run's region and account, which ARNs name: unknown in an offline plan.
fn region_and_account(ctx: &Context) -> Result<(Known<String>, Known<String>), Error> {
    let region = ctx.observe(|aws| async move { Ok(Some(aws.region())) })?;
    let account = ctx.observe(|aws| async move { aws.account_id().await.map(Some) })?;
    Ok((region.into_present().into(), account.into_present().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_lambda_and_iam() {
        assert_eq!(
            resource_name("api.example.com"),
            "mtls-revocation-api-example-com"
        );
        let long = format!("{}.example.com", "a".repeat(60));
        let name = resource_name(&long);
        assert_eq!(name.len(), 64, "{name}");
        assert_ne!(
            name,
            resource_name(&format!("{}.example.org", "a".repeat(60)))
        );
    }
}

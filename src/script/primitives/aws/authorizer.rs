//! Issue 21, item 2: revocation enforced on API Gateway. API Gateway's mutual TLS does not
//! check revocation; it forwards the client certificate to a Lambda authorizer instead (API
//! Gateway developer guide, rest-api-mutual-tls). These steps publish the CA's revocation
//! list beside the truststore, and deploy the authorizer (authorizer/authorizer.py) with
//! its execution role, the permission for API Gateway to invoke it, the REQUEST authorizer
//! and its attachment to every method of the API; teardown removes them.

use std::collections::BTreeMap;
use std::rc::Rc;

use rhai::{Dynamic, Map};
use serde_json::{json, Value};

use super::lock::hold_domain;
use super::{display, map, tags, text, unknown_or, TAG_DOMAIN};
use crate::aws::apigateway::authorizers::{
    authorizers_source_arn, lambda_invocation_uri, Authorizer, MethodAuth,
};
use crate::aws::apigateway::partition;
use crate::aws::iam::Role;
use crate::aws::lambda::{code_sha256, zip_one_file, Function, FunctionSpec, RUNTIME};
use crate::aws::s3::{sha256_hex, ObjectHead};
use crate::effects::{Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

/// The authorizer's source, deployed as the function's only file.
const AUTHORIZER_PY: &[u8] = include_bytes!("../../../../authorizer/authorizer.py");
/// Its handler.
const HANDLER: &str = "authorizer.handler";
/// How often a warm authorizer asks S3 whether the list changed (a conditional GET).
const LIST_TTL_SECONDS: &str = "30";
/// The authorizer's name on the API.
const AUTHORIZER_NAME: &str = "mtls-revocation";
/// The inline policy's name on the role.
const POLICY_NAME: &str = "mtls-revocation-list-and-logs";
/// The format tag of the published index (authorizer.INDEX_FORMAT).
const INDEX_FORMAT: &str = "mtls-revocation-index/1";
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

// ---- the published list ------------------------------------------------------------

/// The index of a CRL: checked against its CA (the CRL's issuer is the CA's subject and
/// its signature verifies with the CA's key), then `{format, issuers: {DN: [serials]}}`
/// with the issuer DN spelt as API Gateway's `issuerDN` ("C=..,O=..,CN=..") and serials in
/// lowercase hex without leading zeros (API Gateway sends them as "0a:1b:..."; the
/// authorizer brings both to one form).
pub(crate) fn revocation_index(
    ca_file: &str,
    ca_der: &[u8],
    crl: Option<(&str, &[u8])>,
) -> Result<(String, usize), Error> {
    let (_, ca) = x509_parser::parse_x509_certificate(ca_der).map_err(|e| {
        Error::invalid_argument(
            "revocation_publish",
            "ca_cert",
            format!("{ca_file}: {e}"),
            "pass the CA certificate that signs the CRL, e.g. RootCA.pem",
        )
    })?;
    let issuer = ca.subject().to_string().replace(", ", ",");
    let mut serials: Vec<String> = Vec::new();
    if let Some((crl_file, crl_der)) = crl {
        let bad = |why: String| {
            Error::invalid_argument(
                "revocation_publish",
                "crl",
                format!("{crl_file}: {why}"),
                format!(
                    "publish only a CRL {ca_file} signed (revoke.rhai makes one next to the CA)"
                ),
            )
        };
        let (_, list) = x509_parser::parse_x509_crl(crl_der).map_err(|e| bad(e.to_string()))?;
        if list.issuer().as_raw() != ca.subject().as_raw() {
            return Err(bad(format!(
                "issued by {}, not by {}",
                list.issuer(),
                ca.subject()
            )));
        }
        list.verify_signature(ca.public_key()).map_err(|_| {
            bad(format!(
                "its signature does not verify with the key of {ca_file}"
            ))
        })?;
        serials = list
            .iter_revoked_certificates()
            .map(|r| format!("{:x}", r.user_certificate))
            .collect();
        serials.sort();
        serials.dedup();
    }
    let count = serials.len();
    let index = json!({ "format": INDEX_FORMAT, "issuers": { issuer: serials } });
    Ok((index.to_string(), count))
}

/// The DER of a one-block PEM file of `label`.
fn pem_der(
    function: &'static str,
    argument: &str,
    file: &str,
    text: &str,
) -> Result<Vec<u8>, Error> {
    let block = pem::parse(text).map_err(|e| {
        Error::invalid_argument(
            function,
            argument,
            format!("{file}: {e}"),
            format!("pass a PEM file as `{argument}`"),
        )
    })?;
    Ok(block.contents().to_vec())
}

/// An object mtls wrote: kept when its `sha256` metadata is the body's.
fn diff_object(sha256: &Known<String>, observed: &Observed<ObjectHead>) -> Diff<()> {
    match observed {
        Observed::Present(h) if sha256.is_known() && h.sha256.as_ref() == sha256.get() => {
            Diff::Keep("same content")
        }
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "content",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

/// Puts `body` as s3://bucket/key unless the object holds it already.
fn ensure_object(
    ctx: &Context,
    bucket: &Known<String>,
    target_bucket: &str,
    key: &str,
    file: &str,
    body: &Known<Vec<u8>>,
    content_type: &str,
) -> Result<Op, Error> {
    let sha = body.map(|b| sha256_hex(b));
    let observed = match bucket.get() {
        Some(b) => ctx.observe(|aws| aws.s3().head_object(b, key, None))?,
        None => Observed::NotLookedUp,
    };
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::S3Object,
        &format!("s3://{target_bucket}/{key}"),
        &observed,
        &diff_object(&sha, &observed),
        |a| a.arg("file", file).arg_maybe("sha256", sha.get()),
        || {
            let (bucket, body) = (bucket.known("the bucket name")?, body.known("the list")?);
            ctx.write(|aws| aws.s3().put_object(bucket, key, body, content_type))
                .map(|_| ())
        },
    )?;
    Ok(op)
}

fn local_index(
    ctx: &Context,
    ca: &str,
    crl: &str,
) -> Result<Option<(String, Option<String>, usize)>, Error> {
    if [ca, crl].iter().any(|f| ctx.effects.pending(f))
        || (!ctx.workdir.exists(ca)? && ctx.effects.touched(ca))
    {
        return Ok(None);
    }
    let ca_der = pem_der(
        "revocation_publish",
        "ca_cert",
        ca,
        &ctx.workdir.read_public(ca)?,
    )?;
    let crl_text = if ctx.workdir.exists(crl)? {
        Some(ctx.workdir.read_public(crl)?)
    } else {
        None
    };
    let crl_der = crl_text
        .as_deref()
        .map(|t| pem_der("revocation_publish", "crl", crl, t))
        .transpose()?;
    let (index, count) = revocation_index(ca, &ca_der, crl_der.as_deref().map(|d| (crl, d)))?;
    Ok(Some((index, crl_text, count)))
}

fn check_revocation_list(ctx: &Context, ca: &str, crl: &str) -> Result<i64, Error> {
    Ok(local_index(ctx, ca, crl)?.map_or(0, |(_, _, n)| n as i64))
}

fn publish(
    ctx: &Context,
    bucket: &Dynamic,
    domain: &str,
    ca: &str,
    crl: &str,
) -> Result<Map, Error> {
    super::check_domain("revocation_publish", domain)?;
    let target_bucket = display(bucket);
    let bucket = text("revocation_publish", "bucket", bucket)?;
    super::check_bucket("revocation_publish", "bucket", bucket.as_deref())?;
    // Files an earlier step of a plan makes are known once applied.
    let local = local_index(ctx, ca, crl)?;
    let pending = local.is_none();
    let (index, crl_body, revoked) = match local {
        None => (None, None, None),
        Some((index, crl_text, count)) => (
            Some(index.into_bytes()),
            crl_text.map(String::into_bytes),
            Some(count),
        ),
    };
    let key = index_key(domain);
    let op = ensure_object(
        ctx,
        &bucket,
        &target_bucket,
        &key,
        &format!("index of {crl}"),
        &index.into(),
        "application/json",
    )?;
    let crl_key = format!("{domain}/{}", crl.rsplit('/').next().unwrap_or(crl));
    if crl_body.is_some() || pending {
        ensure_object(
            ctx,
            &bucket,
            &target_bucket,
            &crl_key,
            crl,
            &crl_body.into(),
            "application/pkix-crl",
        )?;
    }
    Ok(map(vec![
        ("bucket", unknown_or(bucket.into_option())),
        ("key", key.into()),
        ("crl_key", crl_key.into()),
        (
            "revoked",
            revoked.map_or_else(
                || Dynamic::from(crate::effects::Unknown),
                |n| Dynamic::from(n as i64),
            ),
        ),
        ("status", op.name().into()),
    ]))
}

// ---- the execution role ------------------------------------------------------------

/// The trust policy: Lambda may assume the role (Lambda developer guide,
/// lambda-intro-execution-role).
fn trust_policy() -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": "sts:AssumeRole"
        }]
    })
}

/// What the authorizer may do: read the one object, and write its own log group
/// (Lambda developer guide, monitoring-cloudwatchlogs: logs:CreateLogGroup,
/// logs:CreateLogStream, logs:PutLogEvents on /aws/lambda/FUNCTION).
fn role_policy(region: &str, account: &str, bucket: &str, key: &str, function: &str) -> Value {
    let p = partition(region);
    let group = format!("arn:{p}:logs:{region}:{account}:log-group:/aws/lambda/{function}");
    json!({
        "Version": "2012-10-17",
        "Statement": [
            { "Effect": "Allow", "Action": "s3:GetObject", "Resource": format!("arn:{p}:s3:::{bucket}/{key}") },
            { "Effect": "Allow", "Action": "logs:CreateLogGroup", "Resource": group },
            { "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("{group}:*") }
        ]
    })
}

/// Two policy documents are the same when their JSON is.
fn same_json(text: Option<&str>, want: &Value) -> bool {
    text.and_then(|t| serde_json::from_str::<Value>(t).ok())
        .as_ref()
        == Some(want)
}

/// The role: kept when its trust policy is Lambda's; a role of this name mtls did not
/// make for the domain is refused.
/// The role: kept when its trust policy is Lambda's; a role of this name mtls did not
/// make for the domain is refused.
fn diff_role(domain: &str, name: &str, observed: &Observed<Role>) -> Result<Diff<()>, Error> {
    match observed {
        Observed::Present(r) if r.tags.get(TAG_DOMAIN).map(String::as_str) != Some(domain) => {
            Err(Error::invalid_argument(
                "authorizer_ensure_role",
                "domain",
                format!("the IAM role {name} exists and is not tagged {TAG_DOMAIN}={domain}: mtls did not make it"),
                "delete or rename that role, or deploy the authorizer for another domain",
            ))
        }
        Observed::Present(r) if same_json(r.assume_role_policy.as_deref(), &trust_policy()) => {
            Ok(Diff::Keep("exists, trusted by Lambda"))
        }
        Observed::Present(_) => Ok(Diff::Update(vec![Change {
            field: "AssumeRolePolicyDocument",
            patch: (),
        }])),
        _ => Ok(Diff::Create),
    }
}

fn diff_policy(want: &Known<Value>, observed: &Observed<String>) -> Diff<()> {
    match (observed, want.get()) {
        (Observed::Present(doc), Some(want)) if same_json(Some(doc), want) => {
            Diff::Keep("same statements")
        }
        (Observed::Present(_), _) => Diff::Update(vec![Change {
            field: "PolicyDocument",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

/// The run's region and account, which ARNs name: unknown in an offline plan.
fn region_and_account(ctx: &Context) -> Result<(Known<String>, Known<String>), Error> {
    let region = ctx.observe(|aws| async move { Ok(Some(aws.region())) })?;
    let account = ctx.observe(|aws| async move { aws.account_id().await.map(Some) })?;
    Ok((region.into_present().into(), account.into_present().into()))
}

fn ensure_role(ctx: &Context, domain: &str, bucket: &Dynamic, key: &str) -> Result<Map, Error> {
    super::check_domain("authorizer_ensure_role", domain)?;
    let bucket = text("authorizer_ensure_role", "bucket", bucket)?;
    super::check_bucket("authorizer_ensure_role", "bucket", bucket.as_deref())?;
    super::check_object_key("authorizer_ensure_role", key)?;
    hold_domain(ctx, domain)?;
    let name = resource_name(domain);
    let observed = ctx.observe(|aws| aws.iam().role(&name))?;
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::IamRole,
        &name,
        &observed,
        &diff_role(domain, &name, &observed)?,
        |a| {
            a.arg("trust", "lambda.amazonaws.com")
                .arg("tags", format!("{TAG_DOMAIN}={domain}"))
        },
        || {
            let trust = trust_policy().to_string();
            match observed.present() {
                Some(_) => ctx
                    .write(|aws| aws.iam().set_trust_policy(&name, &trust))
                    .map(|_| None),
                None => {
                    let role_tags = tags(domain, ROLE_TAG);
                    ctx.write(|aws| aws.iam().create_role(&name, &trust, &role_tags))
                        .map(Some)
                }
            }
        },
    )?;
    let arn = created
        .flatten()
        .or_else(|| observed.present().map(|r| r.arn.clone()));
    // The policy names the account and region: known once AWS is read.
    let (region, account) = region_and_account(ctx)?;
    let want: Known<Value> = match (region.get(), account.get(), bucket.get()) {
        (Some(r), Some(a), Some(b)) => Known::value(role_policy(r, a, b, key, &name)),
        _ => Known::unknown(),
    };
    let policy = match observed {
        Observed::Present(_) => ctx.observe(|aws| aws.iam().role_policy(&name, POLICY_NAME))?,
        other => other.map(|_| String::new()),
    };
    let object = format!("s3://{}/{key}", bucket.shown());
    reconcile::apply(
        &ctx.effects,
        Kind::IamRolePolicy,
        &format!("{name}/{POLICY_NAME}"),
        &policy,
        &diff_policy(&want, &policy),
        |a| {
            a.arg("s3:GetObject", &object)
                .arg("logs", format!("/aws/lambda/{name}"))
        },
        || {
            let doc = want.known("the role policy")?.to_string();
            ctx.write(|aws| aws.iam().put_role_policy(&name, POLICY_NAME, &doc))
        },
    )?;
    Ok(map(vec![
        ("name", name.clone().into()),
        ("arn", unknown_or(arn)),
        ("status", op.name().into()),
    ]))
}

// ---- the function ------------------------------------------------------------------

fn package() -> Vec<u8> {
    zip_one_file("authorizer.py", AUTHORIZER_PY)
}

fn environment(bucket: &str, key: &str) -> BTreeMap<String, String> {
    [
        ("MTLS_REVOCATION_BUCKET", bucket),
        ("MTLS_REVOCATION_KEY", key),
        ("MTLS_REVOCATION_TTL_SECONDS", LIST_TTL_SECONDS),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What differs between the function and its spec: the code (by Lambda's CodeSha256),
/// and the configuration (role, runtime, handler, environment).
/// What differs between the function and its spec: the code (by Lambda's CodeSha256),
/// and the configuration (role, runtime, handler, environment).
fn diff_function(
    code: &str,
    role: &Known<String>,
    env: &Known<BTreeMap<String, String>>,
    observed: &Observed<Function>,
) -> Diff<&'static str> {
    let Observed::Present(f) = observed else {
        return Diff::Create;
    };
    let mut changes = Vec::new();
    if f.code_sha256.as_deref() != Some(code) {
        changes.push(Change {
            field: "CodeSha256",
            patch: "code",
        });
    }
    let configured = f.runtime.as_deref() == Some(RUNTIME)
        && f.handler.as_deref() == Some(HANDLER)
        && role.is_known()
        && f.role.as_ref() == role.get()
        && env.get() == Some(&f.environment);
    if !configured {
        changes.push(Change {
            field: "configuration",
            patch: "configuration",
        });
    }
    Diff::update_or_keep(changes, "same code and configuration")
}

fn ensure_function(
    ctx: &Context,
    domain: &str,
    role: &Dynamic,
    bucket: &Dynamic,
    key: &str,
) -> Result<Map, Error> {
    super::check_domain("authorizer_ensure_function", domain)?;
    let role = text("authorizer_ensure_function", "role_arn", role)?;
    let bucket = text("authorizer_ensure_function", "bucket", bucket)?;
    super::check_bucket("authorizer_ensure_function", "bucket", bucket.as_deref())?;
    super::check_object_key("authorizer_ensure_function", key)?;
    hold_domain(ctx, domain)?;
    let name = resource_name(domain);
    let zip = package();
    let code = code_sha256(&zip);
    let env = bucket.map(|b| environment(b, key));
    let observed = ctx.observe(|aws| aws.lambda().function(&name))?;
    let diff = diff_function(&code, &role, &env, &observed);
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::LambdaFunction,
        &name,
        &observed,
        &diff,
        |a| {
            a.arg("runtime", RUNTIME)
                .arg("handler", HANDLER)
                .arg("code_sha256", &code)
                .arg("role", role.shown())
        },
        || {
            let spec = FunctionSpec {
                name: name.clone(),
                role_arn: role.known("the role ARN")?.clone(),
                zip: zip.clone(),
                handler: HANDLER.to_string(),
                environment: env.known("the environment")?.clone(),
                tags: tags(domain, ROLE_TAG),
            };
            if observed.present().is_none() {
                return ctx
                    .write(|aws| aws.lambda().create_function(&spec))
                    .map(Some);
            }
            for change in diff.changes() {
                match change.patch {
                    "code" => ctx.write(|aws| aws.lambda().update_code(&name, &zip))?,
                    _ => ctx.write(|aws| aws.lambda().update_configuration(&spec))?,
                }
            }
            Ok(None)
        },
    )?;
    let arn = created
        .flatten()
        .or_else(|| observed.present().map(|f| f.arn.clone()));
    Ok(map(vec![
        ("name", name.into()),
        ("arn", unknown_or(arn)),
        ("status", op.name().into()),
    ]))
}

// ---- the authorizer on the API -------------------------------------------------------

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

fn ensure_attached(
    ctx: &Context,
    domain: &str,
    api: &Dynamic,
    stage: &str,
    function: &Dynamic,
) -> Result<Map, Error> {
    super::check_domain("authorizer_ensure_attached", domain)?;
    super::check_stage("authorizer_ensure_attached", stage)?;
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

// ---- teardown ------------------------------------------------------------------------

fn delete(ctx: &Context, domain: &str, bucket: &Dynamic) -> Result<(), Error> {
    super::check_domain("authorizer_delete", domain)?;
    let target_bucket = display(bucket);
    let bucket = text("authorizer_delete", "bucket", bucket)?;
    super::check_bucket("authorizer_delete", "bucket", bucket.as_deref())?;
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

    #[test]
    fn function_diffs() {
        let env = Known::value(environment("b", "k"));
        let role = Known::value("arn:role".to_string());
        let f = |sha: &str, handler: &str| {
            Observed::Present(Function {
                arn: "arn:fn".into(),
                code_sha256: Some(sha.into()),
                role: role.get().cloned(),
                runtime: Some(RUNTIME.into()),
                handler: Some(handler.into()),
                environment: environment("b", "k"),
            })
        };
        assert_eq!(
            diff_function("c", &role, &env, &f("c", HANDLER)),
            Diff::Keep("same code and configuration")
        );
        let fields =
            |d: Diff<&'static str>| d.changes().iter().map(|c| c.field).collect::<Vec<_>>();
        assert_eq!(
            fields(diff_function("c", &role, &env, &f("changed", HANDLER))),
            ["CodeSha256"]
        );
        assert_eq!(
            fields(diff_function("c", &role, &env, &f("c", "other.handler"))),
            ["configuration"]
        );
        assert_eq!(
            diff_function("c", &role, &env, &Observed::Absent),
            Diff::Create
        );
    }

    #[test]
    fn policy_diffs_compare_json_not_spelling() {
        let want = role_policy("us-east-1", "123456789012", "b", "d/revoked.json", "fn");
        let spaced = serde_json::to_string_pretty(&want).unwrap();
        assert_eq!(
            diff_policy(&Known::value(want.clone()), &Observed::Present(spaced)),
            Diff::Keep("same statements")
        );
        let wider = role_policy("us-east-1", "123456789012", "b", "*", "fn").to_string();
        assert_eq!(
            diff_policy(&Known::value(want), &Observed::Present(wider)).op(),
            crate::effects::Op::Update
        );
    }
}

/// The index from CRLs made by rcgen: what it holds, and the CRLs it refuses.
#[cfg(test)]
mod index_tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
        KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
    };

    fn ca(cn: &str) -> (Vec<u8>, Issuer<'static, KeyPair>) {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CountryName, "JP");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        (der, Issuer::new(params, key))
    }

    fn crl(issuer: &Issuer<'_, KeyPair>, serials: &[&[u8]]) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc();
        CertificateRevocationListParams {
            this_update: now,
            next_update: now + time::Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: now,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(issuer)
        .unwrap()
        .der()
        .to_vec()
    }

    #[test]
    fn the_index_holds_the_crl_s_serials_under_the_ca_s_dn() {
        let (der, issuer) = ca("mtls root CA");
        let list = crl(&issuer, &[&[0x00, 0x1a, 0x2b], &[0x7f]]);
        let (index, count) =
            revocation_index("RootCA.pem", &der, Some(("RootCA.crl.pem", &list))).unwrap();
        let index: Value = serde_json::from_str(&index).unwrap();
        assert_eq!(count, 2);
        assert_eq!(index["format"], INDEX_FORMAT);
        // One issuer: the CA's subject in its certificate's order (rcgen's here), as
        // API Gateway writes an issuerDN.
        let issuers = index["issuers"].as_object().unwrap();
        let (dn, serials) = issuers.iter().next().unwrap();
        assert_eq!(issuers.len(), 1, "{index}");
        let mut parts: Vec<&str> = dn.split(',').collect();
        parts.sort();
        assert_eq!(parts, ["C=JP", "CN=mtls root CA", "O=Example"], "{index}");
        assert_eq!(serials, &json!(["1a2b", "7f"]));
        // No CRL yet: the CA, nothing revoked.
        let (empty, count) = revocation_index("RootCA.pem", &der, None).unwrap();
        assert_eq!(count, 0);
        assert_eq!(
            serde_json::from_str::<Value>(&empty).unwrap()["issuers"][dn.as_str()],
            json!([])
        );
    }

    #[test]
    fn a_crl_of_another_ca_or_with_a_bad_signature_is_refused() {
        let (der, _) = ca("mtls root CA");
        let (_, other) = ca("another CA");
        let err = revocation_index(
            "RootCA.pem",
            &der,
            Some(("x.crl.pem", &crl(&other, &[&[1]]))),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not by"), "{err}");
        // Same name, another key: the signature does not verify.
        let (_, impostor) = ca("mtls root CA");
        let err = revocation_index(
            "RootCA.pem",
            &der,
            Some(("x.crl.pem", &crl(&impostor, &[&[1]]))),
        )
        .unwrap_err();
        assert!(err.to_string().contains("signature"), "{err}");
    }
}

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
use super::{delete_if, display, map, shown, tags, text, unknown_or, TAG_DOMAIN};
use crate::aws::apigateway::authorizers::{
    authorizers_source_arn, lambda_invocation_uri, Authorizer, MethodAuth,
};
use crate::aws::apigateway::partition;
use crate::aws::lambda::{code_sha256, zip_one_file, Function, FunctionSpec, RUNTIME};
use crate::aws::s3::{sha256_hex, ObjectHead};
use crate::effects::{Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, known, Change, Diff, Known, Observed};
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
        Observed::Present(h) if sha256.is_some() && h.sha256 == *sha256 => {
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
) -> Result<&'static str, Error> {
    let sha = body.as_ref().map(|b| sha256_hex(b));
    let observed = match bucket {
        Some(b) => Observed::from_read(ctx.read(|aws| aws.s3().head_object(b, key, None))?),
        None => Observed::NotLookedUp,
    };
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::S3Object,
        &format!("s3://{target_bucket}/{key}"),
        observed.looked_up(),
        &diff_object(&sha, &observed),
        |a| a.arg("file", file).arg_maybe("sha256", sha.clone()),
        || {
            let bucket = known(bucket, "the bucket name")?;
            let body = body.as_ref().ok_or_else(|| {
                Error::internal("upload the revocation list", "it was still unknown")
            })?;
            ctx.write(|aws| aws.s3().put_object(bucket, key, body, content_type))
                .map(|_| ())
        },
    )?;
    Ok(op.name())
}

/// The index of the CRL `crl` of the CA `ca` (files in the working folder), and how many
/// certificates it revokes; `None` in a plan where an earlier step makes a file.
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
    let status = ensure_object(
        ctx,
        &bucket,
        &target_bucket,
        &key,
        &format!("index of {crl}"),
        &index,
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
            &crl_body,
            "application/pkix-crl",
        )?;
    }
    Ok(map(vec![
        ("bucket", unknown_or(bucket)),
        ("key", key.into()),
        ("crl_key", crl_key.into()),
        (
            "revoked",
            revoked.map_or_else(
                || Dynamic::from(crate::effects::Unknown),
                |n| Dynamic::from(n as i64),
            ),
        ),
        ("status", status.into()),
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
fn diff_role(
    domain: &str,
    name: &str,
    observed: &Observed<crate::aws::iam::Role>,
) -> Result<Diff<()>, Error> {
    match observed {
        Observed::Present(r) if r.tags.get(TAG_DOMAIN).map(String::as_str) != Some(domain) => Err(Error::invalid_argument(
            "authorizer_ensure_role",
            "domain",
            format!("the IAM role {name} exists and is not tagged {TAG_DOMAIN}={domain}: mtls did not make it"),
            "delete or rename that role, or deploy the authorizer for another domain",
        )),
        Observed::Present(r) if same_json(r.assume_role_policy.as_deref(), &trust_policy()) => Ok(Diff::Keep("exists, trusted by Lambda")),
        Observed::Present(_) => Ok(Diff::Update(vec![Change { field: "AssumeRolePolicyDocument", patch: () }])),
        _ => Ok(Diff::Create),
    }
}

fn diff_policy(want: &Known<Value>, observed: &Observed<String>) -> Diff<()> {
    match (observed, want) {
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

fn ensure_role(ctx: &Context, domain: &str, bucket: &Dynamic, key: &str) -> Result<Map, Error> {
    super::check_domain("authorizer_ensure_role", domain)?;
    let bucket = text("authorizer_ensure_role", "bucket", bucket)?;
    super::check_bucket("authorizer_ensure_role", "bucket", bucket.as_deref())?;
    super::check_object_key("authorizer_ensure_role", key)?;
    hold_domain(ctx, domain)?;
    let name = resource_name(domain);
    let observed = Observed::from_read(ctx.read(|aws| aws.iam().role(&name))?);
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::IamRole,
        &name,
        observed.looked_up(),
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
    let region = ctx.read(|aws| async move { Ok(aws.region()) })?;
    let account = ctx.read(|aws| aws.account_id())?;
    let want = match (&region, &account, &bucket) {
        (Some(r), Some(a), Some(b)) => Some(role_policy(r, a, b, key, &name)),
        _ => None,
    };
    let policy = match observed.present() {
        Some(_) => Observed::from_read(ctx.read(|aws| aws.iam().role_policy(&name, POLICY_NAME))?),
        None if observed.looked_up() => Observed::Absent,
        None => Observed::NotLookedUp,
    };
    let object = format!("s3://{}/{key}", shown(&bucket));
    reconcile::apply(
        &ctx.effects,
        Kind::IamRolePolicy,
        &format!("{name}/{POLICY_NAME}"),
        policy.looked_up(),
        &diff_policy(&want, &policy),
        |a| {
            a.arg("s3:GetObject", &object)
                .arg("logs", format!("/aws/lambda/{name}"))
        },
        || {
            let doc = want.as_ref().map(Value::to_string);
            let doc = known(&doc, "the role policy")?;
            ctx.write(|aws| aws.iam().put_role_policy(&name, POLICY_NAME, doc))
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
        && role.as_ref().is_some_and(|r| f.role.as_ref() == Some(r))
        && env.as_ref() == Some(&f.environment);
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
    let env = bucket.as_deref().map(|b| environment(b, key));
    let observed = Observed::from_read(ctx.read(|aws| aws.lambda().function(&name))?);
    let diff = diff_function(&code, &role, &env, &observed);
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::LambdaFunction,
        &name,
        observed.looked_up(),
        &diff,
        |a| {
            a.arg("runtime", RUNTIME)
                .arg("handler", HANDLER)
                .arg("code_sha256", &code)
                .arg("role", shown(&role))
        },
        || {
            let spec = FunctionSpec {
                name: name.clone(),
                role_arn: known(&role, "the role ARN")?.to_string(),
                zip: zip.clone(),
                handler: HANDLER.to_string(),
                environment: env.clone().unwrap_or_default(),
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
                && uri.is_some()
                && a.uri == *uri
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
    let name = resource_name(domain);
    let region = ctx.read(|aws| async move { Ok(aws.region()) })?;
    let account = ctx.read(|aws| aws.account_id())?;

    // Who may invoke the function: API Gateway, for this API's authorizers.
    let sid = api_id.as_ref().map(|id| format!("mtls-apigateway-{id}"));
    let source = match (&region, &account, &api_id) {
        (Some(r), Some(a), Some(id)) => Some(authorizers_source_arn(r, a, id)),
        _ => None,
    };
    let granted = match &sid {
        Some(s) => ctx
            .read(|aws| aws.lambda().permission_ids(&name))?
            .map(|ids| ids.contains(s)),
        None => None,
    };
    let permission = match granted {
        Some(true) => Diff::<()>::Keep("granted"),
        _ => Diff::Create,
    };
    reconcile::apply(
        &ctx.effects,
        Kind::LambdaPermission,
        &format!("{name} invoked by apigateway.amazonaws.com"),
        granted.is_some(),
        &permission,
        |a| a.arg("source", shown(&source)),
        || {
            let (sid, source) = (
                known(&sid, "the statement id")?,
                known(&source, "the source ARN")?,
            );
            ctx.write(|aws| {
                aws.lambda()
                    .add_permission(&name, sid, "apigateway.amazonaws.com", source)
            })
        },
    )?;

    // The REQUEST authorizer.
    let uri = match (&region, &function_arn) {
        (Some(r), Some(f)) => Some(lambda_invocation_uri(r, f)),
        _ => None,
    };
    let found = match &api_id {
        Some(id) => ctx
            .read(|aws| aws.apigateway().authorizers(id))?
            .map(|all| all.into_iter().find(|a| a.name == AUTHORIZER_NAME)),
        None => None,
    };
    let observed = Observed::from_read(found);
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::ApiAuthorizer,
        &format!("{}/{AUTHORIZER_NAME}", shown(&api_id)),
        observed.looked_up(),
        &diff_authorizer(&uri, &observed),
        |a| {
            a.arg("type", "REQUEST")
                .arg("ttl", 0)
                .arg("function", shown(&function_arn))
        },
        || {
            let (id, uri) = (
                known(&api_id, "the REST API id")?,
                known(&uri, "the function URI")?,
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
    let authorizer_id = created
        .flatten()
        .or_else(|| observed.present().map(|a| a.id.clone()));

    // Every method guarded by it; the stage deployed again so that it takes effect.
    let methods = match &api_id {
        Some(id) => ctx.read(|aws| aws.apigateway().method_authorizations(id))?,
        None => None,
    };
    let todo = methods
        .as_deref()
        .map(|m| unguarded(m, authorizer_id.as_deref()));
    let attach = match &todo {
        Some(t) if t.is_empty() => Diff::Keep("every method guarded"),
        Some(_) => Diff::Update(vec![Change {
            field: "authorizationType",
            patch: (),
        }]),
        None => Diff::Create,
    };
    let listed = todo.as_ref().map(|t| {
        t.iter()
            .map(|m| format!("{} {}", m.http_method, m.path))
            .collect::<Vec<_>>()
            .join(", ")
    });
    let target = format!("{} methods", shown(&api_id));
    let (attach_op, _) = reconcile::apply(
        &ctx.effects,
        Kind::ApiMethodAuthorization,
        &target,
        methods.is_some(),
        &attach,
        |a| {
            a.arg("authorizationType", "CUSTOM")
                .arg_maybe("methods", listed.clone())
                .arg("redeploy", stage)
        },
        || {
            let id = known(&api_id, "the REST API id")?;
            let authorizer = known(&authorizer_id, "the authorizer id")?;
            // In a live run the methods were read before this work.
            let all = match &todo {
                Some(t) => t.clone(),
                None => ctx.write(|aws| aws.apigateway().method_authorizations(id))?,
            };
            for m in unguarded(&all, Some(authorizer)) {
                ctx.write(|aws| {
                    aws.apigateway().set_method_authorizer(
                        id,
                        &m.resource_id,
                        &m.http_method,
                        Some(authorizer),
                    )
                })?;
            }
            ctx.write(|aws| {
                aws.apigateway().create_deployment(
                    id,
                    stage,
                    Some("revocation authorizer attached by mtls"),
                )
            })
            .map(|_| ())
        },
    )?;
    let status = if attach_op == Op::Keep { op } else { attach_op };
    Ok(map(vec![
        ("authorizer_id", unknown_or(authorizer_id)),
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
    // Only what mtls made for this domain (its tags).
    let function = ctx.read(|aws| aws.lambda().function(&name))?;
    delete_if(
        ctx,
        function.as_ref().map(Option::is_some),
        Kind::LambdaFunction,
        &name,
        || ctx.write(|aws| aws.lambda().delete_function(&name)),
    )?;
    let role = ctx.read(|aws| aws.iam().role(&name))?;
    let ours = role.as_ref().map(|r| {
        r.as_ref()
            .is_some_and(|r| r.tags.get(TAG_DOMAIN).map(String::as_str) == Some(domain))
    });
    delete_if(ctx, ours, Kind::IamRole, &name, || {
        ctx.write(|aws| aws.iam().delete_role_policy(&name, POLICY_NAME))?;
        ctx.write(|aws| aws.iam().delete_role(&name))
    })?;
    let prefix = format!("{domain}/");
    let versions = match &bucket {
        Some(b) => ctx.read(|aws| aws.s3().list_object_versions(b, Some(&prefix)))?,
        None => None,
    };
    let published = [index_key(domain), format!("{domain}/RootCA.crl.pem")];
    let ours: Option<Vec<_>> = versions.map(|v| {
        v.into_iter()
            .filter(|v| published.contains(&v.key))
            .collect()
    });
    delete_if(
        ctx,
        ours.as_ref().map(|v| !v.is_empty()),
        Kind::S3Object,
        &format!("s3://{target_bucket}/{}", published[0]),
        || {
            let b = known(&bucket, "the bucket name")?;
            for v in ours.iter().flatten() {
                ctx.write(|aws| aws.s3().delete_object_version(b, &v.key, &v.version_id))?;
            }
            Ok(())
        },
    )
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
        let env = Some(environment("b", "k"));
        let role = Some("arn:role".to_string());
        let f = |sha: &str, handler: &str| {
            Observed::Present(Function {
                arn: "arn:fn".into(),
                code_sha256: Some(sha.into()),
                role: role.clone(),
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
            diff_policy(&Some(want.clone()), &Observed::Present(spaced)),
            Diff::Keep("same statements")
        );
        let wider = role_policy("us-east-1", "123456789012", "b", "*", "fn").to_string();
        assert_eq!(
            diff_policy(&Some(want), &Observed::Present(wider)).op(),
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
        assert_eq!(
            index["issuers"]["C=JP,O=Example,CN=mtls root CA"],
            json!(["1a2b", "7f"])
        );
        // No CRL yet: the CA, nothing revoked.
        let (empty, count) = revocation_index("RootCA.pem", &der, None).unwrap();
        assert_eq!(count, 0);
        assert_eq!(
            serde_json::from_str::<Value>(&empty).unwrap()["issuers"]
                ["C=JP,O=Example,CN=mtls root CA"],
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

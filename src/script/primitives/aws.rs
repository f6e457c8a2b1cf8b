//! AWS for scripts: one `ensure_*` primitive per resource of the walkthrough (find it,
//! compare, create or update only what differs, say which), and the `delete_*` ones that
//! teardown uses. The stdlib steps (`upload_truststore`, `create_mtls_domain`, ...) are
//! Rhai functions that call these in the article's order.
//!
//! Reads run in a live run and in `plan --refresh`; an offline plan makes no call at all
//! and assumes nothing exists yet (each action then says it was not looked up).

use std::rc::Rc;

use rhai::{Array, Dynamic, Map};

use super::{primitive, Registrar};
use crate::aws::acm::CertificateImport;
use crate::aws::apigateway::{DomainName, DomainPatch, MtlsDomainSpec};
use crate::aws::route53::{fqdn, AliasTarget, RecordSet};
use crate::aws::s3::{sha256_hex, BucketState, Versioning};
use crate::aws::{Aws, Tags, Wait};
use crate::effects::{Action, Op, Unknown};
use crate::error::Error;
use crate::pki::ParsedCert;
use crate::script::error::fail;
use crate::script::Context;

type RhaiResult<T> = Result<T, Box<rhai::EvalAltResult>>;

/// Tag keys on what mtls creates: re-runs and teardown find resources by them.
pub const TAG_DOMAIN: &str = "mtls:domain";
pub const TAG_ROLE: &str = "mtls:role";
/// The truststore a domain was given, `URI@VERSION`, for services that do not report it.
pub const TAG_TRUSTSTORE: &str = "mtls:truststore";

const OFFLINE: &str = "offline plan: not looked up; --refresh compares with AWS";

/// A script value that is a known string, or a plan placeholder (`None`).
fn text(function: &'static str, argument: &str, v: &Dynamic) -> Result<Option<String>, Error> {
    if v.is::<Unknown>() {
        return Ok(None);
    }
    if v.is_string() {
        let s = v.to_string();
        // "trust-store-(known after apply)": built from a placeholder, so not known either.
        return Ok(if s.contains(Unknown::TEXT) {
            None
        } else {
            Some(s)
        });
    }
    Err(Error::invalid_argument(
        function,
        argument,
        format!("expected a string, got {}", v.type_name()),
        format!("pass `{argument}` as a string"),
    ))
}

/// How a script value reads in a plan: strings as they are (placeholders inside included).
fn display(v: &Dynamic) -> String {
    if v.is_string() {
        v.to_string()
    } else {
        Unknown::TEXT.to_string()
    }
}

fn shown(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| Unknown::TEXT.to_string())
}

fn unknown_or(v: Option<String>) -> Dynamic {
    v.map_or_else(|| Dynamic::from(Unknown), Dynamic::from)
}

fn map(entries: Vec<(&str, Dynamic)>) -> Map {
    entries.into_iter().map(|(k, v)| (k.into(), v)).collect()
}

fn tags(domain: &str, role: &str) -> Tags {
    let mut t = Tags::new();
    t.insert(TAG_DOMAIN.to_string(), domain.to_string());
    t.insert(TAG_ROLE.to_string(), role.to_string());
    t
}

impl Context {
    /// AWS for reads: `None` in an offline plan.
    fn aws_read(&self) -> Result<Option<&Aws>, Error> {
        if self.effects.is_plan() && !self.aws.refresh {
            return Ok(None);
        }
        self.aws_client().map(Some)
    }

    /// AWS for writes (only ever called by live work).
    fn aws_client(&self) -> Result<&Aws, Error> {
        if self.aws.client.get().is_none() {
            let aws = self.block_on(Aws::connect(&self.aws.settings))??;
            let _ = self.aws.client.set(aws);
        }
        self.aws
            .client
            .get()
            .ok_or_else(|| Error::crypto("connect to AWS", "no client"))
    }

    /// Runs a read against AWS; `None` offline.
    fn read<'a, T, F>(&'a self, call: impl FnOnce(&'a Aws) -> F) -> Result<Option<T>, Error>
    where
        F: std::future::Future<Output = Result<T, crate::aws::AwsError>>,
    {
        match self.aws_read()? {
            Some(aws) => Ok(Some(self.block_on(call(aws))??)),
            None => Ok(None),
        }
    }

    /// Runs a write against AWS (inside an action's live work).
    fn write<'a, T, F>(&'a self, call: impl FnOnce(&'a Aws) -> F) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, crate::aws::AwsError>>,
    {
        let aws = self.aws_client()?;
        Ok(self.block_on(call(aws))??)
    }
}

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    let c = ctx.clone();
    primitive!(reg, "aws_region", "aws_region() -> string",
        "The AWS region of the run (--region, AWS_REGION, the profile); unknown in an offline plan without one.",
        move || -> RhaiResult<Dynamic> { aws_region(&c).map_err(fail) });
    let c = ctx.clone();
    primitive!(
        reg,
        "aws_account_id",
        "aws_account_id() -> string",
        "The caller's 12-digit AWS account id (STS GetCallerIdentity); unknown in an offline plan.",
        move || -> RhaiResult<Dynamic> {
            Ok(unknown_or(c.read(|aws| aws.account_id()).map_err(fail)?))
        }
    );
    let c = ctx.clone();
    primitive!(reg, "route53_ensure_zone", "route53_ensure_zone(name: string) -> map",
        "Find or create the public Route 53 hosted zone `name`. Returns #{ id, name, name_servers, status }.",
        move |name: Dynamic| -> RhaiResult<Map> { ensure_hosted_zone(&c, &name).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "s3_ensure_bucket", "s3_ensure_bucket(name: string) -> map",
        "Find or create the S3 bucket `name` (in the run's region) with versioning enabled. Returns #{ name, status }.",
        move |name: Dynamic| -> RhaiResult<Map> { ensure_bucket(&c, &name).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "s3_ensure_object", "s3_ensure_object(bucket: string, key: string, path: string) -> map",
        "Upload the local file `path` as s3://bucket/key unless the latest version already holds the same bytes. Returns #{ uri, version, sha256, status }.",
        move |bucket: Dynamic, key: &str, path: &str| -> RhaiResult<Map> { ensure_object(&c, &bucket, key, path).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "check_truststore", "check_truststore(path: string) -> array",
        "API Gateway's truststore rules on a local PEM file (X.509, SHA-256+, RSA 2048+/ECDSA 256+, valid now); errors list every problem. Returns the subjects.",
        move |path: &str| -> RhaiResult<Array> { check_truststore(&c, path).map_err(fail) });
    primitive!(reg, "check_bucket_name", "check_bucket_name(name: string)",
        "S3's bucket naming rules (3-63 lowercase letters, digits, dots and hyphens, ...) checked locally; an error says which rule fails.",
        |name: Dynamic| -> RhaiResult<()> { check_bucket_name(&name).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "check_acm_import", "check_acm_import(cert: string, key: string, chain: string)",
        "ACM's import rules on local files (v3, key type and size, valid now, chain order, no leaf in chain); errors list every problem.",
        move |cert: &str, key: &str, chain: &str| -> RhaiResult<()> { check_acm_import(&c, cert, key, chain).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "acm_ensure_imported", "acm_ensure_imported(domain: string, cert: string, key: string, chain: string) -> map",
        "Import the server certificate into ACM, or keep (or re-import over) the one mtls imported for `domain`. Returns #{ arn, status }.",
        move |domain: &str, cert: &str, key: &str, chain: &str| -> RhaiResult<Map> { ensure_imported_cert(&c, domain, cert, key, chain).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "acm_ensure_requested", "acm_ensure_requested(domain: string) -> map",
        "Request (or find) the DNS-validated ACM certificate for `domain` (the ownership verification certificate). Returns #{ arn, status, cert_status, validation_name, validation_value }.",
        move |domain: &str| -> RhaiResult<Map> { ensure_requested_cert(&c, domain).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "acm_wait_issued", "acm_wait_issued(arn: string, timeout_seconds: int) -> string",
        "Wait (with a spinner) until the ACM certificate is ISSUED; an error after the timeout. Returns the status.",
        move |arn: Dynamic, timeout: i64| -> RhaiResult<Dynamic> { wait_until_issued(&c, &arn, timeout).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "route53_ensure_cname", "route53_ensure_cname(zone_id: string, name: string, value: string) -> map",
        "Create or update the CNAME record `name` -> `value` in the hosted zone. Returns #{ status }.",
        move |zone: Dynamic, name: Dynamic, value: Dynamic| -> RhaiResult<Map> { ensure_record(&c, &zone, &name, Target::Cname(value)).map_err(fail) });
    let c = ctx.clone();
    primitive!(reg, "route53_ensure_alias", "route53_ensure_alias(zone_id: string, name: string, target_dns: string, target_zone_id: string) -> map",
        "Create or update the alias A record `name` -> the API Gateway domain. Returns #{ status }.",
        move |zone: Dynamic, name: Dynamic, dns: Dynamic, target_zone: Dynamic| -> RhaiResult<Map> {
            ensure_record(&c, &zone, &name, Target::Alias(dns, target_zone)).map_err(fail)
        });
    let c = ctx.clone();
    primitive!(reg, "apigw_ensure_api", "apigw_ensure_api(name: string) -> map",
        "Find the REST API `name`, or import the PetStore sample (GET /pets, GET /pets/{petId}, MOCK) under that name. Returns #{ id, name, status }.",
        move |name: &str| -> RhaiResult<Map> { ensure_rest_api(&c, name).map_err(fail) });
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

    // Teardown.
    let c = ctx.clone();
    primitive!(reg, "route53_find_zone", "route53_find_zone(name: string) -> map",
        "The public hosted zone `name` as #{ id, name, name_servers }, or () when there is none (unknown offline).",
        move |name: &str| -> RhaiResult<Dynamic> { find_hosted_zone(&c, name).map_err(fail) });
    let c = ctx.clone();
    primitive!(
        reg,
        "apigw_delete_mapping",
        "apigw_delete_mapping(domain: string)",
        "Delete the domain's root mapping, if there is one.",
        move |domain: &str| -> RhaiResult<()> { delete_mapping(&c, domain).map_err(fail) }
    );
    let c = ctx.clone();
    primitive!(reg, "apigw_delete_domain", "apigw_delete_domain(domain: string) -> map",
        "Delete the API Gateway custom domain, if it exists. Returns what it pointed at: #{ regional_domain_name, regional_hosted_zone_id }.",
        move |domain: &str| -> RhaiResult<Map> { delete_domain(&c, domain).map_err(fail) });
    let c = ctx.clone();
    primitive!(
        reg,
        "apigw_delete_api",
        "apigw_delete_api(name: string)",
        "Delete the REST API called `name`, if it exists.",
        move |name: &str| -> RhaiResult<()> { delete_rest_api(&c, name).map_err(fail) }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "acm_delete_tagged",
        "acm_delete_tagged(domain: string)",
        "Delete the ACM certificates mtls made for `domain` (found by their tags).",
        move |domain: &str| -> RhaiResult<()> { delete_tagged_certs(&c, domain).map_err(fail) }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "route53_delete_records",
        "route53_delete_records(zone_id: string, domain: string)",
        "Delete the records mtls made for `domain`: its alias A record and ACM validation CNAMEs.",
        move |zone: Dynamic, domain: &str| -> RhaiResult<()> {
            delete_records(&c, &zone, domain).map_err(fail)
        }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "s3_delete_bucket",
        "s3_delete_bucket(name: string)",
        "Delete the bucket with every object version in it, if it exists.",
        move |name: Dynamic| -> RhaiResult<()> { delete_bucket(&c, &name).map_err(fail) }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "route53_delete_zone",
        "route53_delete_zone(name: string)",
        "Delete the public hosted zone (only its SOA and NS records may be left), if it exists.",
        move |name: &str| -> RhaiResult<()> { delete_hosted_zone(&c, name).map_err(fail) }
    );
}

fn aws_region(ctx: &Context) -> Result<Dynamic, Error> {
    if let Some(r) = &ctx.aws.settings.region {
        return Ok(r.clone().into());
    }
    if ctx.effects.is_plan() && !ctx.aws.refresh {
        // Loading the full configuration may ask the instance metadata service: not offline.
        let env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()));
        return Ok(unknown_or(env));
    }
    Ok(ctx.aws_client()?.region().into())
}

fn ensure_hosted_zone(ctx: &Context, name: &Dynamic) -> Result<Map, Error> {
    let name = text("route53_ensure_zone", "name", name)?.ok_or_else(|| {
        Error::invalid_argument(
            "route53_ensure_zone",
            "name",
            "unknown",
            "pass a domain name",
        )
    })?;
    let found = ctx.read(|aws| aws.route53().find_public_zone(&name))?;
    let (zone, op) = match found {
        Some(Some(zone)) => {
            ctx.effects.keep(
                Action::new(Op::Keep, "route53 hosted zone", fqdn(&name), "exists")
                    .arg("id", &zone.id),
            );
            (Some(zone), Op::Keep)
        }
        found => {
            let reason = if found.is_none() {
                OFFLINE
            } else {
                "does not exist"
            };
            let action = Action::new(Op::Create, "route53 hosted zone", fqdn(&name), reason)
                .arg("type", "public")
                .arg_maybe("id", None::<String>);
            let zone = ctx
                .effects
                .apply(action, || ctx.write(|aws| aws.route53().create_zone(&name)))?;
            if let Some(z) = &zone {
                ctx.effects.resolve(&fqdn(&name), "id", &z.id);
            }
            (zone, Op::Create)
        }
    };
    Ok(map(vec![
        ("id", unknown_or(zone.as_ref().map(|z| z.id.clone()))),
        ("name", fqdn(&name).into()),
        (
            "name_servers",
            zone.as_ref().map_or(Dynamic::from(Unknown), |z| {
                z.name_servers
                    .iter()
                    .cloned()
                    .map(Dynamic::from)
                    .collect::<Array>()
                    .into()
            }),
        ),
        ("status", status(op).into()),
    ]))
}

fn status(op: Op) -> &'static str {
    match op {
        Op::Create => "create",
        Op::Update => "update",
        Op::Replace => "replace",
        Op::Delete => "delete",
        Op::Keep | Op::Check => "keep",
    }
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
                .arg("region", region.to_string());
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
        ("status", status(op).into()),
    ]))
}

fn ensure_object(ctx: &Context, bucket: &Dynamic, key: &str, path: &str) -> Result<Map, Error> {
    let uri = format!("s3://{}/{key}", display(bucket));
    let bucket = text("s3_ensure_object", "bucket", bucket)?;
    // The file may not exist yet in a plan (an earlier step would make it).
    let body = if ctx.workdir.exists(path)? {
        Some(ctx.workdir.read_to_string(path)?)
    } else {
        None
    };
    if body.is_none() && !ctx.effects.is_plan() {
        return Err(Error::Io {
            action: "read",
            path: path.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
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
        ("status", status(op).into()),
    ]))
}

/// Problems found in local inputs, all at once.
fn invalid(function: &str, what: &str, problems: Vec<String>) -> Result<(), Error> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::invalid_argument(
        function,
        what,
        problems.join("; "),
        "fix the files (or make new ones with --force) before anything is sent to AWS",
    ))
}

fn check_bucket_name(name: &Dynamic) -> Result<(), Error> {
    // An account id not known yet: the rest of the name is the article's, and valid.
    let Some(name) = text("check_bucket_name", "name", name)? else {
        return Ok(());
    };
    let problem = bucket_name_problem(&name);
    match problem {
        None => Ok(()),
        Some(p) => Err(Error::invalid_argument(
            "check_bucket_name",
            "name",
            format!("{name:?} is not a valid S3 bucket name: {p}"),
            "bucket names are 3-63 characters of lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit; pass another with --var bucket=NAME",
        )),
    }
}

/// The first S3 bucket naming rule `name` breaks, if any.
fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Some("it must be 3 to 63 characters long");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        return Some("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Some("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("two dots may not be adjacent");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("it may not look like an IP address");
    }
    if name.starts_with("xn--")
        || name.starts_with("sthree-")
        || name.ends_with("-s3alias")
        || name.ends_with("--ol-s3")
    {
        return Some("it uses a prefix or suffix S3 reserves");
    }
    None
}

fn check_truststore(ctx: &Context, path: &str) -> Result<Array, Error> {
    if !ctx.workdir.exists(path)? && ctx.effects.is_plan() {
        return Ok(Array::new());
    }
    let pem = ctx.workdir.read_to_string(path)?;
    let certs = ParsedCert::all_from_pem(path, &pem)?;
    let mut problems = Vec::new();
    let mut subjects = Array::new();
    for cert in &certs {
        let info = cert.info()?;
        problems.extend(
            cert.aws_problems()?
                .into_iter()
                .map(|p| format!("{}: {p}", info.subject)),
        );
        subjects.push(info.subject.into());
    }
    invalid("check_truststore", path, problems)?;
    Ok(subjects)
}

fn check_acm_import(ctx: &Context, cert: &str, key: &str, chain: &str) -> Result<(), Error> {
    let all_exist =
        ctx.workdir.exists(cert)? && ctx.workdir.exists(key)? && ctx.workdir.exists(chain)?;
    if !all_exist && ctx.effects.is_plan() {
        return Ok(());
    }
    let leaf = ParsedCert::from_pem(cert, &ctx.workdir.read_to_string(cert)?)?;
    let key_pem = ctx.workdir.read_to_string(key)?;
    let chain_certs = ParsedCert::all_from_pem(chain, &ctx.workdir.read_to_string(chain)?)?;
    let mut problems = Vec::new();
    problems.extend(
        leaf.aws_problems()?
            .into_iter()
            .map(|p| format!("{cert}: {p}")),
    );
    if key_pem.len() > 5120 {
        problems.push(format!(
            "{key} is {} bytes; ACM accepts keys up to 5120 bytes",
            key_pem.len()
        ));
    }
    if key_pem.contains("ENCRYPTED") {
        problems.push(format!("{key} is encrypted; ACM needs an unencrypted key"));
    }
    match crate::pki::parse_key_pem(key, &key_pem) {
        Ok(k) => {
            use rcgen::PublicKeyData;
            if leaf.spki_der()? != k.subject_public_key_info() {
                problems.push(format!("{key} does not belong to {cert}"));
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    let mut child = leaf.clone();
    for (i, ca) in chain_certs.iter().enumerate() {
        if ca.der == leaf.der {
            problems.push(format!(
                "{chain} contains the end-entity certificate {cert}; ACM wants only its issuers"
            ));
        } else if !child.is_issued_by(ca) {
            problems.push(format!(
                "certificate {} of {chain} did not issue the one before it",
                i + 1
            ));
        }
        child = ca.clone();
    }
    invalid("check_acm_import", cert, problems)
}

fn ensure_imported_cert(
    ctx: &Context,
    domain: &str,
    cert: &str,
    key: &str,
    chain: &str,
) -> Result<Map, Error> {
    let wanted_tags = tags(domain, "server");
    let local = if ctx.workdir.exists(cert)? {
        Some(ctx.workdir.read_to_string(cert)?)
    } else {
        None
    };
    let found = ctx.read(|aws| aws.acm().find_certificates(None, &wanted_tags))?;
    let existing = found.as_ref().and_then(|f| f.first().cloned());
    let same = match (&existing, &local) {
        (Some(e), Some(local)) => {
            let remote = ctx.read(|aws| aws.acm().certificate_pem(&e.arn))?;
            remote.is_some_and(|r| pem_der(&r.certificate) == pem_der(local))
        }
        _ => false,
    };
    let target = format!("server certificate for {domain}");
    let (op, arn) = match (&existing, same) {
        (Some(e), true) => {
            ctx.effects.keep(
                Action::new(
                    Op::Keep,
                    "acm certificate",
                    &target,
                    "imported, same certificate",
                )
                .arg("arn", &e.arn),
            );
            (Op::Keep, Some(e.arn.clone()))
        }
        (existing, _) => {
            let (op, reason) = match (existing, &found) {
                (_, None) => (Op::Create, OFFLINE),
                (None, Some(_)) => (Op::Create, "not imported yet"),
                (Some(_), Some(_)) => (
                    Op::Update,
                    "certificate differs: re-import over the same ARN",
                ),
            };
            let reimport = existing.as_ref().map(|e| e.arn.clone());
            let action = Action::new(op, "acm certificate", &target, reason)
                .arg("certificate", cert)
                .arg("chain", chain)
                .arg_sensitive("private_key")
                .arg_maybe("arn", reimport.clone());
            let arn = ctx.effects.apply(action, || {
                let body = ctx.workdir.read_to_string(cert)?;
                let key_pem = ctx.workdir.read_to_string(key)?;
                let chain_pem = ctx.workdir.read_to_string(chain)?;
                let import = CertificateImport {
                    certificate_pem: &body,
                    private_key_pem: &key_pem,
                    chain_pem: Some(&chain_pem),
                    reimport_arn: reimport.as_deref(),
                    tags: &wanted_tags,
                };
                ctx.write(|aws| aws.acm().import_certificate(&import))
            })?;
            if let Some(a) = &arn {
                ctx.effects.resolve(&target, "arn", a);
            }
            (op, arn.or(reimport))
        }
    };
    Ok(map(vec![
        ("arn", unknown_or(arn)),
        ("status", status(op).into()),
    ]))
}

/// DER of the first certificate of a PEM text, to compare two PEMs whatever their line breaks.
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    ParsedCert::from_pem("", pem).ok().map(|c| c.der)
}

fn ensure_requested_cert(ctx: &Context, domain: &str) -> Result<Map, Error> {
    let wanted_tags = tags(domain, "ownership-verification");
    let found = ctx.read(|aws| aws.acm().find_certificates(Some(domain), &wanted_tags))?;
    // A failed or expired request cannot become ISSUED: request a new one.
    let usable = found.as_ref().and_then(|f| {
        f.iter()
            .find(|c| {
                !matches!(
                    c.status.as_str(),
                    "FAILED" | "EXPIRED" | "REVOKED" | "VALIDATION_TIMED_OUT"
                )
            })
            .cloned()
    });
    let target = format!("ownership verification certificate for {domain}");
    let (op, arn) = match &usable {
        Some(c) => {
            ctx.effects.keep(
                Action::new(Op::Keep, "acm certificate", &target, "requested before")
                    .arg("arn", &c.arn)
                    .arg("status", &c.status),
            );
            (Op::Keep, Some(c.arn.clone()))
        }
        None => {
            let reason = if found.is_none() {
                OFFLINE
            } else {
                "not requested yet"
            };
            let action = Action::new(Op::Create, "acm certificate", &target, reason)
                .arg("validation", "DNS")
                .arg_maybe("arn", None::<String>);
            let arn = ctx.effects.apply(action, || {
                let token: String = domain
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .take(32)
                    .collect();
                ctx.write(|aws| {
                    aws.acm()
                        .request_certificate(domain, &wanted_tags, Some(&token))
                })
            })?;
            if let Some(a) = &arn {
                ctx.effects.resolve(&target, "arn", a);
            }
            (Op::Create, arn)
        }
    };
    // The validation CNAME appears a few seconds after the request.
    let (mut cert_status, mut record) = (None, None);
    if let Some(arn) = &arn {
        if let Some(info) = ctx.read(|aws| aws.acm().describe(arn))? {
            cert_status = Some(info.status.clone());
            record = info.validation_cname.clone();
            if record.is_none() && !info.is_issued() {
                let wait = Wait::new(
                    std::time::Duration::from_secs(120),
                    std::time::Duration::from_secs(2),
                );
                record = ctx.read(|aws| aws.acm().wait_for_validation_record(arn, &wait))?;
            }
        }
    }
    Ok(map(vec![
        ("arn", unknown_or(arn)),
        ("status", status(op).into()),
        ("cert_status", unknown_or(cert_status)),
        (
            "validation_name",
            unknown_or(record.as_ref().map(|r| r.name.clone())),
        ),
        (
            "validation_value",
            unknown_or(record.as_ref().map(|r| r.value.clone())),
        ),
    ]))
}

fn wait_until_issued(ctx: &Context, arn: &Dynamic, timeout: i64) -> Result<Dynamic, Error> {
    let arn = text("acm_wait_issued", "arn", arn)?;
    let timeout = std::time::Duration::from_secs(timeout.clamp(1, 24 * 3600) as u64);
    let action = Action::new(
        Op::Check,
        "acm certificate",
        format!("{} is ISSUED", shown(&arn)),
        "wait for DNS validation",
    )
    .arg("timeout", format!("{}s", timeout.as_secs()));
    let status = ctx.effects.apply(action, || {
        let arn = arn.clone().unwrap_or_default();
        let wait = Wait::new(timeout, std::time::Duration::from_secs(2).min(timeout));
        Ok(ctx
            .write(|aws| aws.acm().wait_until_issued(&arn, &wait))?
            .status)
    })?;
    Ok(unknown_or(status))
}

enum Target {
    Cname(Dynamic),
    Alias(Dynamic, Dynamic),
}

fn ensure_record(
    ctx: &Context,
    zone: &Dynamic,
    name: &Dynamic,
    target: Target,
) -> Result<Map, Error> {
    let f = "route53_ensure_record";
    let zone = text(f, "zone_id", zone)?;
    let name = text(f, "name", name)?;
    let (rtype, wanted_values, alias) = match &target {
        Target::Cname(v) => {
            let v = text(f, "value", v)?;
            ("CNAME", Some(vec![v.clone().map(|v| fqdn(&v))]), None)
        }
        Target::Alias(dns, tz) => (
            "A",
            None,
            Some((text(f, "target_dns", dns)?, text(f, "target_zone_id", tz)?)),
        ),
    };
    let label = format!(
        "{} {rtype}",
        name.as_deref()
            .map_or_else(|| Unknown::TEXT.to_string(), fqdn)
    );
    let records = match &zone {
        Some(z) => ctx.read(|aws| aws.route53().records(z))?,
        None => None,
    };
    let existing = records.as_ref().and_then(|rs| {
        let n = fqdn(name.as_deref().unwrap_or_default());
        rs.iter()
            .find(|r| r.record_type == rtype && r.name.eq_ignore_ascii_case(&n))
            .cloned()
    });
    let matches = |r: &RecordSet| match (&wanted_values, &alias) {
        (Some(vals), _) => {
            vals.iter().all(|v| {
                v.as_ref()
                    .is_some_and(|v| r.values.iter().any(|x| fqdn(x).eq_ignore_ascii_case(v)))
            }) && r.values.len() == vals.len()
        }
        (_, Some((dns, tz))) => r.alias.as_ref().is_some_and(|a| {
            dns.as_ref()
                .is_some_and(|d| fqdn(&a.dns_name).eq_ignore_ascii_case(&fqdn(d)))
                && tz.as_deref() == Some(a.hosted_zone_id.as_str())
        }),
        _ => false,
    };
    let op = match &existing {
        Some(r) if matches(r) => {
            ctx.effects.keep(Action::new(
                Op::Keep,
                "route53 record",
                &label,
                "exists, same target",
            ));
            Op::Keep
        }
        existing => {
            let (op, reason) = match (existing, &records) {
                (_, None) => (Op::Create, OFFLINE),
                (None, Some(_)) => (Op::Create, "does not exist"),
                (Some(_), Some(_)) => (Op::Update, "points elsewhere"),
            };
            let mut action =
                Action::new(op, "route53 record", &label, reason).arg_maybe("zone", zone.clone());
            match (&wanted_values, &alias) {
                (Some(vals), _) => {
                    action = action.arg_maybe("value", vals.first().cloned().flatten())
                }
                (_, Some((dns, tz))) => {
                    action = action
                        .arg_maybe("alias", dns.clone())
                        .arg_maybe("alias_zone", tz.clone())
                }
                _ => {}
            }
            ctx.effects.apply(action, || {
                let (zone, name) = (
                    zone.clone().unwrap_or_default(),
                    name.clone().unwrap_or_default(),
                );
                let change = match (&wanted_values, &alias) {
                    (Some(vals), _) => {
                        let value = vals.first().cloned().flatten().unwrap_or_default();
                        ctx.write(|aws| aws.route53().upsert_cname(&zone, &name, &value, 300))?
                    }
                    (_, Some((dns, tz))) => {
                        let t = AliasTarget {
                            dns_name: dns.clone().unwrap_or_default(),
                            hosted_zone_id: tz.clone().unwrap_or_default(),
                            evaluate_target_health: false,
                        };
                        ctx.write(|aws| aws.route53().upsert_alias_a(&zone, &name, &t))?
                    }
                    _ => return Ok(()),
                };
                {
                    let wait = Wait::dns_change();
                    ctx.write(|aws| aws.route53().wait_insync(&change, &wait))
                }
            })?;
            op
        }
    };
    Ok(map(vec![("status", status(op).into())]))
}

fn ensure_rest_api(ctx: &Context, name: &str) -> Result<Map, Error> {
    let found = ctx.read(|aws| aws.apigateway().find_rest_api(name))?;
    let (op, api) = match found {
        Some(Some(api)) => {
            ctx.effects
                .keep(Action::new(Op::Keep, "rest api", name, "exists").arg("id", &api.id));
            (Op::Keep, Some(api))
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
                .arg_maybe("id", None::<String>);
            let api = ctx.effects.apply(action, || {
                let mut doc = crate::aws::apigateway::petstore_openapi();
                doc["info"]["title"] = serde_json::Value::String(name.to_string());
                let body = doc.to_string();
                ctx.write(|aws| aws.apigateway().import_rest_api(&body, false))
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
        ("status", status(op).into()),
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
    Ok(map(vec![("status", status(op).into())]))
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
        ("status", status(op).into()),
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
        ("status", status(op).into()),
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
    Ok(map(vec![("status", status(op).into())]))
}

fn find_hosted_zone(ctx: &Context, name: &str) -> Result<Dynamic, Error> {
    Ok(
        match ctx.read(|aws| aws.route53().find_public_zone(name))? {
            None => Dynamic::from(map(vec![
                ("id", Dynamic::from(Unknown)),
                ("name", fqdn(name).into()),
            ])),
            Some(None) => Dynamic::UNIT,
            Some(Some(z)) => Dynamic::from(map(vec![
                ("id", z.id.into()),
                ("name", z.name.into()),
                (
                    "name_servers",
                    z.name_servers
                        .into_iter()
                        .map(Dynamic::from)
                        .collect::<Array>()
                        .into(),
                ),
            ])),
        },
    )
}

/// Deletes something that may or may not exist: `exists` is `None` offline.
fn delete_if(
    ctx: &Context,
    exists: Option<bool>,
    kind: &str,
    target: &str,
    work: impl FnOnce() -> Result<(), Error>,
) -> Result<(), Error> {
    match exists {
        Some(false) => Ok(()),
        Some(true) => ctx
            .effects
            .apply(Action::new(Op::Delete, kind, target, "exists"), work)
            .map(|_| ()),
        None => ctx
            .effects
            .apply(
                Action::new(Op::Delete, kind, target, "if it exists (offline plan)"),
                work,
            )
            .map(|_| ()),
    }
}

fn delete_mapping(ctx: &Context, domain: &str) -> Result<(), Error> {
    let found = ctx.read(|aws| aws.apigateway().base_path_mapping(domain, None))?;
    delete_if(
        ctx,
        found.map(|m| m.is_some()),
        "api mapping",
        &format!("{domain}/"),
        || ctx.write(|aws| aws.apigateway().delete_base_path_mapping(domain, None)),
    )
}

fn delete_domain(ctx: &Context, domain: &str) -> Result<Map, Error> {
    let found = ctx.read(|aws| aws.apigateway().domain_name(domain))?;
    let info = found.clone().flatten();
    delete_if(
        ctx,
        found.map(|d| d.is_some()),
        "api custom domain",
        domain,
        || ctx.write(|aws| aws.apigateway().delete_domain_name(domain)),
    )?;
    Ok(map(vec![
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
    ]))
}

fn delete_rest_api(ctx: &Context, name: &str) -> Result<(), Error> {
    let found = ctx.read(|aws| aws.apigateway().find_rest_api(name))?;
    let id = found.clone().flatten().map(|a| a.id);
    delete_if(ctx, found.map(|a| a.is_some()), "rest api", name, || {
        ctx.write(|aws| {
            aws.apigateway()
                .delete_rest_api(id.as_deref().unwrap_or_default())
        })
    })
}

fn delete_tagged_certs(ctx: &Context, domain: &str) -> Result<(), Error> {
    let mut by_domain = Tags::new();
    by_domain.insert(TAG_DOMAIN.to_string(), domain.to_string());
    match ctx.read(|aws| aws.acm().find_certificates(None, &by_domain))? {
        None => delete_if(
            ctx,
            None,
            "acm certificate",
            &format!("certificates tagged {TAG_DOMAIN}={domain}"),
            || Ok(()),
        ),
        Some(certs) => {
            for c in certs {
                let role = c.tags.get(TAG_ROLE).cloned().unwrap_or_default();
                delete_if(
                    ctx,
                    Some(true),
                    "acm certificate",
                    &format!("{role} certificate for {domain}"),
                    || ctx.write(|aws| aws.acm().delete(&c.arn)),
                )?;
            }
            Ok(())
        }
    }
}

fn delete_records(ctx: &Context, zone: &Dynamic, domain: &str) -> Result<(), Error> {
    let zone = text("route53_delete_records", "zone_id", zone)?;
    let records = match &zone {
        Some(z) => ctx.read(|aws| aws.route53().records(z))?,
        None => None,
    };
    let Some(records) = records else {
        return delete_if(
            ctx,
            None,
            "route53 record",
            &format!("{} A and its ACM validation CNAME", fqdn(domain)),
            || Ok(()),
        );
    };
    let name = fqdn(domain);
    for r in records {
        // Only what mtls makes: the alias A of the domain, and ACM's `_x.domain` CNAMEs.
        let ours =
            (r.record_type == "A" && r.alias.is_some() && r.name.eq_ignore_ascii_case(&name))
                || (r.record_type == "CNAME"
                    && r.name.starts_with('_')
                    && r.name
                        .to_ascii_lowercase()
                        .ends_with(&format!(".{}", name.to_ascii_lowercase()))
                    && r.values.iter().any(|v| v.contains("acm-validations")));
        if ours {
            let z = zone.clone().unwrap_or_default();
            delete_if(
                ctx,
                Some(true),
                "route53 record",
                &format!("{} {}", r.name, r.record_type),
                || {
                    let change = ctx.write(|aws| aws.route53().delete_record(&z, &r))?;
                    {
                        let wait = Wait::dns_change();
                        ctx.write(|aws| aws.route53().wait_insync(&change, &wait))
                    }
                },
            )?;
        }
    }
    Ok(())
}

fn delete_bucket(ctx: &Context, name: &Dynamic) -> Result<(), Error> {
    let name = text("s3_delete_bucket", "name", name)?;
    let state = match &name {
        Some(n) => ctx.read(|aws| aws.s3().find_bucket(n))?,
        None => None,
    };
    let exists = state.map(|s| matches!(s, BucketState::Owned { .. }));
    delete_if(ctx, exists, "s3 bucket", &shown(&name), || {
        ctx.write(|aws| {
            aws.s3()
                .delete_bucket_and_versions(name.as_deref().unwrap_or_default())
        })
        .map(|_| ())
    })
}

fn delete_hosted_zone(ctx: &Context, name: &str) -> Result<(), Error> {
    let found = ctx.read(|aws| aws.route53().find_public_zone(name))?;
    let id = found.clone().flatten().map(|z| z.id);
    delete_if(
        ctx,
        found.map(|z| z.is_some()),
        "route53 hosted zone",
        &fqdn(name),
        || ctx.write(|aws| aws.route53().delete_zone(id.as_deref().unwrap_or_default())),
    )
}

#[cfg(test)]
mod tests {
    use super::bucket_name_problem;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["trust-store-123456789012", "my.bucket-1", "abc"] {
            assert_eq!(bucket_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            "Not_A_Bucket",
            "-lead",
            "trail-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            &"a".repeat(64),
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }
}

//! Adoption (issue 20): what a walkthrough done by hand made becomes mtls's own, without
//! downtime. Like Terraform's `import`, nothing is made again: each resource is found from
//! the custom domain outward and tagged as mtls tags what it makes, after which setup's own
//! steps find it (by those tags) and change only what differs from what setup makes.
//!
//! - `adopt_find` reads (it needs AWS: an offline plan cannot adopt) and refuses, before
//!   anything changes, what cannot be taken over safely: a resource tagged for another
//!   domain, an API other domains map too, and anything setup could only reach with downtime;
//! - `adopt_resources` records one `adopt` action per resource (tagging it in a live run);
//! - `adopted_settings` gives later runs (setup, teardown) what adoption kept as it was and
//!   recorded on the domain's tags: the truststore object and the stage.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use super::lock::hold_domain;
use super::{map, tags, TAG_DOMAIN, TAG_ROLE};
use crate::aws::apigateway::{DomainName, RestApi, ROOT_BASE_PATH};
use crate::aws::Tags;
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::pki::{ParsedCert, Truststore};
use crate::reconcile::Observed;
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

/// The domain tag that records the truststore object the domain uses (`s3://bucket/key`),
/// kept where the user put it (the article's `RootCA.pem` at the bucket's root).
const TAG_TRUSTSTORE: &str = "mtls:truststore";
/// The domain tag that records the stage its root mapping serves.
const TAG_STAGE: &str = "mtls:stage";

/// The path every PetStore definition has (setup fills an API without it, replacing what
/// it serves: adoption refuses such an API instead).
const PETSTORE_PATH: &str = "/pets";

/// The rollover commands that replace a CA without downtime (docs/rollover.md).
fn rollover_commands(domain: &str) -> String {
    format!(
        "mtls run rollover.rhai --var domain={domain} --var phase=add, then --var phase=switch, then --var phase=retire (docs/rollover.md)"
    )
}

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "adopt_find", "adopt_find(domain: string, files: map) -> map", "Adoption, first half (read-only): finds what exists for `domain` from the custom domain outward (its root mapping, API and stage, certificates, truststore object, the Route 53 records) and refuses, before any change, what cannot be taken over without downtime or from another domain. `files`: #{ root, intermediate, client, server } (the certificate files setup keeps). Needs AWS: an offline plan is an error. Returns the map adopt_resources takes.", |c, domain: &str, files: Map| -> Map { find(c, domain, &files) });
    bound!(reg, ctx, "adopt_resources", "adopt_resources(found: map) -> map", "Adoption, second half: one `adopt` action per resource adopt_find found (a live run tags it with mtls's tags; nothing is made or deleted). Returns #{ adopted }.", |c, found: Map| -> Map { adopt(c, &found) });
    bound!(reg, ctx, "adopted_settings", "adopted_settings(domain: string) -> map", "What an adoption recorded on the custom domain mtls holds for `domain`: #{ bucket, truststore_key, stage }, each () when not recorded (and all () in an offline plan).", |c, domain: &str| -> Map { settings(c, domain) });
}

/// An offline plan reads nothing, and adoption is made of reads: it says so, never guesses.
const OFFLINE: &str = "offline plan: adoption finds what exists only with --refresh";

fn offline_help(domain: &str) -> String {
    format!("adoption finds what exists on AWS, and an offline plan reads nothing: see what it adopts and changes with mtls plan setup.rhai --var domain={domain} --var adopt=true --refresh")
}

/// A read that must have happened did not (adoption checked it was online): a bug.
fn offline(domain: &str) -> Error {
    Error::internal(
        format!("adopt what exists for {domain}"),
        "AWS could not be read",
    )
}

/// A refusal: nothing was changed, and the message names the resource and why.
fn refuse(resource: &str, why: impl std::fmt::Display, help: impl Into<String>) -> Error {
    Error::invalid_argument(
        "adopt_find",
        "adopt",
        format!("cannot adopt {resource}: {why}; nothing was changed"),
        help,
    )
}

/// Runs a read that must happen (adoption has checked it is online).
fn must_read<'a, T, F>(
    ctx: &'a Context,
    domain: &str,
    call: impl FnOnce(&'a crate::aws::Aws) -> F,
) -> Result<T, Error>
where
    F: std::future::Future<Output = Result<T, crate::aws::AwsError>> + 'a,
{
    let read = ctx.observe(|aws| {
        let call = call(aws);
        async move { call.await.map(Some) }
    })?;
    match read {
        Observed::Present(t) => Ok(t),
        _ => Err(offline(domain)),
    }
}

/// Whether AWS may be read in this run (a live run, `plan --refresh`): asked through the
/// one read there is, which makes no call.
fn online(ctx: &Context) -> Result<bool, Error> {
    Ok(ctx.observe(|_| async { Ok(Some(())) })?.looked_up())
}

/// Who a resource's tags say it belongs to: nobody (made by hand), this domain (mtls's
/// already), or another domain (a refusal).
fn owner(tags: &Tags) -> Option<&str> {
    tags.get(TAG_DOMAIN).map(String::as_str)
}

fn refuse_other_owner(resource: &str, tags: &Tags, domain: &str) -> Result<bool, Error> {
    match owner(tags) {
        None => Ok(false),
        Some(d) if d == domain => Ok(true),
        Some(other) => Err(refuse(
            resource,
            format!("it is tagged {TAG_DOMAIN}={other}: it belongs to the mtls setup of {other}"),
            format!("adopt it from that domain's setup, or remove the tag if {other} no longer uses it (mtls run teardown.rhai --var domain={other})"),
        )),
    }
}

fn find(ctx: &Context, domain: &str, files: &Map) -> Result<Map, Error> {
    super::check_domain("adopt_find", domain)?;
    let file = |k: &str| files.get(k).map(|v| v.to_string());
    let (root_file, inca_file) = (file("root"), file("intermediate"));
    let leaves: Vec<String> = ["client", "server"]
        .iter()
        .filter_map(|k| file(k))
        .collect();
    // Local files the later steps would refuse are named first, offline too: what runs in AWS stays.
    if let Some(inca) = &inca_file {
        refuse_v1_files(ctx, domain, inca, &leaves)?;
    }
    hold_domain(ctx, domain)?;
    if !online(ctx)? {
        // Not looked up: nothing is guessed; adopt_resources says what --refresh would read.
        return Ok(map(vec![
            ("domain", domain.into()),
            ("offline", true.into()),
        ]));
    }
    let d = must_read(ctx, domain, |aws| aws.apigateway().domain_name(domain))?.ok_or_else(|| {
        refuse(
            &format!("the custom domain {domain}"),
            "API Gateway has no custom domain of that name in this account and region",
            format!("check --region and the account; to make it anew, run setup without --var adopt: mtls run setup.rhai --var domain={domain}"),
        )
    })?;
    let domain_owned = refuse_other_owner(&format!("the custom domain {domain}"), &d.tags, domain)?;
    refuse_downtime(domain, &d)?;
    let (api, stage) = find_api(ctx, domain)?;
    let certificate = match &d.regional_certificate_arn {
        Some(arn) => Some((arn.clone(), find_server_cert(ctx, domain, arn)?)),
        None => None,
    };
    let ownership = match &d.ownership_verification_certificate_arn {
        Some(arn) => {
            let t = must_read(ctx, domain, |aws| aws.acm().tags(arn))?;
            let what = format!("the ownership verification certificate {arn}");
            Some((arn.clone(), refuse_other_owner(&what, &t, domain)?))
        }
        None => None,
    };
    let truststore = match (&d.truststore_uri, &root_file) {
        (Some(uri), Some(root)) => Some(find_truststore(ctx, domain, uri, &d, root)?),
        (Some(uri), None) => Some(split_uri(uri)?),
        (None, _) => None,
    };
    let records = find_records(ctx, domain, &d)?;
    let text = |v: Option<String>| v.map_or(Dynamic::UNIT, Dynamic::from);
    let (bucket, key) = truststore.unzip();
    Ok(map(vec![
        ("domain", domain.into()),
        ("domain_owned", domain_owned.into()),
        ("regional_domain_name", text(d.regional_domain_name.clone())),
        ("api_id", text(api.as_ref().map(|a| a.id.clone()))),
        ("api_name", text(api.as_ref().map(|a| a.name.clone()))),
        (
            "api_owned",
            api.as_ref()
                .is_some_and(|a| owner(&a.tags).is_some())
                .into(),
        ),
        ("stage", text(stage)),
        (
            "certificate_arn",
            text(certificate.as_ref().map(|c| c.0.clone())),
        ),
        ("certificate_owned", certificate.is_some_and(|c| c.1).into()),
        (
            "ownership_arn",
            text(ownership.as_ref().map(|c| c.0.clone())),
        ),
        ("ownership_owned", ownership.is_some_and(|c| c.1).into()),
        ("bucket", text(bucket)),
        ("truststore_key", text(key)),
        ("truststore_version", text(d.truststore_version.clone())),
        ("records", records.into()),
    ]))
}

/// What setup can only reach from this domain by making it again, which changes its
/// regional name, so DNS and every client would have to follow: refused (API Gateway
/// developer guide, rest-api-mutual-tls: mutual TLS needs a REGIONAL custom domain with the
/// TLS 1.2 security policy).
fn refuse_downtime(domain: &str, d: &DomainName) -> Result<(), Error> {
    let resource = format!("the custom domain {domain}");
    if !d.endpoint_types.iter().any(|t| t == "REGIONAL") {
        return Err(refuse(
            &resource,
            format!(
                "it is a {} endpoint, and mutual TLS needs a REGIONAL one: setup would have to make it again, which gives it another regional name (downtime until DNS and clients follow)",
                d.endpoint_types.join("/")
            ),
            "move it to a REGIONAL endpoint yourself when a downtime is acceptable, then adopt it",
        ));
    }
    if d.security_policy.as_deref().is_some_and(|p| p != "TLS_1_2") {
        return Err(refuse(
            &resource,
            format!(
                "its security policy is {}, and mutual TLS needs TLS_1_2 (setup does not change a domain's policy)",
                d.security_policy.as_deref().unwrap_or_default()
            ),
            format!("set it in place first (no new regional name): aws apigateway update-domain-name --domain-name {domain} --patch-operations op=replace,path=/securityPolicy,value=TLS_1_2"),
        ));
    }
    Ok(())
}

/// The API and stage the domain's root serves, refused when another domain maps it too
/// (teardown of one would take it from the other) or when it is not the PetStore sample
/// (setup would replace what it serves).
fn find_api(ctx: &Context, domain: &str) -> Result<(Option<RestApi>, Option<String>), Error> {
    let mappings = must_read(ctx, domain, |aws| {
        aws.apigateway().base_path_mappings(domain)
    })?;
    let Some(root) = mappings.iter().find(|m| m.base_path == ROOT_BASE_PATH) else {
        return Ok((None, None));
    };
    let id = root.rest_api_id.clone();
    let resource = format!("the REST API {id}");
    let api = must_read(ctx, domain, |aws| aws.apigateway().rest_api(&id))?.ok_or_else(|| {
        refuse(
            &resource,
            format!("{domain} maps it, but it does not exist"),
            "remove that mapping, then adopt",
        )
    })?;
    let resource = format!("the REST API {} ({id})", api.name);
    refuse_other_owner(&resource, &api.tags, domain)?;
    let others: Vec<String> = must_read(ctx, domain, |aws| async move {
        let mut others = Vec::new();
        for name in aws.apigateway().domain_names().await? {
            if name == domain {
                continue;
            }
            let maps = aws.apigateway().base_path_mappings(&name).await?;
            if maps.iter().any(|m| m.rest_api_id == id) {
                others.push(name);
            }
        }
        Ok(others)
    })?;
    if !others.is_empty() {
        return Err(refuse(
            &resource,
            format!("other custom domains map it too ({}): mtls keeps one API per domain, and tearing {domain} down would delete it under them", others.join(", ")),
            format!("map {domain} to an API of its own first (aws apigateway update-base-path-mapping), then adopt"),
        ));
    }
    let paths = must_read(ctx, domain, |aws| aws.apigateway().resource_paths(&api.id))?;
    if !paths.iter().any(|p| p == PETSTORE_PATH) {
        return Err(refuse(
            &resource,
            format!("it has no {PETSTORE_PATH}: it is not the walkthrough's PetStore sample, and setup would replace its definition with the sample"),
            "adopt only a domain that serves the walkthrough's API, or copy setup.rhai (mtls init) and leave out its API steps",
        ));
    }
    Ok((Some(api), root.stage.clone()))
}

/// The certificate the domain presents: adopted when it was imported (and working) as it
/// is, with a warning when its chain holds an X.509 v1 CA, as the article's recipe makes.
/// Returns whether mtls holds it already (tagged for this domain).
fn find_server_cert(ctx: &Context, domain: &str, arn: &str) -> Result<bool, Error> {
    let resource = format!("the server certificate {arn}");
    let t = must_read(ctx, domain, |aws| aws.acm().tags(arn))?;
    let owned = refuse_other_owner(&resource, &t, domain)?;
    let info = must_read(ctx, domain, |aws| aws.acm().describe(arn))?;
    if info.kind != crate::aws::acm::CertificateKind::Imported {
        return Err(refuse(
            &resource,
            "ACM issued it, and setup presents a certificate of your own CA: moving the domain to one would change the CA clients must trust (downtime for clients that only trust the public one)",
            "adopt only a domain that presents an imported certificate",
        ));
    }
    let pem = must_read(ctx, domain, |aws| aws.acm().certificate_pem(arn))?;
    let v1: Vec<String> = pem
        .chain
        .iter()
        .flat_map(|c| ParsedCert::all_from_pem(arn, c).unwrap_or_default())
        .filter(is_v1)
        .filter_map(|c| c.info().ok().map(|i| i.subject))
        .collect();
    if !v1.is_empty() {
        let text = format!(
            "the server certificate in ACM ({arn}) chains through an X.509 v1 CA ({}), as the article's openssl recipe makes: kept as it is, since clients use it; OpenSSL 3 refuses such chains, so replace it without downtime: {}",
            v1.join(", "),
            rollover_commands(domain)
        );
        if ctx.effects.warn(&text) {
            ctx.notice(&format!("warning: {text}"));
        }
    }
    Ok(owned)
}

/// `s3://bucket/key` as bucket and key.
fn split_uri(uri: &str) -> Result<(String, String), Error> {
    uri.strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .map(|(b, k)| (b.to_string(), k.to_string()))
        .ok_or_else(|| {
            refuse(
                &format!("the truststore {uri}"),
                "it is not an s3://bucket/key URI",
                "point the domain at its truststore object, then adopt",
            )
        })
}

/// The truststore object the domain uses, as it is (bucket and key included): adopted only
/// when the local CA file holds the same certificates. Setup uploads that file to the
/// object: another CA there would cut off every client of the CAs the domain trusts now.
fn find_truststore(
    ctx: &Context,
    domain: &str,
    uri: &str,
    d: &DomainName,
    root_file: &str,
) -> Result<(String, String), Error> {
    let (bucket, key) = split_uri(uri)?;
    let resource = format!("the truststore {uri}");
    let theirs = super::rollover::read_truststore_object(
        ctx,
        &bucket,
        &key,
        d.truststore_version.as_deref(),
    )?;
    let theirs = match theirs {
        Observed::Present(t) => t,
        Observed::NotLookedUp => return Err(offline(domain)),
        Observed::Absent => {
            return Err(refuse(
                &resource,
                "the domain names an object (or version) that S3 does not have",
                "upload it again and point the domain at its version, then adopt",
            ))
        }
    };
    let keep_pki = format!("copy the CA file the domain was set up with into this folder as {root_file} (with its key), then adopt; to move to another CA, adopt first, then {}", rollover_commands(domain));
    if !ctx.workdir.exists(root_file)? {
        return Err(refuse(
            &resource,
            format!("{root_file} is not in this folder, so setup would make a new CA and upload it there: every client certificate the domain accepts now would be refused"),
            keep_pki,
        ));
    }
    let ours = Truststore::from_pem(root_file, &ctx.workdir.read_public(root_file)?)?;
    if ours.to_pem() != theirs.to_pem() {
        return Err(refuse(
            &resource,
            format!("it holds other certificates than {root_file}, and setup would upload {root_file} over them: clients of the CAs the domain trusts now would be refused"),
            keep_pki,
        ));
    }
    Ok((bucket, key))
}

/// The Route 53 records of the domain in the closest public zone: the alias to the
/// regional name and the ownership certificate's validation CNAME (Route 53 records carry
/// no tags: setup and teardown know them by name and value).
fn find_records(ctx: &Context, domain: &str, d: &DomainName) -> Result<rhai::Array, Error> {
    let Some(zone) = must_read(ctx, domain, |aws| {
        aws.route53().find_closest_public_zone(domain)
    })?
    else {
        return Ok(rhai::Array::new());
    };
    let records = must_read(ctx, domain, |aws| aws.route53().records(&zone.id))?;
    let validation = match &d.ownership_verification_certificate_arn {
        Some(arn) => must_read(ctx, domain, |aws| aws.acm().describe(arn))?.validation_cname,
        None => None,
    };
    let fqdn = crate::aws::route53::fqdn(domain);
    let regional = d
        .regional_domain_name
        .as_deref()
        .map(crate::aws::route53::fqdn);
    let mut found = rhai::Array::new();
    for r in &records {
        let alias = r.record_type == "A"
            && r.name.eq_ignore_ascii_case(&fqdn)
            && r.alias
                .as_ref()
                .map(|a| crate::aws::route53::fqdn(&a.dns_name))
                == regional;
        let cname = r.record_type == "CNAME"
            && validation
                .as_ref()
                .is_some_and(|v| crate::aws::route53::fqdn(&v.name).eq_ignore_ascii_case(&r.name));
        if alias || cname {
            let what = if alias {
                "alias to the regional name"
            } else {
                "ownership validation CNAME"
            };
            found.push(Dynamic::from(map(vec![
                (
                    "target",
                    format!("{} {} in {}", r.name, r.record_type, zone.name).into(),
                ),
                ("what", what.into()),
            ])));
        }
    }
    Ok(found)
}

/// Whether a certificate is X.509 v1 (no extensions at all: no basicConstraints).
fn is_v1(cert: &ParsedCert) -> bool {
    x509_parser::parse_x509_certificate(&cert.der)
        .is_ok_and(|(_, c)| c.version() == x509_parser::x509::X509Version::V1)
}

/// The article's intermediate is X.509 v1 (`openssl x509 -req` without extensions, OpenSSL
/// 3): no basicConstraints, so OpenSSL refuses every chain through it ("invalid CA
/// certificate") and setup cannot keep it. Named as the reason, with the way out; the
/// other files of the recipe (client, server) are v1 too and named with it.
fn refuse_v1_files(
    ctx: &Context,
    domain: &str,
    inca: &str,
    others: &[String],
) -> Result<(), Error> {
    let v1 = |path: &str| -> Result<bool, Error> {
        Ok(ctx.workdir.exists(path)?
            && is_v1(&ParsedCert::from_pem(
                path,
                &ctx.workdir.read_public(path)?,
            )?))
    };
    if !v1(inca)? {
        return Ok(());
    }
    let mut also = Vec::new();
    for path in others {
        if v1(path)? {
            also.push(path.as_str());
        }
    }
    let also = if also.is_empty() {
        String::new()
    } else {
        format!(" ({} are v1 too)", also.join(", "))
    };
    Err(Error::invalid_argument(
        "adopt_find",
        "adopt",
        format!("{inca} is an X.509 v1 certificate{also}, as the article's `openssl x509 -req` recipe makes it: it has no basicConstraints, so it is no CA to OpenSSL 3, which refuses every chain through it (\"invalid CA certificate\"), and setup cannot keep it; nothing was changed"),
        format!("what AWS serves now keeps working. Re-issue the v1 files as X.509 v3 from the same keys and names (openssl x509 -req ... -extfile FILE, with basicConstraints=critical,CA:TRUE,pathlen:0 for {inca}): chains stay valid, then adopt with --var keep_existing_pki=true; or move to a new CA without downtime: {}", rollover_commands(domain)),
    ))
}

/// The tags adoption puts on the domain: mtls's, and what it kept as it was.
fn domain_tags(domain: &str, found: &Map) -> Tags {
    let mut t = tags(domain, "domain");
    let get = |k: &str| {
        found
            .get(k)
            .filter(|v| v.is_string())
            .map(|v| v.to_string())
    };
    if let (Some(bucket), Some(key)) = (get("bucket"), get("truststore_key")) {
        t.insert(TAG_TRUSTSTORE.into(), format!("s3://{bucket}/{key}"));
    }
    if let Some(stage) = get("stage") {
        t.insert(TAG_STAGE.into(), stage);
    }
    t
}

/// One resource to adopt: what the plan shows, and the tagging that makes it mtls's.
struct Adoption {
    kind: Kind,
    target: String,
    reason: &'static str,
    args: Vec<(&'static str, String)>,
    tag: Tagging,
}

/// Where adoption's tags go (the service's own call), or nowhere (found by name).
enum Tagging {
    Domain(String),
    Api(String),
    Certificate(String),
    None,
}

const BY_HAND: &str = "made outside mtls: tagged as its own, kept as it is";

fn adoptions(found: &Map) -> Result<Vec<Adoption>, Error> {
    let get = |k: &str| {
        found
            .get(k)
            .filter(|v| v.is_string())
            .map(|v| v.to_string())
    };
    let flag = |k: &str| found.get(k).and_then(|v| v.as_bool().ok()).unwrap_or(false);
    let domain = get("domain").ok_or_else(|| {
        Error::invalid_argument(
            "adopt_resources",
            "found",
            "it has no domain",
            "pass the map adopt_find returns",
        )
    })?;
    let mut list = Vec::new();
    if !flag("domain_owned") {
        let mut args = vec![(
            "regional_domain_name",
            get("regional_domain_name").unwrap_or_default(),
        )];
        args.extend(
            domain_tags(&domain, found)
                .into_iter()
                .map(|(k, v)| (tag_arg(&k), v)),
        );
        list.push(Adoption {
            kind: Kind::ApiCustomDomain,
            target: domain.clone(),
            reason: BY_HAND,
            args,
            tag: Tagging::Domain(domain.clone()),
        });
    }
    if let (Some(id), false) = (get("api_id"), flag("api_owned")) {
        list.push(Adoption {
            kind: Kind::RestApi,
            target: get("api_name").unwrap_or_else(|| id.clone()),
            reason: BY_HAND,
            args: vec![
                ("id", id.clone()),
                ("stage", get("stage").unwrap_or_default()),
            ],
            tag: Tagging::Api(id),
        });
    }
    for (key, owned, role, what) in [
        (
            "certificate_arn",
            "certificate_owned",
            "server",
            "server certificate",
        ),
        (
            "ownership_arn",
            "ownership_owned",
            "ownership-verification",
            "ownership verification certificate",
        ),
    ] {
        if let (Some(arn), false) = (get(key), flag(owned)) {
            list.push(Adoption {
                kind: Kind::AcmCertificate,
                target: format!("{what} for {domain}"),
                reason: BY_HAND,
                args: vec![("arn", arn.clone()), ("role", role.to_string())],
                tag: Tagging::Certificate(arn),
            });
        }
    }
    // The truststore and the records are known through the domain: once it is mtls's,
    // they were adopted with it (a second adoption lists only what is still to take over).
    if flag("domain_owned") {
        return Ok(list);
    }
    if let (Some(bucket), Some(key)) = (get("bucket"), get("truststore_key")) {
        list.push(Adoption {
            kind: Kind::S3Object,
            target: format!("s3://{bucket}/{key}"),
            reason: "the domain's truststore, kept where it is; recorded on the domain, as S3 objects are found by key",
            args: vec![("version", get("truststore_version").unwrap_or_default())],
            tag: Tagging::None,
        });
    }
    for r in found
        .get("records")
        .and_then(|v| v.clone().try_cast::<rhai::Array>())
        .unwrap_or_default()
    {
        let Some(r) = r.try_cast::<Map>() else {
            continue;
        };
        let text = |k: &str| r.get(k).map(|v| v.to_string()).unwrap_or_default();
        list.push(Adoption {
            kind: Kind::Route53Record,
            target: text("target"),
            reason: "found by name and value: Route 53 records carry no tags",
            args: vec![("record", text("what"))],
            tag: Tagging::None,
        });
    }
    Ok(list)
}

/// `mtls:domain` is shown as the plan argument `tag mtls:domain`.
fn tag_arg(key: &str) -> &'static str {
    match key {
        TAG_DOMAIN => "tag mtls:domain",
        TAG_ROLE => "tag mtls:role",
        TAG_TRUSTSTORE => "tag mtls:truststore",
        TAG_STAGE => "tag mtls:stage",
        _ => "tag",
    }
}

/// What an offline plan shows: each kind of resource adoption may take over, not looked
/// up (a live run that follows checks each against these, as against offline creates).
fn offline_adoptions(ctx: &Context, domain: &str) -> Result<Map, Error> {
    let unknown = crate::effects::Unknown::TEXT;
    for (kind, target) in [
        (Kind::ApiCustomDomain, domain.to_string()),
        (Kind::RestApi, unknown.to_string()),
        (
            Kind::AcmCertificate,
            format!("server certificate for {domain}"),
        ),
        (
            Kind::AcmCertificate,
            format!("ownership verification certificate for {domain}"),
        ),
        (Kind::S3Object, unknown.to_string()),
        (Kind::Route53Record, unknown.to_string()),
    ] {
        ctx.effects
            .apply(Action::new(Op::Adopt, kind, target, OFFLINE), || Ok(()))?;
    }
    let text = offline_help(domain);
    if ctx.effects.warn(&text) {
        ctx.notice(&format!("warning: {text}"));
    }
    Ok(map(vec![(
        "adopted",
        Dynamic::from(crate::effects::Unknown),
    )]))
}

fn adopt(ctx: &Context, found: &Map) -> Result<Map, Error> {
    let domain = found
        .get("domain")
        .map(|v| v.to_string())
        .unwrap_or_default();
    super::check_domain("adopt_resources", &domain)?;
    hold_domain(ctx, &domain)?;
    if !online(ctx)? {
        return offline_adoptions(ctx, &domain);
    }
    let aws = ctx.aws_client()?;
    let list = adoptions(found)?;
    for a in &list {
        let (resource, tags) = match &a.tag {
            Tagging::Domain(name) => (name.clone(), domain_tags(&domain, found)),
            Tagging::Api(id) => (id.clone(), tags(&domain, "api")),
            Tagging::Certificate(arn) => {
                let role = a
                    .args
                    .iter()
                    .find(|(k, _)| *k == "role")
                    .map(|(_, v)| v.as_str())
                    .unwrap_or_default();
                (arn.clone(), tags(&domain, role))
            }
            Tagging::None => (String::new(), Tags::new()),
        };
        let action = a.args.iter().fold(
            Action::new(Op::Adopt, a.kind, &a.target, a.reason),
            |act, (k, v)| act.arg(k, v),
        );
        // API Gateway tags a resource by its ARN, made from its path.
        let path = match &a.tag {
            Tagging::Domain(name) => format!("/domainnames/{name}"),
            Tagging::Api(id) => format!("/restapis/{id}"),
            _ => String::new(),
        };
        ctx.effects.apply(action, || match &a.tag {
            Tagging::Domain(_) | Tagging::Api(_) => {
                ctx.write(|aws| aws.apigateway().tag_resource(&path, &tags))
            }
            Tagging::Certificate(arn) => ctx.write(|aws| aws.acm().add_tags(arn, &tags)),
            Tagging::None => Ok(()),
        })?;
        // The steps after this one find it by these tags, in a plan as in a run.
        if !resource.is_empty() {
            aws.adopted().add(&resource, &tags);
        }
    }
    Ok(map(vec![("adopted", (list.len() as i64).into())]))
}

fn settings(ctx: &Context, domain: &str) -> Result<Map, Error> {
    super::check_domain("adopted_settings", domain)?;
    let mut out = map(vec![
        ("bucket", Dynamic::UNIT),
        ("truststore_key", Dynamic::UNIT),
        ("stage", Dynamic::UNIT),
    ]);
    let Observed::Present(d) = ctx.observe(|aws| aws.apigateway().domain_name(domain))? else {
        return Ok(out);
    };
    if owner(&d.tags) != Some(domain) {
        return Ok(out);
    }
    if let Some((bucket, key)) = d.tags.get(TAG_TRUSTSTORE).and_then(|u| split_uri(u).ok()) {
        out.insert("bucket".into(), bucket.into());
        out.insert("truststore_key".into(), key.into());
    }
    if let Some(stage) = d.tags.get(TAG_STAGE) {
        out.insert("stage".into(), stage.clone().into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagged(domain: Option<&str>) -> Tags {
        let mut t = Tags::new();
        if let Some(d) = domain {
            t.insert(TAG_DOMAIN.into(), d.into());
        }
        t
    }

    #[test]
    fn a_resource_tagged_for_another_domain_is_refused_and_named() {
        assert!(!refuse_other_owner("x", &tagged(None), "api.example.com").unwrap());
        assert!(
            refuse_other_owner("x", &tagged(Some("api.example.com")), "api.example.com").unwrap()
        );
        let err = refuse_other_owner(
            "the REST API a1",
            &tagged(Some("www.example.com")),
            "api.example.com",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("cannot adopt the REST API a1"), "{err}");
    }

    #[test]
    fn truststore_uris_split_into_bucket_and_key_as_they_are() {
        assert_eq!(
            split_uri("s3://trust-store-1/RootCA.pem").unwrap(),
            ("trust-store-1".to_string(), "RootCA.pem".to_string())
        );
        assert_eq!(split_uri("s3://b/a/b.pem").unwrap().1, "a/b.pem");
        for bad in ["https://b/k", "s3://b", "s3:///k", "s3://b/"] {
            assert!(split_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_domain_records_what_adoption_kept_as_it_was() {
        let found = map(vec![
            ("bucket", "trust-store-1".into()),
            ("truststore_key", "RootCA.pem".into()),
            ("stage", "prod".into()),
        ]);
        let t = domain_tags("api.example.com", &found);
        assert_eq!(
            t.get(TAG_TRUSTSTORE).map(String::as_str),
            Some("s3://trust-store-1/RootCA.pem")
        );
        assert_eq!(t.get(TAG_STAGE).map(String::as_str), Some("prod"));
        assert_eq!(t.get(TAG_ROLE).map(String::as_str), Some("domain"));
        // Nothing recorded when mTLS was off (setup's defaults then apply).
        let none = domain_tags("api.example.com", &Map::new());
        assert!(!none.contains_key(TAG_TRUSTSTORE) && !none.contains_key(TAG_STAGE));
    }

    #[test]
    fn only_a_regional_tls_1_2_domain_is_adopted() {
        let d = |types: &[&str], policy: &str| DomainName {
            name: "api.example.com".into(),
            regional_domain_name: None,
            regional_hosted_zone_id: None,
            truststore_uri: None,
            truststore_version: None,
            truststore_warnings: Vec::new(),
            regional_certificate_arn: None,
            ownership_verification_certificate_arn: None,
            security_policy: Some(policy.into()),
            endpoint_types: types.iter().map(|t| t.to_string()).collect(),
            status: None,
            status_message: None,
            tags: Tags::new(),
        };
        assert!(refuse_downtime("api.example.com", &d(&["REGIONAL"], "TLS_1_2")).is_ok());
        let edge = refuse_downtime("api.example.com", &d(&["EDGE"], "TLS_1_2"))
            .unwrap_err()
            .to_string();
        assert!(
            edge.contains("EDGE endpoint") && edge.contains("another regional name"),
            "{edge}"
        );
        let old = refuse_downtime("api.example.com", &d(&["REGIONAL"], "TLS_1_0"))
            .unwrap_err()
            .to_string();
        assert!(old.contains("TLS_1_0"), "{old}");
    }
}

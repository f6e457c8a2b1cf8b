//! Adoption's second half (`adopt_resources`): one `adopt` action per resource found, each
//! tagged as mtls tags what it makes (nothing is made or deleted), and the domain tags that
//! record what adoption kept as it was, which `adopted_settings` reads back for later runs.

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{map, tags, TAG_DOMAIN, TAG_ROLE};
use super::find::split_uri;
use super::{online, owner};
use crate::aws::Tags;
use crate::effects::{Action, Kind, Op};
use crate::error::Error;
use crate::reconcile::Observed;
use crate::script::Context;

/// The domain tag that records the truststore object the domain uses (`s3://bucket/key`),
/// kept where the user put it (the article's `RootCA.pem` at the bucket's root).
const TAG_TRUSTSTORE: &str = "mtls:truststore";
/// The domain tag that records the stage its root mapping serves.
const TAG_STAGE: &str = "mtls:stage";

/// An offline plan reads nothing, and adoption is made of reads: it says so, never guesses.
const OFFLINE: &str = "offline plan: adoption finds what exists only with --refresh";

fn offline_help(domain: &str) -> String {
    format!("adoption finds what exists on AWS, and an offline plan reads nothing: see what it adopts and changes with mtls plan setup.rhai --var domain={domain} --var adopt=true --refresh")
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

pub(super) fn adopt(ctx: &Context, found: &Map) -> Result<Map, Error> {
    let domain = found
        .get("domain")
        .map(|v| v.to_string())
        .unwrap_or_default();
    super::super::check_domain("adopt_resources", &domain)?;
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

pub(super) fn settings(ctx: &Context, domain: &str) -> Result<Map, Error> {
    super::super::check_domain("adopted_settings", domain)?;
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
}

//! Steps 1, 8 and 14: the hosted zone, the validation CNAME and the alias record;
//! teardown's record and zone removal (only what mtls made).

use std::rc::Rc;

use rhai::{Array, Dynamic, Map};

use super::lock::{hold_domain, Scoped};
use super::{map, text, unknown_or};
use crate::aws::route53::{enclosing_names, fqdn, AliasTarget, HostedZone, RecordSet};
use crate::aws::Wait;
use crate::effects::{Action, Kind, Op, Unknown};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "route53_ensure_zone", "route53_ensure_zone(name: string) -> map", "Find or create the public Route 53 hosted zone `name`. Returns #{ id, name, name_servers, status }.", |c, name: Dynamic| -> Map { ensure_hosted_zone(c, &name) });
    bound!(reg, ctx, "route53_ensure_cname", "route53_ensure_cname(zone_id: string, name: string, value: string) -> map", "Create or update the CNAME record `name` -> `value` in the hosted zone. Returns #{ status }.", |c, zone: Dynamic, name: Dynamic, value: Dynamic| -> Map { ensure_record(c, &zone, &name, Target::Cname(value)) });
    bound!(reg, ctx, "route53_ensure_alias", "route53_ensure_alias(zone_id: string, name: string, target_dns: string, target_zone_id: string) -> map", "Create or update the alias A record `name` -> the API Gateway domain. Returns #{ status }.", |c, zone: Dynamic, name: Dynamic, dns: Dynamic, target_zone: Dynamic| -> Map { ensure_record(c, &zone, &name, Target::Alias(dns, target_zone)) });
    bound!(reg, ctx, "route53_ensure_zone_for", "route53_ensure_zone_for(domain: string) -> map", "The closest public hosted zone of the account that contains `domain` (the domain's own, else its parent's, ...), or a new zone named after the domain when there is none. Returns #{ id, name, name_servers, status }.", |c, domain: Dynamic| -> Map { ensure_zone_for(c, &domain) });
    bound!(reg, ctx, "route53_ensure_delegation", "route53_ensure_delegation(zone: map) -> map", "When the parent zone of `zone` (#{ id, name, name_servers }) is a public hosted zone of this account, make sure it delegates to `zone` (an NS record). Returns #{ parent, status }: parent is () when no parent zone is in the account (the registrar must delegate).", |c, zone: Map| -> Map { ensure_delegation(c, &zone) });
    bound!(reg, ctx, "route53_find_zone", "route53_find_zone(name: string) -> map", "The public hosted zone `name` as #{ id, name, name_servers }, or () when there is none (unknown offline).", |c, name: &str| -> Dynamic { find_hosted_zone(c, name, false) });
    bound!(reg, ctx, "route53_find_zone_for", "route53_find_zone_for(domain: string) -> map", "The closest public hosted zone that contains `domain` as #{ id, name, name_servers }, or () when there is none (unknown offline).", |c, domain: &str| -> Dynamic { find_hosted_zone(c, domain, true) });
    bound!(reg, ctx, "route53_delete_delegation", "route53_delete_delegation(name: string)", "Delete the NS record that delegates the zone `name` from its parent zone in this account, if there is one and it points at that zone.", |c, name: &str| -> () { delete_delegation(c, name) });
    bound!(
        reg,
        ctx,
        "route53_delete_records",
        "route53_delete_records(zone_id: string, domain: string)",
        "Delete the records mtls made for `domain`: its alias A record and ACM validation CNAMEs.",
        |c, zone: Dynamic, domain: &str| -> () { delete_records(c, &zone, domain) }
    );
    bound!(
        reg,
        ctx,
        "route53_delete_zone",
        "route53_delete_zone(name: string)",
        "Delete the public hosted zone (only its SOA and NS records may be left), if it exists.",
        |c, name: &str| -> () { delete_hosted_zone(c, name) }
    );
}

/// The hosted zone: kept when it exists, else created.
fn diff_zone(observed: &Observed<HostedZone>) -> Diff<()> {
    match observed {
        Observed::Present(_) => Diff::Keep("exists"),
        _ => Diff::Create,
    }
}

fn ensure_hosted_zone(ctx: &Context, name: &Dynamic) -> Result<Map, Error> {
    let f = "route53_ensure_zone";
    let name = text(f, "name", name)?
        .ok_or_else(|| Error::invalid_argument(f, "name", "unknown", "pass a domain name"))?;
    super::check_domain(f, &name)?;
    let _lock = Scoped::take(ctx, "zone", &name, &format!("the hosted zone {name}"))?;
    let observed = ctx.observe(|aws| aws.route53().find_public_zone(&name))?;
    ensure_named_zone(ctx, &name, observed)
}

/// The zone for `domain` when none is named: ACM validates through public DNS, so the
/// records go into the zone the world already resolves the domain through, the closest
/// existing one (`example.com.` for `api.example.com`); a new zone, named after the
/// domain, only when the account has none.
fn ensure_zone_for(ctx: &Context, domain: &Dynamic) -> Result<Map, Error> {
    let f = "route53_ensure_zone_for";
    let domain = text(f, "domain", domain)?
        .ok_or_else(|| Error::invalid_argument(f, "domain", "unknown", "pass a domain name"))?;
    super::check_domain(f, &domain)?;
    hold_domain(ctx, &domain)?;
    let _lock = Scoped::take(ctx, "zone", &domain, &format!("the hosted zone {domain}"))?;
    match ctx.observe(|aws| aws.route53().find_closest_public_zone(&domain))? {
        Observed::Present(zone) => {
            let reason = if zone.name.eq_ignore_ascii_case(&fqdn(&domain)) {
                "exists".to_string()
            } else {
                format!("exists: the closest zone that contains {domain}")
            };
            ctx.effects.keep(Action::new(
                Op::Keep,
                Kind::Route53HostedZone,
                &zone.name,
                reason,
            ));
            let name = zone.name.clone();
            Ok(zone_map(Some(zone), &name, Op::Keep))
        }
        observed => ensure_named_zone(ctx, &domain, observed),
    }
}

/// Finds (as `observed` says) or creates the public zone `name`.
fn ensure_named_zone(
    ctx: &Context,
    name: &str,
    observed: Observed<HostedZone>,
) -> Result<Map, Error> {
    let (op, created) = reconcile::apply(
        &ctx.effects,
        Kind::Route53HostedZone,
        &fqdn(name),
        &observed,
        &diff_zone(&observed),
        |a| a.arg("type", "public").arg_maybe("id", None::<String>),
        || ctx.write(|aws| aws.route53().create_zone(name)),
    )?;
    if let Some(z) = &created {
        ctx.effects.resolve(&fqdn(name), "id", &z.id);
    }
    let zone = created.or_else(|| observed.present().cloned());
    Ok(zone_map(zone, &fqdn(name), op))
}

/// What the zone primitives return: #{ id, name, name_servers, status }.
fn zone_map(zone: Option<HostedZone>, name: &str, op: Op) -> Map {
    map(vec![
        ("id", unknown_or(zone.as_ref().map(|z| z.id.clone()))),
        ("name", name.to_string().into()),
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
        ("status", op.name().into()),
    ])
}

/// The closest public zone strictly above the zone `name` (its parent's, ...).
fn read_parent_zone(ctx: &Context, name: &str) -> Result<Observed<HostedZone>, Error> {
    let above: Vec<String> = enclosing_names(name).into_iter().skip(1).collect();
    ctx.observe(|aws| async move {
        for candidate in &above {
            if let Some(zone) = aws.route53().find_public_zone(candidate).await? {
                return Ok(Some(zone));
            }
        }
        Ok(None)
    })
}

/// The NS record named `name` in `records`.
fn ns_record<'r>(records: &'r [RecordSet], name: &str) -> Option<&'r RecordSet> {
    records
        .iter()
        .find(|r| r.record_type == "NS" && r.name.eq_ignore_ascii_case(&fqdn(name)))
}

/// Name servers compared as Route 53 may spell them: any case, with or without the dot.
fn same_servers(a: &[String], b: &[String]) -> bool {
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v.iter().map(|s| fqdn(s).to_ascii_lowercase()).collect();
        v.sort();
        v
    };
    norm(a) == norm(b)
}

/// The delegation of a zone from its parent: kept when the parent's NS record names the
/// zone's servers; created when there is none; a record that names other servers belongs
/// to another zone (or another DNS provider) and is never replaced.
fn diff_delegation(
    zone: &str,
    parent: &str,
    servers: &[String],
    observed: &Observed<RecordSet>,
) -> Result<Diff<()>, Error> {
    match observed {
        Observed::Present(r) if same_servers(&r.values, servers) => {
            Ok(Diff::Keep("delegates to this zone"))
        }
        Observed::Present(r) => Err(Error::invalid_argument(
            "route53_ensure_delegation",
            "zone",
            format!(
                "the parent zone {parent} delegates {zone} to {}, not to the name servers of this zone",
                r.values.join(", ")
            ),
            "ACM and clients follow that delegation: point it at this zone's name servers, or put the domain in the zone it delegates to with --var zone=NAME",
        )),
        _ => Ok(Diff::Create),
    }
}

fn ensure_delegation(ctx: &Context, zone: &Map) -> Result<Map, Error> {
    let f = "route53_ensure_delegation";
    let get = |k: &str| -> Result<Option<String>, Error> {
        match zone.get(k) {
            Some(v) => text(f, k, v),
            None => Err(Error::invalid_argument(
                f,
                k,
                "missing",
                "pass the map route53_ensure_zone returns",
            )),
        }
    };
    let (name, id) = (get("name")?, get("id")?);
    let servers: Option<Vec<String>> = zone
        .get("name_servers")
        .and_then(|v| v.clone().try_cast::<Array>())
        .map(|a| a.into_iter().map(|s| s.to_string()).collect());
    let unknown = || {
        map(vec![
            ("parent", Dynamic::from(Unknown)),
            ("status", "unknown".into()),
        ])
    };
    let (Some(name), Some(_), Some(servers)) = (name.clone(), id, servers) else {
        plan_unseen_delegation(ctx, name.as_deref())?;
        return Ok(unknown());
    };
    let parent = match read_parent_zone(ctx, &name)? {
        Observed::NotLookedUp => {
            plan_unseen_delegation(ctx, Some(&name))?;
            return Ok(unknown());
        }
        Observed::Absent => {
            return Ok(map(vec![
                ("parent", Dynamic::UNIT),
                ("status", "none".into()),
            ]))
        }
        Observed::Present(p) => p,
    };
    let observed = ctx
        .observe(|aws| async { aws.route53().records(&parent.id).await.map(Some) })?
        .and_then(|records| ns_record(&records, &name).cloned());
    let diff = diff_delegation(&name, &parent.name, &servers, &observed)?;
    let label = format!("{} NS in {}", fqdn(&name), parent.name);
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::Route53Record,
        &label,
        &observed,
        &diff,
        |a| a.arg("zone", &parent.id).arg("value", servers.join(", ")),
        || {
            let change = ctx.write(|aws| {
                aws.route53()
                    .upsert_ns(&parent.id, &name, &servers, 172_800)
            })?;
            let wait = Wait::dns_change();
            ctx.write(|aws| aws.route53().wait_insync(&change, &wait))
        },
    )?;
    Ok(map(vec![
        ("parent", parent.name.into()),
        ("status", op.name().into()),
    ]))
}

/// A plan that cannot look up the parent zone (offline, or a zone this run makes) shows
/// the NS record a run makes when this account holds one: a plan shows every change its
/// run may make, and a confirmed run sends no AWS change its plan did not show. Only a
/// plan gets here (a live run knows the zone), so its work is never done.
fn plan_unseen_delegation(ctx: &Context, name: Option<&str>) -> Result<(), Error> {
    let name = name.map_or_else(|| Unknown::TEXT.to_string(), fqdn);
    let action = Action::new(
        Op::Create,
        Kind::Route53Record,
        format!("{name} NS in {}", Unknown::TEXT),
        "plan: made if this account holds a parent zone",
    );
    ctx.effects.apply(action, || -> Result<(), Error> {
        Err(Error::internal(
            "delegate a hosted zone",
            "the zone was still unknown in a live run",
        ))
    })?;
    Ok(())
}

fn delete_delegation(ctx: &Context, name: &str) -> Result<(), Error> {
    super::check_domain("route53_delete_delegation", name)?;
    let zone = ctx.observe(|aws| aws.route53().find_public_zone(name))?;
    let parent = read_parent_zone(ctx, name)?;
    // Only an NS record in the parent that names this zone's servers is this delegation.
    let observed = match (zone, parent) {
        (Observed::Present(zone), Observed::Present(parent)) => ctx
            .observe(|aws| async { aws.route53().records(&parent.id).await.map(Some) })?
            .and_then(|records| {
                ns_record(&records, name)
                    .filter(|r| same_servers(&r.values, &zone.name_servers))
                    .cloned()
            })
            .map(|record| (parent, record)),
        (Observed::NotLookedUp, _) | (_, Observed::NotLookedUp) => Observed::NotLookedUp,
        _ => Observed::Absent,
    };
    // Offline, the parent is unknown: the target is the live one's with the parent
    // unknown (a confirmed run sends only what it showed).
    let parent_name = observed
        .present()
        .map_or_else(|| Unknown::TEXT.to_string(), |(p, _)| p.name.clone());
    let label = format!("{} NS in {parent_name}", fqdn(name));
    reconcile::delete(
        &ctx.effects,
        Kind::Route53Record,
        &label,
        &observed,
        |(parent, record)| {
            let change = ctx.write(|aws| aws.route53().delete_record(&parent.id, record))?;
            let wait = Wait::dns_change();
            ctx.write(|aws| aws.route53().wait_insync(&change, &wait))
        },
    )?;
    Ok(())
}

enum Target {
    Cname(Dynamic),
    Alias(Dynamic, Dynamic),
}

/// What a record must point at (`None`: not known yet, in a plan).
#[derive(Debug, Clone, PartialEq, Eq)]
enum WantedRecord {
    Cname(Known<String>),
    Alias {
        dns: Known<String>,
        zone: Known<String>,
    },
}

impl WantedRecord {
    fn record_type(&self) -> &'static str {
        match self {
            WantedRecord::Cname(_) => "CNAME",
            WantedRecord::Alias { .. } => "A",
        }
    }

    /// Whether `r` already points where this one must.
    fn matches(&self, r: &RecordSet) -> bool {
        match self {
            WantedRecord::Cname(value) => value.get().is_some_and(|v| {
                r.values.len() == 1 && fqdn(&r.values[0]).eq_ignore_ascii_case(&fqdn(v))
            }),
            WantedRecord::Alias { dns, zone } => r.alias.as_ref().is_some_and(|a| {
                dns.get()
                    .is_some_and(|d| fqdn(&a.dns_name).eq_ignore_ascii_case(&fqdn(d)))
                    && zone.as_deref() == Some(a.hosted_zone_id.as_str())
            }),
        }
    }
}

/// A record: kept when it points at the target; repointed when it is a CNAME mtls sets or
/// an alias to API Gateway; any other existing A record (a website, a CloudFront alias) is
/// never replaced: records carry no tags, so only an alias to API Gateway counts as ours.
fn diff_record(
    label: &str,
    wanted: &WantedRecord,
    observed: &Observed<RecordSet>,
) -> Result<Diff<()>, Error> {
    let r = match observed {
        Observed::Present(r) => r,
        _ => return Ok(Diff::Create),
    };
    if wanted.matches(r) {
        return Ok(Diff::Keep("exists, same target"));
    }
    if matches!(wanted, WantedRecord::Alias { .. }) && !is_api_gateway_alias(r) {
        let target = r
            .alias
            .as_ref()
            .map_or_else(|| r.values.join(", "), |a| a.dns_name.clone());
        return Err(Error::invalid_argument(
            "route53_ensure_alias",
            "name",
            format!("{label} already exists and points at {target}, which mtls did not set up"),
            "remove that record, or put the API on another name with --var domain=NAME",
        ));
    }
    Ok(Diff::Update(vec![Change {
        field: "target",
        patch: (),
    }]))
}

fn ensure_record(
    ctx: &Context,
    zone: &Dynamic,
    name: &Dynamic,
    target: Target,
) -> Result<Map, Error> {
    let f = "route53_ensure_record";
    let zone = Known::from(text(f, "zone_id", zone)?);
    let name = Known::from(text(f, "name", name)?);
    let wanted = match &target {
        Target::Cname(v) => WantedRecord::Cname(text(f, "value", v)?.into()),
        Target::Alias(dns, tz) => WantedRecord::Alias {
            dns: text(f, "target_dns", dns)?.into(),
            zone: text(f, "target_zone_id", tz)?.into(),
        },
    };
    let rtype = wanted.record_type();
    let label = format!(
        "{} {rtype}",
        name.as_deref()
            .map_or_else(|| Unknown::TEXT.to_string(), fqdn)
    );
    let observed = match (zone.get(), name.get()) {
        (Some(z), Some(n)) => {
            let wanted_name = fqdn(n);
            ctx.observe(|aws| async { aws.route53().records(z).await.map(Some) })?
                .and_then(|records| {
                    records.into_iter().find(|r| {
                        r.record_type == rtype && r.name.eq_ignore_ascii_case(&wanted_name)
                    })
                })
        }
        _ => Observed::NotLookedUp,
    };
    let diff = diff_record(&label, &wanted, &observed)?;
    let describe = |a: Action| {
        let a = a.arg_maybe("zone", zone.get());
        match &wanted {
            WantedRecord::Cname(v) => a.arg_maybe("value", v.as_deref().map(fqdn)),
            WantedRecord::Alias { dns, zone } => a
                .arg_maybe("alias", dns.get())
                .arg_maybe("alias_zone", zone.get()),
        }
    };
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::Route53Record,
        &label,
        &observed,
        &diff,
        describe,
        || {
            let zone = zone.known("the hosted zone id")?;
            let name = name.known("the record name")?;
            let change = match &wanted {
                WantedRecord::Cname(value) => {
                    let value = fqdn(value.known("the CNAME value")?);
                    ctx.write(|aws| aws.route53().upsert_cname(zone, name, &value, 300))?
                }
                WantedRecord::Alias { dns, zone: tz } => {
                    let t = AliasTarget {
                        dns_name: dns.known("the API Gateway domain name")?.clone(),
                        hosted_zone_id: tz.known("the API Gateway hosted zone id")?.clone(),
                        evaluate_target_health: false,
                    };
                    ctx.write(|aws| aws.route53().upsert_alias_a(zone, name, &t))?
                }
            };
            let wait = Wait::dns_change();
            ctx.write(|aws| aws.route53().wait_insync(&change, &wait))
        },
    )?;
    Ok(map(vec![("status", op.name().into())]))
}

/// `name`'s zone (`closest`: the closest one that contains `name`) as a script value.
fn find_hosted_zone(ctx: &Context, name: &str, closest: bool) -> Result<Dynamic, Error> {
    let function = if closest {
        "route53_find_zone_for"
    } else {
        "route53_find_zone"
    };
    super::check_domain(function, name)?;
    let found = ctx.observe(|aws| async move {
        if closest {
            aws.route53().find_closest_public_zone(name).await
        } else {
            aws.route53().find_public_zone(name).await
        }
    })?;
    Ok(match found {
        Observed::NotLookedUp => Dynamic::from(map(vec![
            ("id", Dynamic::from(Unknown)),
            ("name", fqdn(name).into()),
        ])),
        Observed::Absent => Dynamic::UNIT,
        Observed::Present(z) => Dynamic::from(map(vec![
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
    })
}

fn delete_records(ctx: &Context, zone: &Dynamic, domain: &str) -> Result<(), Error> {
    super::check_domain("route53_delete_records", domain)?;
    hold_domain(ctx, domain)?;
    let zone = text("route53_delete_records", "zone_id", zone)?;
    let records = match &zone {
        Some(z) => ctx.observe(|aws| async { aws.route53().records(z).await.map(Some) })?,
        None => Observed::NotLookedUp,
    };
    let name = fqdn(domain);
    let (Observed::Present(records), Some(zone)) = (records, zone) else {
        // Not looked up: the records are not known. Each is shown as a run names it (ACM's
        // CNAME with its `_x` label unknown): a confirmed run sends only what it showed.
        let unseen = Observed::<RecordSet>::NotLookedUp;
        for target in [
            format!("{name} A"),
            format!("_{}.{name} CNAME", Unknown::TEXT),
        ] {
            reconcile::delete(&ctx.effects, Kind::Route53Record, &target, &unseen, |_| {
                Ok(())
            })?;
        }
        return Ok(());
    };
    for r in records.into_iter().filter(|r| made_by_mtls(r, &name)) {
        let target = format!("{} {}", r.name, r.record_type);
        let found = Observed::Present(r);
        reconcile::delete(&ctx.effects, Kind::Route53Record, &target, &found, |r| {
            let change = ctx.write(|aws| aws.route53().delete_record(&zone, r))?;
            let wait = Wait::dns_change();
            ctx.write(|aws| aws.route53().wait_insync(&change, &wait))
        })?;
    }
    Ok(())
}

/// Whether `r` is a record mtls makes for the domain `name`: its alias A to API Gateway,
/// or one of ACM's `_x.domain` validation CNAMEs.
fn made_by_mtls(r: &RecordSet, name: &str) -> bool {
    (r.record_type == "A" && is_api_gateway_alias(r) && r.name.eq_ignore_ascii_case(name))
        || (r.record_type == "CNAME"
            && r.name.starts_with('_')
            && r.name
                .to_ascii_lowercase()
                .ends_with(&format!(".{}", name.to_ascii_lowercase()))
            && r.values.iter().any(|v| v.contains("acm-validations")))
}

fn delete_hosted_zone(ctx: &Context, name: &str) -> Result<(), Error> {
    super::check_domain("route53_delete_zone", name)?;
    let observed = ctx.observe(|aws| aws.route53().find_public_zone(name))?;
    reconcile::delete(
        &ctx.effects,
        Kind::Route53HostedZone,
        &fqdn(name),
        &observed,
        |zone| ctx.write(|aws| aws.route53().delete_zone(&zone.id)),
    )?;
    Ok(())
}

/// Whether a record is an alias to an API Gateway regional endpoint
/// (`d-xxxx.execute-api.REGION.amazonaws.com`), as step 14 makes.
fn is_api_gateway_alias(r: &RecordSet) -> bool {
    r.alias.as_ref().is_some_and(|a| {
        let dns = a.dns_name.trim_end_matches('.').to_ascii_lowercase();
        dns.contains(".execute-api.") && dns.ends_with(".amazonaws.com")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(rtype: &str, values: &[&str], alias: Option<(&str, &str)>) -> Observed<RecordSet> {
        Observed::Present(RecordSet {
            name: "api.example.com.".into(),
            record_type: rtype.into(),
            ttl: Some(300),
            values: values.iter().map(|v| v.to_string()).collect(),
            alias: alias.map(|(dns, zone)| AliasTarget {
                dns_name: dns.into(),
                hosted_zone_id: zone.into(),
                evaluate_target_health: false,
            }),
        })
    }

    const APIGW: &str = "d-1.execute-api.us-east-1.amazonaws.com";

    fn alias(dns: Option<&str>) -> WantedRecord {
        WantedRecord::Alias {
            dns: dns.map(str::to_string).into(),
            zone: Known::value("Z1".into()),
        }
    }

    #[test]
    fn record_diffs() {
        let diff =
            |w: &WantedRecord, o: &Observed<RecordSet>| diff_record("api.example.com. A", w, o);
        let keep = Diff::Keep("exists, same target");
        let update = Diff::Update(vec![Change {
            field: "target",
            patch: (),
        }]);
        // Alias: kept, created, repointed when ours, refused when someone else's.
        assert_eq!(
            diff(&alias(Some(APIGW)), &record("A", &[], Some((APIGW, "Z1")))).unwrap(),
            keep
        );
        assert_eq!(
            diff(&alias(Some(APIGW)), &Observed::Absent).unwrap(),
            Diff::Create
        );
        assert_eq!(
            diff(&alias(None), &Observed::NotLookedUp).unwrap(),
            Diff::Create
        );
        let other_gw = "d-2.execute-api.us-east-1.amazonaws.com";
        assert_eq!(
            diff(
                &alias(Some(APIGW)),
                &record("A", &[], Some((other_gw, "Z1")))
            )
            .unwrap(),
            update
        );
        assert!(diff(&alias(Some(APIGW)), &record("A", &["192.0.2.1"], None)).is_err());
        assert!(diff(
            &alias(Some(APIGW)),
            &record("A", &[], Some(("d1.cloudfront.net", "Z2")))
        )
        .is_err());
        // An unknown target in a plan is never "the same".
        assert_eq!(
            diff(&alias(None), &record("A", &[], Some((APIGW, "Z1")))).unwrap(),
            update
        );
        // CNAME: compared as fully qualified names, case-insensitively.
        let cname = WantedRecord::Cname(Known::value("_x.acm-validations.aws".into()));
        assert_eq!(
            diff(&cname, &record("CNAME", &["_X.acm-validations.aws."], None)).unwrap(),
            keep
        );
        assert_eq!(
            diff(&cname, &record("CNAME", &["_y.acm-validations.aws."], None)).unwrap(),
            update
        );
    }

    #[test]
    fn delegation_diffs() {
        let servers = vec![
            "ns-1.awsdns-1.com.".to_string(),
            "ns-2.awsdns-2.net".to_string(),
        ];
        let ns = |values: &[&str]| {
            Observed::Present(RecordSet {
                name: "api.example.com.".into(),
                record_type: "NS".into(),
                ttl: Some(172_800),
                values: values.iter().map(|v| v.to_string()).collect(),
                alias: None,
            })
        };
        let diff = |o: &Observed<RecordSet>| {
            diff_delegation("api.example.com", "example.com.", &servers, o)
        };
        assert_eq!(
            diff(&ns(&["NS-2.awsdns-2.net.", "ns-1.awsdns-1.com"])).unwrap(),
            Diff::Keep("delegates to this zone")
        );
        assert_eq!(diff(&Observed::Absent).unwrap(), Diff::Create);
        let err = diff(&ns(&["ns1.other-dns.example"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ns1.other-dns.example"), "{err}");
    }

    #[test]
    fn zone_diffs() {
        let zone = HostedZone {
            id: "Z1".into(),
            name: "example.com.".into(),
            name_servers: vec![],
        };
        assert_eq!(diff_zone(&Observed::Present(zone)), Diff::Keep("exists"));
        assert_eq!(diff_zone(&Observed::Absent), Diff::Create);
        assert_eq!(diff_zone(&Observed::NotLookedUp), Diff::Create);
    }
}

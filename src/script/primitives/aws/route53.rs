//! Steps 1, 8 and 14: the hosted zone, the validation CNAME and the alias record;
//! teardown's record and zone removal (only what mtls made).

use std::rc::Rc;

use rhai::{Array, Dynamic, Map};

use super::{delete_if, map, text, unknown_or, RhaiResult, OFFLINE};
use crate::aws::route53::{fqdn, AliasTarget, RecordSet};
use crate::aws::Wait;
use crate::effects::{Action, Op, Unknown};
use crate::error::Error;
use crate::script::error::fail;
use crate::script::primitives::{primitive, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    let c = ctx.clone();
    primitive!(reg, "route53_ensure_zone", "route53_ensure_zone(name: string) -> map",
        "Find or create the public Route 53 hosted zone `name`. Returns #{ id, name, name_servers, status }.",
        move |name: Dynamic| -> RhaiResult<Map> { ensure_hosted_zone(&c, &name).map_err(fail) });
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
    primitive!(reg, "route53_find_zone", "route53_find_zone(name: string) -> map",
        "The public hosted zone `name` as #{ id, name, name_servers }, or () when there is none (unknown offline).",
        move |name: &str| -> RhaiResult<Dynamic> { find_hosted_zone(&c, name).map_err(fail) });
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
        "route53_delete_zone",
        "route53_delete_zone(name: string)",
        "Delete the public hosted zone (only its SOA and NS records may be left), if it exists.",
        move |name: &str| -> RhaiResult<()> { delete_hosted_zone(&c, name).map_err(fail) }
    );
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
        ("status", op.name().into()),
    ]))
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
    // A record mtls did not make (a website's A record, a CloudFront alias) is never
    // replaced: records carry no tags, so only an alias to API Gateway counts as ours.
    if let (Some(r), Some(_)) = (&existing, &alias) {
        if !matches(r) && !is_api_gateway_alias(r) {
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
    }
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
    Ok(map(vec![("status", op.name().into())]))
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
        let ours = (r.record_type == "A"
            && is_api_gateway_alias(&r)
            && r.name.eq_ignore_ascii_case(&name))
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

/// Whether a record is an alias to an API Gateway regional endpoint
/// (`d-xxxx.execute-api.REGION.amazonaws.com`), as step 14 makes.
fn is_api_gateway_alias(r: &RecordSet) -> bool {
    r.alias.as_ref().is_some_and(|a| {
        let dns = a.dns_name.trim_end_matches('.').to_ascii_lowercase();
        dns.contains(".execute-api.") && dns.ends_with(".amazonaws.com")
    })
}

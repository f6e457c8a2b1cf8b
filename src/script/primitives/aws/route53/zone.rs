//! Step 1: the public hosted zone (named, or the closest one that contains the domain),
//! found or created; teardown's removal of it.

use rhai::{Array, Dynamic, Map};

use super::super::lock::{hold_domain, Scoped};
use super::super::{known_text, map, unknown_or};
use crate::aws::route53::{fqdn, HostedZone};
use crate::effects::{Kind, Op, Unknown};
use crate::error::Error;
use crate::reconcile::{self, Diff, Observed};
use crate::script::Context;

/// The hosted zone: kept when it exists, else created.
fn diff_zone(observed: &Observed<HostedZone>) -> Diff<()> {
    match observed {
        Observed::Present(_) => Diff::Keep("exists"),
        _ => Diff::Create,
    }
}

pub(super) fn ensure_hosted_zone(ctx: &Context, name: &Dynamic) -> Result<Map, Error> {
    let f = "route53_ensure_zone";
    let name = known_text(f, "name", name, "pass a domain name")?;
    super::super::check_domain(f, &name)?;
    let _lock = Scoped::take(ctx, "zone", &name, &format!("the hosted zone {name}"))?;
    let observed = ctx.observe(|aws| aws.route53().find_public_zone(&name))?;
    ensure_named_zone(ctx, &name, observed)
}

/// The zone for `domain` when none is named: ACM validates through public DNS, so the
/// records go into the zone the world already resolves the domain through, the closest
/// existing one (`example.com.` for `api.example.com`); a new zone, named after the
/// domain, only when the account has none.
pub(super) fn ensure_zone_for(ctx: &Context, domain: &Dynamic) -> Result<Map, Error> {
    let f = "route53_ensure_zone_for";
    let domain = known_text(f, "domain", domain, "pass a domain name")?;
    super::super::check_domain(f, &domain)?;
    hold_domain(ctx, &domain)?;
    let _lock = Scoped::take(ctx, "zone", &domain, &format!("the hosted zone {domain}"))?;
    let observed = ctx.observe(|aws| aws.route53().find_closest_public_zone(&domain))?;
    let Some(zone) = observed.present() else {
        return ensure_named_zone(ctx, &domain, observed);
    };
    let keep = Diff::<()>::Keep(if zone.name.eq_ignore_ascii_case(&fqdn(&domain)) {
        "exists"
    } else {
        "exists: the closest zone that contains the domain"
    });
    let kind = Kind::Route53HostedZone;
    reconcile::apply(
        &ctx.effects,
        kind,
        &zone.name,
        &observed,
        &keep,
        |a| a,
        || Ok(()),
    )?;
    Ok(zone_map(Some(zone.clone()), &zone.name, Op::Keep))
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

/// `name`'s zone (`closest`: the closest one that contains `name`) as a script value.
pub(super) fn find_hosted_zone(ctx: &Context, name: &str, closest: bool) -> Result<Dynamic, Error> {
    let function = if closest {
        "route53_find_zone_for"
    } else {
        "route53_find_zone"
    };
    super::super::check_domain(function, name)?;
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

pub(super) fn delete_hosted_zone(ctx: &Context, name: &str) -> Result<(), Error> {
    super::super::check_domain("route53_delete_zone", name)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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

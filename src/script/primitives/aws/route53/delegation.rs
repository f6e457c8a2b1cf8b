//! Step 1: the NS record in a parent zone of this account that delegates to the zone;
//! teardown's removal of it.

use rhai::{Array, Dynamic, Map};

use super::super::{map, text};
use crate::aws::route53::{enclosing_names, fqdn, HostedZone, RecordSet};
use crate::aws::Wait;
use crate::effects::{Action, Kind, Op, Unknown};
use crate::error::Error;
use crate::reconcile::{self, Diff, Known, Observed};
use crate::script::Context;

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

pub(super) fn ensure_delegation(ctx: &Context, zone: &Map) -> Result<Map, Error> {
    let f = "route53_ensure_delegation";
    let get = |k: &str| -> Result<Known<String>, Error> {
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
    let (Some(name), true, Some(servers)) = (name.get().cloned(), id.is_known(), servers) else {
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

pub(super) fn delete_delegation(ctx: &Context, name: &str) -> Result<(), Error> {
    super::super::check_domain("route53_delete_delegation", name)?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

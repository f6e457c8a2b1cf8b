//! Steps 8 and 14: the ACM validation CNAME and the alias A record to the API Gateway
//! domain; teardown's removal of the records mtls made.

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::{map, text};
use crate::aws::route53::{fqdn, AliasTarget, RecordSet};
use crate::aws::Wait;
use crate::effects::{Action, Kind, Unknown};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::Context;

/// The target a script passes: a CNAME's value, or an alias's DNS name and hosted zone.
pub(super) enum Target {
    Cname(Dynamic),
    Alias(Dynamic, Dynamic),
}

/// What a record must point at (values a plan may not know yet).
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

pub(super) fn ensure_record(
    ctx: &Context,
    zone: &Dynamic,
    name: &Dynamic,
    target: Target,
) -> Result<Map, Error> {
    let f = "route53_ensure_record";
    let zone = text(f, "zone_id", zone)?;
    let name = text(f, "name", name)?;
    let wanted = match &target {
        Target::Cname(v) => WantedRecord::Cname(text(f, "value", v)?),
        Target::Alias(dns, tz) => WantedRecord::Alias {
            dns: text(f, "target_dns", dns)?,
            zone: text(f, "target_zone_id", tz)?,
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

pub(super) fn delete_records(ctx: &Context, zone: &Dynamic, domain: &str) -> Result<(), Error> {
    super::super::check_domain("route53_delete_records", domain)?;
    hold_domain(ctx, domain)?;
    let zone = text("route53_delete_records", "zone_id", zone)?;
    // The zone's id travels with its records: the deletes below name the zone they read.
    let records = match zone.get() {
        Some(z) => ctx
            .observe(|aws| async { aws.route53().records(z).await.map(Some) })?
            .map(|records| (z.clone(), records)),
        None => Observed::NotLookedUp,
    };
    let name = fqdn(domain);
    let Observed::Present((zone, records)) = records else {
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
}

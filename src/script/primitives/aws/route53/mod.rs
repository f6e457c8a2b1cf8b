//! Route 53 for scripts: the hosted zone, its delegation from a parent zone, and the
//! records of the walkthrough; one file each, with its reads, diffs, changes and delete.

use std::rc::Rc;

use rhai::{Dynamic, Map};

use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

mod delegation;
mod records;
mod zone;

use delegation::{delete_delegation, ensure_delegation};
use records::{delete_records, ensure_record, Target};
use zone::{delete_hosted_zone, ensure_hosted_zone, ensure_zone_for, find_hosted_zone};

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

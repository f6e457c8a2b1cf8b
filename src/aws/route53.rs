//! Amazon Route 53: the public hosted zone (the walkthrough, step 1), the ACM validation CNAME
//! (step 8) and the alias `A` record to the API Gateway domain (step 14).
//!
//! Names are given with or without the final dot; Route 53 answers with it, and so do the
//! types here. Ids are bare (`Z0123...`, `C0456...`), without `/hostedzone/` or `/change/`.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_route53::types::{
    AliasTarget as SdkAliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord,
    ResourceRecordSet, RrType,
};

use super::wait::{poll, Poll};
use super::{AwsError, SdkResultExt, Wait};

const SERVICE: &str = "route53";

/// A hosted zone and the name servers to enter at the domain's registrar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedZone {
    /// The zone id, without `/hostedzone/`.
    pub id: String,
    /// The zone name, with the final dot.
    pub name: String,
    /// The delegation set (four `ns-*.awsdns-*` names).
    pub name_servers: Vec<String>,
}

/// Where an alias record points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasTarget {
    /// The target's DNS name (API Gateway's `regionalDomainName`).
    pub dns_name: String,
    /// The target's hosted zone id (API Gateway's `regionalHostedZoneId`), not the zone the
    /// record lives in.
    pub hosted_zone_id: String,
    /// Whether Route 53 checks the target's health.
    pub evaluate_target_health: bool,
}

/// A simple record set (no routing policy), as listed and as deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSet {
    /// The record name, with the final dot (Route 53 writes `*` as `\052`).
    pub name: String,
    /// `A`, `CNAME`, `NS`, `SOA`, ...
    pub record_type: String,
    /// TTL in seconds (none for alias records).
    pub ttl: Option<i64>,
    /// The values (none for alias records).
    pub values: Vec<String>,
    /// The alias target of an alias record.
    pub alias: Option<AliasTarget>,
}

/// A submitted change (`ChangeInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeId(pub String);

/// The Route 53 client.
#[derive(Debug, Clone)]
pub struct Route53 {
    client: aws_sdk_route53::Client,
}

impl Route53 {
    pub(crate) fn new(client: aws_sdk_route53::Client) -> Self {
        Route53 { client }
    }

    /// The public hosted zone named exactly `name` (`ListHostedZonesByName`, then
    /// `GetHostedZone` for its name servers); `None` when there is none. Private zones of the
    /// same name are skipped; two public ones are an error, since either could be delegated.
    pub async fn find_public_zone(&self, name: &str) -> Result<Option<HostedZone>, AwsError> {
        const OP: &str = "ListHostedZonesByName";
        let wanted = fqdn(name);
        let mut ids = Vec::new();
        let mut start_id: Option<String> = None;
        loop {
            let out = self
                .client
                .list_hosted_zones_by_name()
                .dns_name(&wanted)
                .set_hosted_zone_id(start_id.take())
                .send()
                .await
                .or_aws(SERVICE, OP)?;
            // Zones come sorted by name from `wanted` on, so the exact matches come first.
            let mut past = false;
            for zone in out.hosted_zones() {
                if !zone.name().eq_ignore_ascii_case(&wanted) {
                    past = true;
                    break;
                }
                if !zone.config().is_some_and(|c| c.private_zone()) {
                    ids.push(bare_id(zone.id()));
                }
            }
            if past || !out.is_truncated() {
                break;
            }
            match (out.next_dns_name(), out.next_hosted_zone_id()) {
                (Some(next), Some(id)) if next.eq_ignore_ascii_case(&wanted) => {
                    start_id = Some(id.to_string())
                }
                _ => break,
            }
        }
        match ids.as_slice() {
            [] => Ok(None),
            [id] => self.zone(id).await.map(Some),
            _ => Err(AwsError::local(
                SERVICE,
                OP,
                super::local_code::AMBIGUOUS,
                format!(
                    "{} public hosted zones are named {wanted}: {}; keep the one the registrar \
                     delegates to and delete the others",
                    ids.len(),
                    ids.join(", ")
                ),
            )),
        }
    }

    /// The closest public hosted zone that contains `name`: the zone named `name`, else its
    /// parent's, and so on up to a name of two labels (`example.com`); `None` when the
    /// account has none of them.
    pub async fn find_closest_public_zone(
        &self,
        name: &str,
    ) -> Result<Option<HostedZone>, AwsError> {
        for candidate in enclosing_names(name) {
            if let Some(zone) = self.find_public_zone(&candidate).await? {
                return Ok(Some(zone));
            }
        }
        Ok(None)
    }

    /// `CreateHostedZone` (public) with a fresh `CallerReference`.
    pub async fn create_zone(&self, name: &str) -> Result<HostedZone, AwsError> {
        const OP: &str = "CreateHostedZone";
        let request = self
            .client
            .create_hosted_zone()
            .name(fqdn(name))
            .caller_reference(caller_reference(name));
        // Sent once: a retry after a lost answer would be refused (the same caller
        // reference) or, where that is not checked, make a second zone of the name. Sent
        // again only after an answer that proves nothing was made (Throttling,
        // PriorRequestNotComplete), with the same caller reference.
        let out = super::wait::send_create(&format!("creating the hosted zone {name}"), || async {
            request
                .clone()
                .customize()
                .config_override(
                    aws_sdk_route53::config::Builder::default()
                        .retry_config(super::wait::no_retries()),
                )
                .send()
                .await
                .or_aws(SERVICE, OP)
        })
        .await?;
        let zone = out
            .hosted_zone()
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "HostedZone"))?;
        Ok(hosted_zone(zone, out.delegation_set()))
    }

    /// `GetHostedZone`: the zone and its delegation set.
    pub async fn zone(&self, zone_id: &str) -> Result<HostedZone, AwsError> {
        const OP: &str = "GetHostedZone";
        let out = self
            .client
            .get_hosted_zone()
            .id(zone_id)
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        let zone = out
            .hosted_zone()
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "HostedZone"))?;
        Ok(hosted_zone(zone, out.delegation_set()))
    }

    /// `ChangeResourceRecordSets` UPSERT of a CNAME record.
    pub async fn upsert_cname(
        &self,
        zone_id: &str,
        name: &str,
        value: &str,
        ttl: i64,
    ) -> Result<ChangeId, AwsError> {
        let record = RecordSet {
            name: fqdn(name),
            record_type: "CNAME".to_string(),
            ttl: Some(ttl),
            values: vec![value.to_string()],
            alias: None,
        };
        self.change(zone_id, ChangeAction::Upsert, &record).await
    }

    /// `ChangeResourceRecordSets` UPSERT of an alias `A` record pointing at `target`.
    pub async fn upsert_alias_a(
        &self,
        zone_id: &str,
        name: &str,
        target: &AliasTarget,
    ) -> Result<ChangeId, AwsError> {
        let record = RecordSet {
            name: fqdn(name),
            record_type: "A".to_string(),
            ttl: None,
            values: Vec::new(),
            alias: Some(target.clone()),
        };
        self.change(zone_id, ChangeAction::Upsert, &record).await
    }

    /// `ChangeResourceRecordSets` UPSERT of an `NS` record: the delegation of the zone
    /// `name` to `name_servers`, in its parent zone.
    pub async fn upsert_ns(
        &self,
        zone_id: &str,
        name: &str,
        name_servers: &[String],
        ttl: i64,
    ) -> Result<ChangeId, AwsError> {
        let record = RecordSet {
            name: fqdn(name),
            record_type: "NS".to_string(),
            ttl: Some(ttl),
            values: name_servers.to_vec(),
            alias: None,
        };
        self.change(zone_id, ChangeAction::Upsert, &record).await
    }

    /// `ChangeResourceRecordSets` DELETE. Route 53 deletes only an exact match of the current
    /// record, so pass one as [`Route53::records`] listed it.
    pub async fn delete_record(
        &self,
        zone_id: &str,
        record: &RecordSet,
    ) -> Result<ChangeId, AwsError> {
        self.change(zone_id, ChangeAction::Delete, record).await
    }

    /// `ListResourceRecordSets` (all pages).
    pub async fn records(&self, zone_id: &str) -> Result<Vec<RecordSet>, AwsError> {
        let mut records = Vec::new();
        let mut start: Option<(String, RrType, Option<String>)> = None;
        loop {
            let mut request = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(zone_id);
            if let Some((name, rr_type, identifier)) = start.take() {
                request = request
                    .start_record_name(name)
                    .start_record_type(rr_type)
                    .set_start_record_identifier(identifier);
            }
            let out = request
                .send()
                .await
                .or_aws(SERVICE, "ListResourceRecordSets")?;
            for r in out.resource_record_sets() {
                records.push(RecordSet {
                    name: r.name().to_string(),
                    record_type: r.r#type().as_str().to_string(),
                    ttl: r.ttl(),
                    values: r
                        .resource_records()
                        .iter()
                        .map(|v| v.value().to_string())
                        .collect(),
                    alias: r.alias_target().map(|a| AliasTarget {
                        dns_name: a.dns_name().to_string(),
                        hosted_zone_id: a.hosted_zone_id().to_string(),
                        evaluate_target_health: a.evaluate_target_health(),
                    }),
                });
            }
            if !out.is_truncated() {
                break;
            }
            match (out.next_record_name(), out.next_record_type()) {
                (Some(name), Some(rr_type)) => {
                    start = Some((
                        name.to_string(),
                        rr_type.clone(),
                        out.next_record_identifier().map(str::to_string),
                    ))
                }
                _ => break,
            }
        }
        Ok(records)
    }

    /// Polls `GetChange` until the change is `INSYNC` on all Route 53 name servers.
    pub async fn wait_insync(&self, change: &ChangeId, wait: &Wait) -> Result<(), AwsError> {
        const OP: &str = "GetChange";
        let what = format!("Route 53 change {}", change.0);
        poll(wait, SERVICE, OP, &what, || async {
            let out = self
                .client
                .get_change()
                .id(&change.0)
                .send()
                .await
                .or_aws(SERVICE, OP)?;
            let info = out
                .change_info()
                .ok_or_else(|| AwsError::missing(SERVICE, OP, "ChangeInfo"))?;
            Ok(match info.status() {
                ChangeStatus::Insync => Poll::Done(()),
                other => Poll::Pending(other.as_str().to_string()),
            })
        })
        .await
    }

    /// `DeleteHostedZone`; Route 53 refuses while records other than the apex SOA and NS
    /// remain.
    pub async fn delete_zone(&self, zone_id: &str) -> Result<(), AwsError> {
        self.client
            .delete_hosted_zone()
            .id(zone_id)
            .send()
            .await
            .or_aws(SERVICE, "DeleteHostedZone")?;
        Ok(())
    }

    async fn change(
        &self,
        zone_id: &str,
        action: ChangeAction,
        record: &RecordSet,
    ) -> Result<ChangeId, AwsError> {
        const OP: &str = "ChangeResourceRecordSets";
        let build = |e| AwsError::build(SERVICE, OP, e);
        let mut set = ResourceRecordSet::builder()
            .name(&record.name)
            .r#type(RrType::from(record.record_type.as_str()))
            .set_ttl(record.ttl);
        for value in &record.values {
            set = set.resource_records(
                ResourceRecord::builder()
                    .value(value)
                    .build()
                    .map_err(build)?,
            );
        }
        if let Some(alias) = &record.alias {
            set = set.alias_target(
                SdkAliasTarget::builder()
                    .dns_name(&alias.dns_name)
                    .hosted_zone_id(&alias.hosted_zone_id)
                    .evaluate_target_health(alias.evaluate_target_health)
                    .build()
                    .map_err(build)?,
            );
        }
        let change = Change::builder()
            .action(action)
            .resource_record_set(set.build().map_err(build)?)
            .build()
            .map_err(build)?;
        let out = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(
                ChangeBatch::builder()
                    .changes(change)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .or_aws(SERVICE, OP)?;
        let info = out
            .change_info()
            .ok_or_else(|| AwsError::missing(SERVICE, OP, "ChangeInfo"))?;
        Ok(ChangeId(bare_id(info.id())))
    }
}

/// `name` and the names that contain it, down to two labels, with the final dot:
/// `api.example.com` gives `api.example.com.`, `example.com.`.
pub fn enclosing_names(name: &str) -> Vec<String> {
    let labels: Vec<&str> = name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .collect();
    (0..labels.len().saturating_sub(1))
        .map(|i| fqdn(&labels[i..].join(".")))
        .collect()
}

/// `name` with exactly one final dot.
pub fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

/// `/hostedzone/Z1` and `/change/C1` become `Z1` and `C1`.
/// A zone as `CreateHostedZone` and `GetHostedZone` both answer it.
fn hosted_zone(
    zone: &aws_sdk_route53::types::HostedZone,
    delegation: Option<&aws_sdk_route53::types::DelegationSet>,
) -> HostedZone {
    HostedZone {
        id: bare_id(zone.id()),
        name: zone.name().to_string(),
        name_servers: delegation
            .map(|d| d.name_servers().to_vec())
            .unwrap_or_default(),
    }
}

fn bare_id(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_string()
}

/// Unique per call, as `CreateHostedZone` requires (at most 128 characters).
fn caller_reference(name: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("mtls-{}-{nanos}", name.trim_end_matches('.'))
        .chars()
        .take(128)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosing_names_stop_above_the_top_level_domain() {
        assert_eq!(
            enclosing_names("a.api.example.com"),
            ["a.api.example.com.", "api.example.com.", "example.com."]
        );
        assert_eq!(enclosing_names("example.com."), ["example.com."]);
        assert!(enclosing_names("localhost").is_empty());
    }
}

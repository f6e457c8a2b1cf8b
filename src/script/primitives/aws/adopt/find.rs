//! Adoption's first half, read-only (`adopt_find`): what exists for a domain, found from
//! the custom domain outward (its root mapping, API and stage, certificates, truststore
//! object, Route 53 records), each checked by `checks.rs` before anything changes.

use rhai::{Dynamic, Map};

use super::super::lock::hold_domain;
use super::super::map;
use super::checks::{
    is_v1, refuse, refuse_downtime, refuse_other_owner, refuse_v1_files, rollover_commands,
};
use super::{must_read, offline, online, owner};
use crate::aws::apigateway::{DomainName, RestApi, ROOT_BASE_PATH};
use crate::error::Error;
use crate::pki::{ParsedCert, Truststore};
use crate::reconcile::Observed;
use crate::script::Context;

/// The path every PetStore definition has (setup fills an API without it, replacing what
/// it serves: adoption refuses such an API instead).
const PETSTORE_PATH: &str = "/pets";

pub(super) fn find(ctx: &Context, domain: &str, files: &Map) -> Result<Map, Error> {
    super::super::check_domain("adopt_find", domain)?;
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
pub(super) fn split_uri(uri: &str) -> Result<(String, String), Error> {
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
    let theirs = super::super::rollover::read_truststore_object(
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! Adoption's refusals: what cannot be taken over safely is refused before anything
//! changes, with the reason and the way out (a resource tagged for another domain, a custom
//! domain setup could only reach with downtime, the article's X.509 v1 files).

use super::super::TAG_DOMAIN;
use super::owner;
use crate::aws::apigateway::DomainName;
use crate::aws::Tags;
use crate::error::Error;
use crate::pki::ParsedCert;
use crate::script::Context;

/// The rollover commands that replace a CA without downtime (docs/rollover.md).
pub(super) fn rollover_commands(domain: &str) -> String {
    format!(
        "mtls run rollover.rhai --var domain={domain} --var phase=add, then --var phase=switch, then --var phase=retire (docs/rollover.md)"
    )
}

/// A refusal: nothing was changed, and the message names the resource and why.
pub(super) fn refuse(
    resource: &str,
    why: impl std::fmt::Display,
    help: impl Into<String>,
) -> Error {
    Error::invalid_argument(
        "adopt_find",
        "adopt",
        format!("cannot adopt {resource}: {why}; nothing was changed"),
        help,
    )
}

pub(super) fn refuse_other_owner(resource: &str, tags: &Tags, domain: &str) -> Result<bool, Error> {
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

/// What setup can only reach from this domain by making it again, which changes its
/// regional name, so DNS and every client would have to follow: refused (API Gateway
/// developer guide, rest-api-mutual-tls: mutual TLS needs a REGIONAL custom domain with the
/// TLS 1.2 security policy).
pub(super) fn refuse_downtime(domain: &str, d: &DomainName) -> Result<(), Error> {
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

/// Whether a certificate is X.509 v1 (no extensions at all: no basicConstraints).
pub(super) fn is_v1(cert: &ParsedCert) -> bool {
    x509_parser::parse_x509_certificate(&cert.der)
        .is_ok_and(|(_, c)| c.version() == x509_parser::x509::X509Version::V1)
}

/// The article's intermediate is X.509 v1 (`openssl x509 -req` without extensions, OpenSSL
/// 3): no basicConstraints, so OpenSSL refuses every chain through it ("invalid CA
/// certificate") and setup cannot keep it. Named as the reason, with the way out; the
/// other files of the recipe (client, server) are v1 too and named with it.
pub(super) fn refuse_v1_files(
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

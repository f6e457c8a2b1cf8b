//! The AWS reads of a CA rollover (`rollover.rhai`): the truststore a custom domain uses
//! now (read back from S3 at the version it pins), and whether the server chain imported
//! into ACM still depends on a CA. The local bundle is `primitives/bundle.rs`.

use std::rc::Rc;

use rhai::{Array, Dynamic};

use super::{map, tags};
use crate::effects::Unknown;
use crate::error::Error;
use crate::pki::{ParsedCert, Truststore, MAX_TRUSTSTORE_BYTES};
use crate::reconcile::Observed;
use crate::script::primitives::bundle::{chain_uses_ca, entries, read_ca};
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "apigw_domain_truststore", "apigw_domain_truststore(domain: string) -> map", "The truststore the custom domain uses now: its uri and version, and the certificates of that S3 object version (read back from S3). () when there is no such domain; unknown in an offline plan. Returns #{ uri, version, subjects, sha256 }.", |c, domain: &str| -> Dynamic { domain_truststore(c, domain) });
    bound!(reg, ctx, "acm_server_chain_uses", "acm_server_chain_uses(domain: string, ca: string) -> bool", "Whether the server certificate mtls imported into ACM for `domain`, or a certificate of its chain, is the CA certificate file `ca` or was signed by it. False when none is imported; unknown in an offline plan.", |c, domain: &str, ca: &str| -> Dynamic { acm_chain_uses(c, domain, ca) });
}

/// `s3://bucket/key` -> (bucket, key).
fn split_s3_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// The certificates of `s3://bucket/key` at `version` (`None` when it is not there).
pub(super) fn read_truststore_object(
    ctx: &Context,
    bucket: &str,
    key: &str,
    version: Option<&str>,
) -> Result<Observed<Truststore>, Error> {
    let body = ctx.observe(|aws| {
        aws.s3()
            .get_object(bucket, key, version, MAX_TRUSTSTORE_BYTES)
    })?;
    body.try_map(|body| {
        let uri = format!("s3://{bucket}/{key}");
        let text = String::from_utf8(body).map_err(|_| Error::BadTruststore {
            path: uri.clone(),
            message: "it is not text".to_string(),
        })?;
        Truststore::from_pem(&uri, &text)
    })
}

fn domain_truststore(ctx: &Context, domain: &str) -> Result<Dynamic, Error> {
    super::check_domain("apigw_domain_truststore", domain)?;
    let d = match ctx.observe(|aws| aws.apigateway().domain_name(domain))? {
        Observed::NotLookedUp => return Ok(Dynamic::from(Unknown)),
        Observed::Absent => return Ok(Dynamic::UNIT),
        Observed::Present(d) => d,
    };
    let mut subjects = Array::new();
    let mut sha256 = Array::new();
    if let Some((bucket, key)) = d.truststore_uri.as_deref().and_then(split_s3_uri) {
        let store = read_truststore_object(ctx, bucket, key, d.truststore_version.as_deref())?;
        if let Observed::Present(store) = store {
            for e in entries(&store)? {
                subjects.push(e.subject.into());
                sha256.push(e.sha256.into());
            }
        }
    }
    let opt = |v: Option<String>| v.map_or(Dynamic::UNIT, Dynamic::from);
    Ok(map(vec![
        ("uri", opt(d.truststore_uri)),
        ("version", opt(d.truststore_version)),
        ("subjects", subjects.into()),
        ("sha256", sha256.into()),
    ])
    .into())
}

fn acm_chain_uses(ctx: &Context, domain: &str, ca: &str) -> Result<Dynamic, Error> {
    super::check_domain("acm_server_chain_uses", domain)?;
    let Some(ca) = read_ca(ctx, ca)? else {
        return Ok(Dynamic::from(Unknown));
    };
    let wanted = tags(domain, "server");
    let found =
        ctx.observe(|aws| async { aws.acm().find_certificates(None, &wanted).await.map(Some) })?;
    let Some(found) = found.present() else {
        return Ok(Dynamic::from(Unknown));
    };
    for c in found {
        let pem = ctx.observe(|aws| async move {
            match aws.acm().certificate_pem(&c.arn).await {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        let Observed::Present(pem) = pem else {
            continue;
        };
        let what = format!("the ACM certificate {}", c.arn);
        let mut chain = ParsedCert::all_from_pem(&what, &pem.certificate)?;
        if let Some(more) = pem.chain.as_deref().filter(|s| s.contains("CERTIFICATE")) {
            chain.extend(ParsedCert::all_from_pem(&what, more)?);
        }
        if chain_uses_ca(&chain, &ca) {
            return Ok(true.into());
        }
    }
    Ok(false.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_uris_split_into_bucket_and_key() {
        assert_eq!(
            split_s3_uri("s3://b/d.example/RootCA.pem"),
            Some(("b", "d.example/RootCA.pem"))
        );
        assert_eq!(split_s3_uri("s3://b/"), None);
        assert_eq!(split_s3_uri("https://b/k"), None);
    }
}

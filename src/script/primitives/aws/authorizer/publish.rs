//! The published revocation list: the index the authorizer loads (`DOMAIN/revoked.json`,
//! `{issuer DN: [revoked serials]}`) and the CRL itself, put on S3 beside the truststore once
//! the CRL is checked against its CA (`revocation_publish`, `check_revocation_list`).

use rhai::{Dynamic, Map};
use serde_json::json;

use super::super::{display, map, text, unknown_or};
use super::index_key;
use crate::aws::s3::{sha256_hex, ObjectHead};
use crate::effects::{Kind, Op};
use crate::error::Error;
use crate::reconcile::{self, Change, Diff, Known, Observed};
use crate::script::Context;

/// The format tag of the published index (authorizer.INDEX_FORMAT).
const INDEX_FORMAT: &str = "mtls-revocation-index/1";

/// The index of a CRL: checked against its CA (the CRL's issuer is the CA's subject and
/// its signature verifies with the CA's key), then `{format, issuers: {DN: [serials]}}`
/// with the issuer DN spelt as API Gateway's `issuerDN` ("C=..,O=..,CN=..") and serials in
/// lowercase hex without leading zeros (API Gateway sends them as "0a:1b:..."; the
/// authorizer brings both to one form).
pub(crate) fn revocation_index(
    ca_file: &str,
    ca_der: &[u8],
    crl: Option<(&str, &[u8])>,
) -> Result<(String, usize), Error> {
    let (_, ca) = x509_parser::parse_x509_certificate(ca_der).map_err(|e| {
        Error::invalid_argument(
            "revocation_publish",
            "ca_cert",
            format!("{ca_file}: {e}"),
            "pass the CA certificate that signs the CRL, e.g. RootCA.pem",
        )
    })?;
    let issuer = ca.subject().to_string().replace(", ", ",");
    let mut serials: Vec<String> = Vec::new();
    if let Some((crl_file, crl_der)) = crl {
        let bad = |why: String| {
            Error::invalid_argument(
                "revocation_publish",
                "crl",
                format!("{crl_file}: {why}"),
                format!(
                    "publish only a CRL {ca_file} signed (revoke.rhai makes one next to the CA)"
                ),
            )
        };
        let (_, list) = x509_parser::parse_x509_crl(crl_der).map_err(|e| bad(e.to_string()))?;
        if list.issuer().as_raw() != ca.subject().as_raw() {
            return Err(bad(format!(
                "issued by {}, not by {}",
                list.issuer(),
                ca.subject()
            )));
        }
        list.verify_signature(ca.public_key()).map_err(|_| {
            bad(format!(
                "its signature does not verify with the key of {ca_file}"
            ))
        })?;
        serials = list
            .iter_revoked_certificates()
            .map(|r| format!("{:x}", r.user_certificate))
            .collect();
        serials.sort();
        serials.dedup();
    }
    let count = serials.len();
    let index = json!({ "format": INDEX_FORMAT, "issuers": { issuer: serials } });
    Ok((index.to_string(), count))
}

/// The DER of a one-block PEM file of `label`.
fn pem_der(
    function: &'static str,
    argument: &str,
    file: &str,
    text: &str,
) -> Result<Vec<u8>, Error> {
    let block = pem::parse(text).map_err(|e| {
        Error::invalid_argument(
            function,
            argument,
            format!("{file}: {e}"),
            format!("pass a PEM file as `{argument}`"),
        )
    })?;
    Ok(block.contents().to_vec())
}

/// An object mtls wrote: kept when its `sha256` metadata is the body's.
fn diff_object(sha256: &Known<String>, observed: &Observed<ObjectHead>) -> Diff<()> {
    match observed {
        Observed::Present(h) if sha256.is_known() && h.sha256.as_ref() == sha256.get() => {
            Diff::Keep("same content")
        }
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "content",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

/// Puts `body` as s3://bucket/key unless the object holds it already.
fn ensure_object(
    ctx: &Context,
    bucket: &Known<String>,
    target_bucket: &str,
    key: &str,
    file: &str,
    body: &Known<Vec<u8>>,
    content_type: &str,
) -> Result<Op, Error> {
    let sha = body.map(|b| sha256_hex(b));
    let observed = match bucket.get() {
        Some(b) => ctx.observe(|aws| aws.s3().head_object(b, key, None))?,
        None => Observed::NotLookedUp,
    };
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::S3Object,
        &format!("s3://{target_bucket}/{key}"),
        &observed,
        &diff_object(&sha, &observed),
        |a| a.arg("file", file).arg_maybe("sha256", sha.get()),
        || {
            let (bucket, body) = (bucket.known("the bucket name")?, body.known("the list")?);
            ctx.write(|aws| aws.s3().put_object(bucket, key, body, content_type))
                .map(|_| ())
        },
    )?;
    Ok(op)
}

fn local_index(
    ctx: &Context,
    ca: &str,
    crl: &str,
) -> Result<Option<(String, Option<String>, usize)>, Error> {
    if [ca, crl].iter().any(|f| ctx.effects.pending(f))
        || (!ctx.workdir.exists(ca)? && ctx.effects.touched(ca))
    {
        return Ok(None);
    }
    let ca_der = pem_der(
        "revocation_publish",
        "ca_cert",
        ca,
        &ctx.workdir.read_public(ca)?,
    )?;
    let crl_text = if ctx.workdir.exists(crl)? {
        Some(ctx.workdir.read_public(crl)?)
    } else {
        None
    };
    let crl_der = crl_text
        .as_deref()
        .map(|t| pem_der("revocation_publish", "crl", crl, t))
        .transpose()?;
    let (index, count) = revocation_index(ca, &ca_der, crl_der.as_deref().map(|d| (crl, d)))?;
    Ok(Some((index, crl_text, count)))
}

pub(super) fn check_revocation_list(ctx: &Context, ca: &str, crl: &str) -> Result<i64, Error> {
    Ok(local_index(ctx, ca, crl)?.map_or(0, |(_, _, n)| n as i64))
}

pub(super) fn publish(
    ctx: &Context,
    bucket: &Dynamic,
    domain: &str,
    ca: &str,
    crl: &str,
) -> Result<Map, Error> {
    super::super::check_domain("revocation_publish", domain)?;
    let target_bucket = display(bucket);
    let bucket = text("revocation_publish", "bucket", bucket)?;
    super::super::check_bucket("revocation_publish", "bucket", bucket.as_deref())?;
    // Files an earlier step of a plan makes are known once applied.
    let local = local_index(ctx, ca, crl)?;
    let pending = local.is_none();
    let (index, crl_body, revoked) = match local {
        None => (None, None, None),
        Some((index, crl_text, count)) => (
            Some(index.into_bytes()),
            crl_text.map(String::into_bytes),
            Some(count),
        ),
    };
    let key = index_key(domain);
    let op = ensure_object(
        ctx,
        &bucket,
        &target_bucket,
        &key,
        &format!("index of {crl}"),
        &index.into(),
        "application/json",
    )?;
    let crl_key = format!("{domain}/{}", crl.rsplit('/').next().unwrap_or(crl));
    if crl_body.is_some() || pending {
        ensure_object(
            ctx,
            &bucket,
            &target_bucket,
            &crl_key,
            crl,
            &crl_body.into(),
            "application/pkix-crl",
        )?;
    }
    Ok(map(vec![
        ("bucket", unknown_or(bucket.into_option())),
        ("key", key.into()),
        ("crl_key", crl_key.into()),
        (
            "revoked",
            revoked.map_or_else(
                || Dynamic::from(crate::effects::Unknown),
                |n| Dynamic::from(n as i64),
            ),
        ),
        ("status", op.name().into()),
    ]))
}

/// The index from CRLs made by rcgen: what it holds, and the CRLs it refuses.
#[cfg(test)]
mod index_tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType, IsCa, Issuer,
        KeyIdMethod, KeyPair, KeyUsagePurpose, RevokedCertParams, SerialNumber,
    };
    use serde_json::Value;

    fn ca(cn: &str) -> (Vec<u8>, Issuer<'static, KeyPair>) {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CountryName, "JP");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Example");
        params.distinguished_name.push(DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        (der, Issuer::new(params, key))
    }

    fn crl(issuer: &Issuer<'_, KeyPair>, serials: &[&[u8]]) -> Vec<u8> {
        let now = time::OffsetDateTime::now_utc();
        CertificateRevocationListParams {
            this_update: now,
            next_update: now + time::Duration::days(30),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: serials
                .iter()
                .map(|s| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(s),
                    revocation_time: now,
                    reason_code: None,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(issuer)
        .unwrap()
        .der()
        .to_vec()
    }

    #[test]
    fn the_index_holds_the_crl_s_serials_under_the_ca_s_dn() {
        let (der, issuer) = ca("mtls root CA");
        let list = crl(&issuer, &[&[0x00, 0x1a, 0x2b], &[0x7f]]);
        let (index, count) =
            revocation_index("RootCA.pem", &der, Some(("RootCA.crl.pem", &list))).unwrap();
        let index: Value = serde_json::from_str(&index).unwrap();
        assert_eq!(count, 2);
        assert_eq!(index["format"], INDEX_FORMAT);
        // One issuer: the CA's subject in its certificate's order (rcgen's here), as
        // API Gateway writes an issuerDN.
        let issuers = index["issuers"].as_object().unwrap();
        let (dn, serials) = issuers.iter().next().unwrap();
        assert_eq!(issuers.len(), 1, "{index}");
        let mut parts: Vec<&str> = dn.split(',').collect();
        parts.sort();
        assert_eq!(parts, ["C=JP", "CN=mtls root CA", "O=Example"], "{index}");
        assert_eq!(serials, &json!(["1a2b", "7f"]));
        // No CRL yet: the CA, nothing revoked.
        let (empty, count) = revocation_index("RootCA.pem", &der, None).unwrap();
        assert_eq!(count, 0);
        assert_eq!(
            serde_json::from_str::<Value>(&empty).unwrap()["issuers"][dn.as_str()],
            json!([])
        );
    }

    #[test]
    fn a_crl_of_another_ca_or_with_a_bad_signature_is_refused() {
        let (der, _) = ca("mtls root CA");
        let (_, other) = ca("another CA");
        let err = revocation_index(
            "RootCA.pem",
            &der,
            Some(("x.crl.pem", &crl(&other, &[&[1]]))),
        )
        .unwrap_err();
        assert!(err.to_string().contains("not by"), "{err}");
        // Same name, another key: the signature does not verify.
        let (_, impostor) = ca("mtls root CA");
        let err = revocation_index(
            "RootCA.pem",
            &der,
            Some(("x.crl.pem", &crl(&impostor, &[&[1]]))),
        )
        .unwrap_err();
        assert!(err.to_string().contains("signature"), "{err}");
    }
}

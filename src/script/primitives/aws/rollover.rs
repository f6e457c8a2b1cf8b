//! CA rollover (`rollover.rhai`): the local truststore bundle built from a list of CAs, the
//! truststore a custom domain uses now (read back from S3 at the version it pins), and
//! whether a server chain, local or imported into ACM, still depends on a CA.

use std::rc::Rc;

use rhai::{Array, Dynamic, Map};

use super::{map, tags, text};
use crate::effects::{Action, Kind, Unknown};
use crate::error::Error;
use crate::pki::{ParsedCert, Truststore, MAX_TRUSTSTORE_BYTES};
use crate::reconcile::{self, Change, Diff, Observed};
use crate::script::primitives::{bound, Registrar};
use crate::script::Context;
use crate::workdir::Secrecy;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "truststore_write", "truststore_write(path: string, cas: array) -> map", "Write the truststore bundle `path` from the CA certificate files `cas` (in that order, duplicates once, rebuilt from the parsed certificates), checked against API Gateway's rules; kept when it already holds exactly those certificates. The plan shows the certificates added and removed. Returns #{ path, certificates, added, removed, status }.", |c, path: &str, cas: Array| -> Map { write_bundle(c, path, &cas) });
    bound!(reg, ctx, "apigw_domain_truststore", "apigw_domain_truststore(domain: string) -> map", "The truststore the custom domain uses now: its uri and version, and the certificates of that S3 object version (read back from S3). () when there is no such domain; unknown in an offline plan. Returns #{ uri, version, subjects, sha256 }.", |c, domain: &str| -> Dynamic { domain_truststore(c, domain) });
    bound!(reg, ctx, "acm_server_chain_uses", "acm_server_chain_uses(domain: string, ca: string) -> bool", "Whether the server certificate mtls imported into ACM for `domain`, or a certificate of its chain, is the CA certificate file `ca` or was signed by it. False when none is imported; unknown in an offline plan.", |c, domain: &str, ca: &str| -> Dynamic { acm_chain_uses(c, domain, ca) });
    bound!(reg, ctx, "chain_uses", "chain_uses(files: array, ca: string) -> bool", "Whether a certificate of the local files `files` (a leaf and its chain) is the CA certificate file `ca` or was signed by it; unknown in a plan before the files exist.", |c, files: Array, ca: &str| -> Dynamic { local_chain_uses(c, &files, ca) });
}

/// A certificate of a bundle as a plan names it: subject and short fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BundleEntry {
    pub subject: String,
    /// SHA-256 of the DER, colon-separated upper-case hex.
    pub sha256: String,
}

impl BundleEntry {
    fn of(cert: &ParsedCert) -> Result<BundleEntry, Error> {
        let info = cert.info()?;
        Ok(BundleEntry {
            subject: info.subject,
            sha256: info.sha256,
        })
    }

    /// `CN=..., O=... [AB:CD:EF:01]`: the subject and the first four bytes of the SHA-256.
    pub fn label(&self) -> String {
        let short: String = self.sha256.chars().take(11).collect();
        format!("{} [{short}]", self.subject)
    }
}

/// The entries of a truststore, in order.
pub(crate) fn entries(store: &Truststore) -> Result<Vec<BundleEntry>, Error> {
    store.certs().iter().map(BundleEntry::of).collect()
}

/// What changes between two bundles: the certificates added and removed (by fingerprint).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BundleChange {
    pub added: Vec<BundleEntry>,
    pub removed: Vec<BundleEntry>,
}

/// The bundle diff, pure: `after`'s certificates not in `before` are added, `before`'s not
/// in `after` removed (a reordering is neither).
pub(crate) fn bundle_change(before: &[BundleEntry], after: &[BundleEntry]) -> BundleChange {
    let missing_from =
        |list: &[BundleEntry], e: &BundleEntry| list.iter().all(|x| x.sha256 != e.sha256);
    BundleChange {
        added: after
            .iter()
            .filter(|e| missing_from(before, e))
            .cloned()
            .collect(),
        removed: before
            .iter()
            .filter(|e| missing_from(after, e))
            .cloned()
            .collect(),
    }
}

/// The subjects more than one certificate of a bundle holds, each with the fingerprints
/// (`CN=x [AA:..]; CN=x [BB:..]`): two CAs under one name defeat chain building, and a
/// certificate appended by mistake to a CA file often shows this way.
pub(crate) fn same_subjects(list: &[BundleEntry]) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for e in list {
        if seen.contains(&e.subject.as_str()) {
            continue;
        }
        seen.push(&e.subject);
        let twins: Vec<BundleEntry> = list
            .iter()
            .filter(|x| x.subject == e.subject)
            .cloned()
            .collect();
        if twins.len() > 1 {
            out.push(labels(&twins));
        }
    }
    out
}

/// Joins entries for a plan argument.
pub(crate) fn labels(list: &[BundleEntry]) -> String {
    if list.is_empty() {
        return "(none)".to_string();
    }
    list.iter()
        .map(BundleEntry::label)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Adds `added` and `removed` to a plan's action.
pub(crate) fn describe_change(a: Action, change: &BundleChange) -> Action {
    a.arg("added", labels(&change.added))
        .arg("removed", labels(&change.removed))
}

/// The local bundle: kept when the file holds exactly the wanted certificates, in order;
/// `wanted` is `None` in a plan where a CA file is made by an earlier step.
fn diff_bundle(
    wanted: &Option<Vec<BundleEntry>>,
    observed: &Observed<Vec<BundleEntry>>,
) -> Diff<()> {
    match observed {
        Observed::Present(now) if wanted.as_ref() == Some(now) => {
            Diff::Keep("holds the same certificates")
        }
        Observed::Present(_) => Diff::Update(vec![Change {
            field: "certificates",
            patch: (),
        }]),
        _ => Diff::Create,
    }
}

fn string_list(function: &'static str, argument: &str, list: &Array) -> Result<Vec<String>, Error> {
    list.iter()
        .map(|v| {
            text(function, argument, v)?.ok_or_else(|| {
                Error::invalid_argument(
                    function,
                    argument,
                    "a file name is unknown",
                    "pass file names",
                )
            })
        })
        .collect()
}

fn write_bundle(ctx: &Context, path: &str, cas: &Array) -> Result<Map, Error> {
    let f = "truststore_write";
    let files = string_list(f, "cas", cas)?;
    if files.is_empty() {
        return Err(Error::invalid_argument(
            f,
            "cas",
            "the list is empty",
            "a truststore holds at least one CA certificate",
        ));
    }
    refuse_flow_file(ctx, path, &files)?;
    // The wanted bundle; `None` when a CA file is made by an earlier step of a plan.
    let mut wanted: Option<Truststore> = None;
    let mut unknown = false;
    let mut pem = String::new();
    for file in &files {
        if ctx.effects.pending(file) || (!ctx.workdir.exists(file)? && ctx.effects.touched(file)) {
            unknown = true;
            continue;
        }
        let store = Truststore::from_pem(file, &ctx.workdir.read_public(file)?)?;
        for cert in store.certs() {
            let block = crate::pki::pem::encode_certificate(&cert.der);
            if !pem.contains(&block) {
                pem.push_str(&block);
            }
        }
    }
    if !unknown {
        let store = Truststore::from_pem(path, &pem)?;
        // The same rules, ids and messages as check_truststore and `mtls check`.
        super::checks::refuse(ctx, f, "cas", crate::pki::lint::truststore(path, &store)?)?;
        wanted = Some(store);
    }
    let wanted_entries = wanted.as_ref().map(entries).transpose()?;
    let twins = wanted_entries
        .as_deref()
        .map(same_subjects)
        .unwrap_or_default();
    for t in &twins {
        ctx.notice(&format!(
            "warning: the bundle {path} holds certificates with the same subject: {t}; check that each is a CA you meant to trust (a certificate appended to a CA file shows this way)"
        ));
    }
    let observed = if ctx.workdir.exists(path)? {
        let now = Truststore::from_pem(path, &ctx.workdir.read_public(path)?)?;
        Observed::Present(entries(&now)?)
    } else {
        Observed::Absent
    };
    let diff = diff_bundle(&wanted_entries, &observed);
    let describe = |a: Action| {
        let a = a
            .arg("from", files.join(", "))
            .arg_maybe("certificates", wanted_entries.as_deref().map(labels));
        let a = if twins.is_empty() {
            a
        } else {
            a.arg("same_subject", twins.join(" | "))
        };
        match (&wanted_entries, &observed) {
            (Some(w), Observed::Present(now)) => describe_change(a, &bundle_change(now, w)),
            _ => a,
        }
    };
    let exists = observed.present().is_some();
    let (op, _) = reconcile::apply(
        &ctx.effects,
        Kind::TruststoreBundle,
        path,
        &observed,
        &diff,
        describe,
        || {
            let store = wanted.as_ref().ok_or_else(|| {
                Error::internal("write the truststore bundle", "a CA file was not read")
            })?;
            ctx.workdir
                .write(path, store.to_pem().as_bytes(), Secrecy::Public, exists)
        },
    )?;
    let list =
        |v: Vec<String>| -> Dynamic { v.into_iter().map(Dynamic::from).collect::<Array>().into() };
    let change = match (&wanted_entries, &observed) {
        (Some(w), Observed::Present(now)) => bundle_change(now, w),
        (Some(w), _) => BundleChange {
            added: w.clone(),
            removed: vec![],
        },
        _ => BundleChange::default(),
    };
    let certificates = match &wanted_entries {
        Some(w) => list(w.iter().map(|e| e.subject.clone()).collect()),
        None => Dynamic::from(Unknown),
    };
    Ok(map(vec![
        ("path", path.into()),
        ("certificates", certificates),
        (
            "added",
            list(change.added.iter().map(BundleEntry::label).collect()),
        ),
        (
            "removed",
            list(change.removed.iter().map(BundleEntry::label).collect()),
        ),
        ("status", op.name().into()),
    ]))
}

/// The bundle is written only where no file of the flow is: never over one of its own CA
/// files, nor over a certificate that has its key beside it (`RootCA.pem` with
/// `RootCA.key`), unless `--force`.
fn refuse_flow_file(ctx: &Context, path: &str, cas: &[String]) -> Result<(), Error> {
    if ctx.force {
        return Ok(());
    }
    let key = path.strip_suffix(".pem").map(|stem| format!("{stem}.key"));
    let what = if cas.iter().any(|c| c == path) {
        "one of the CA files it is made from"
    } else if ctx.workdir.exists(path)? && key.map_or(Ok(false), |k| ctx.workdir.exists(&k))? {
        "a certificate with its key beside it"
    } else {
        return Ok(());
    };
    Err(Error::invalid_argument(
        "truststore_write",
        "path",
        format!("{path} is {what}: writing the bundle there would overwrite it"),
        "give the bundle a name of its own (--var bundle=truststore.pem), or pass --force to overwrite it",
    ))
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

/// Whether a certificate of `chain` is `ca` itself or was signed by it.
pub(crate) fn chain_uses_ca(chain: &[ParsedCert], ca: &ParsedCert) -> bool {
    chain.iter().any(|c| c.der == ca.der || c.is_issued_by(ca))
}

/// The CA file's certificate; `None` in a plan before an earlier step makes it.
fn read_ca(ctx: &Context, ca: &str) -> Result<Option<ParsedCert>, Error> {
    if ctx.effects.pending(ca) || (!ctx.workdir.exists(ca)? && ctx.effects.touched(ca)) {
        return Ok(None);
    }
    Ok(Some(ParsedCert::from_pem(
        ca,
        &ctx.workdir.read_public(ca)?,
    )?))
}

fn local_chain_uses(ctx: &Context, files: &Array, ca: &str) -> Result<Dynamic, Error> {
    let files = string_list("chain_uses", "files", files)?;
    let Some(ca) = read_ca(ctx, ca)? else {
        return Ok(Dynamic::from(Unknown));
    };
    let mut chain = Vec::new();
    for file in &files {
        if ctx.effects.pending(file) || (!ctx.workdir.exists(file)? && ctx.effects.touched(file)) {
            return Ok(Dynamic::from(Unknown));
        }
        chain.extend(ParsedCert::all_from_pem(
            file,
            &ctx.workdir.read_public(file)?,
        )?);
    }
    Ok(chain_uses_ca(&chain, &ca).into())
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

    fn entry(subject: &str, sha: &str) -> BundleEntry {
        BundleEntry {
            subject: subject.into(),
            sha256: sha.into(),
        }
    }

    #[test]
    fn bundle_changes() {
        let old = entry("CN=old", "AA:AA:AA:AA:00");
        let new = entry("CN=new", "BB:BB:BB:BB:00");
        // (before, after, subjects added, subjects removed)
        type Case<'a> = (
            Vec<BundleEntry>,
            Vec<BundleEntry>,
            Vec<&'a str>,
            Vec<&'a str>,
        );
        let cases: Vec<Case> = vec![
            // add: the new CA joins the old one.
            (
                vec![old.clone()],
                vec![old.clone(), new.clone()],
                vec!["CN=new"],
                vec![],
            ),
            // retire: the old CA leaves.
            (
                vec![old.clone(), new.clone()],
                vec![new.clone()],
                vec![],
                vec!["CN=old"],
            ),
            // the same bundle, or the same certificates reordered: nothing added or removed.
            (
                vec![old.clone(), new.clone()],
                vec![old.clone(), new.clone()],
                vec![],
                vec![],
            ),
            (
                vec![new.clone(), old.clone()],
                vec![old.clone(), new.clone()],
                vec![],
                vec![],
            ),
            // a certificate re-issued under the same subject counts by fingerprint.
            (
                vec![old.clone()],
                vec![entry("CN=old", "CC:CC:CC:CC:00")],
                vec!["CN=old"],
                vec!["CN=old"],
            ),
        ];
        for (before, after, added, removed) in cases {
            let c = bundle_change(&before, &after);
            let subjects =
                |l: &[BundleEntry]| l.iter().map(|e| e.subject.clone()).collect::<Vec<_>>();
            assert_eq!(subjects(&c.added), added, "{before:?} -> {after:?}");
            assert_eq!(subjects(&c.removed), removed, "{before:?} -> {after:?}");
        }
        assert_eq!(new.label(), "CN=new [BB:BB:BB:BB]");
        // Two certificates under one subject are called out, each with its fingerprint.
        let twin = entry("CN=old", "CC:CC:CC:CC:00");
        assert_eq!(
            same_subjects(&[old.clone(), new.clone(), twin]),
            ["CN=old [AA:AA:AA:AA]; CN=old [CC:CC:CC:CC]"]
        );
        assert!(same_subjects(&[old.clone(), new.clone()]).is_empty());
        assert_eq!(labels(&[]), "(none)");
    }

    #[test]
    fn bundle_file_diffs() {
        let a = vec![entry("CN=a", "AA")];
        let ab = vec![entry("CN=a", "AA"), entry("CN=b", "BB")];
        assert_eq!(
            diff_bundle(&Some(ab.clone()), &Observed::Present(ab.clone())),
            Diff::Keep("holds the same certificates")
        );
        assert_eq!(
            diff_bundle(&Some(ab.clone()), &Observed::Present(a.clone())).changes()[0].field,
            "certificates"
        );
        // A plan that cannot read a CA yet never calls the file "the same".
        assert_eq!(
            diff_bundle(&None, &Observed::Present(a)).op(),
            crate::effects::Op::Update
        );
        assert_eq!(diff_bundle(&Some(ab), &Observed::Absent), Diff::Create);
    }

    #[test]
    fn s3_uris_split_into_bucket_and_key() {
        assert_eq!(
            split_s3_uri("s3://b/d.example/RootCA.pem"),
            Some(("b", "d.example/RootCA.pem"))
        );
        assert_eq!(split_s3_uri("s3://b/"), None);
        assert_eq!(split_s3_uri("https://b/k"), None);
    }

    fn ca(name: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        (params.self_signed(&key).unwrap(), key)
    }

    #[test]
    fn a_chain_uses_a_ca_it_holds_or_that_signed_one_of_it() {
        let (old, old_key) = ca("old root");
        let (new, _) = ca("new root");
        let issuer = rcgen::Issuer::from_ca_cert_pem(&old.pem(), &old_key).unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["api.example.com".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let p = |c: &rcgen::Certificate| ParsedCert {
            der: c.der().to_vec(),
        };
        assert!(chain_uses_ca(&[p(&leaf)], &p(&old)));
        assert!(!chain_uses_ca(&[p(&leaf)], &p(&new)));
        assert!(chain_uses_ca(&[p(&new), p(&old)], &p(&old)));
        assert!(!chain_uses_ca(&[p(&new)], &p(&old)));
        // A CA of the same name but another key did not sign it.
        let (impostor, _) = ca("old root");
        assert!(!chain_uses_ca(&[p(&leaf)], &p(&impostor)));
    }
}

//! Adoption (issue 20): a walkthrough done by hand, made here with the article's calls and
//! no mtls tags, is taken over by `setup.rhai --var adopt=true` without downtime: the plan
//! lists each adoption and change, the run only tags and makes the listed changes, the
//! domain keeps its regional name, a plain re-run changes nothing and teardown removes what
//! was adopted. What cannot be taken over is refused with zero mutating calls.

use crate::support;

use std::path::Path;

use mtls::aws::acm::CertificateImport;
use mtls::aws::apigateway::MtlsDomainSpec;
use mtls::aws::route53::AliasTarget;
use mtls::aws::{Aws, Tags};
use mtls::pki::SecretPem;
use support::cli::{mtls, mtls_env, run_setup, Run, SetupArgs};
use support::moto::{Moto, RecordedRequest};

const DOMAIN: &str = "api.example.com";
const BUCKET: &str = "trust-store-123456789012";
/// The article keeps the truststore at the bucket's root.
const KEY: &str = "RootCA.pem";

/// What the hand-made walkthrough left, as the test reads it back from moto.
struct HandMade {
    rt: tokio::runtime::Runtime,
    aws: Aws,
    api_id: String,
    regional_name: String,
    server_arn: String,
}

/// The article's steps 1 and 6-14, as a user runs them with the AWS CLI (here the SDK),
/// over the certificate files in `dir`; no mtls tag anywhere. The default execute-api
/// endpoint is left on (step 10 forgotten): the one change adoption must make.
fn walkthrough_by_hand(moto: &Moto, dir: &Path) -> HandMade {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
    let none = Tags::new();
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    // Step 1: the hosted zone.
    let zone = rt
        .block_on(aws.route53().create_zone("example.com"))
        .unwrap();
    // Step 6: the versioned bucket, RootCA.pem uploaded at its root as `aws s3 cp` does it
    // (a plain PUT: no metadata of mtls's).
    rt.block_on(aws.s3().create_bucket(BUCKET)).unwrap();
    rt.block_on(aws.s3().enable_versioning(BUCKET)).unwrap();
    let put = support::cli::curl_put(
        &format!("{}/{BUCKET}/{KEY}", moto.endpoint_url()),
        &dir.join("RootCA.pem"),
    );
    assert!(put.status.success(), "{}", put.all());
    let body = rt
        .block_on(aws.s3().get_object(BUCKET, KEY, None, 1 << 20))
        .unwrap()
        .expect("the truststore is uploaded");
    assert_eq!(String::from_utf8_lossy(&body), read("RootCA.pem"));
    let version = rt
        .block_on(aws.s3().head_object(BUCKET, KEY, None))
        .unwrap()
        .and_then(|h| h.version_id)
        .expect("the bucket is versioned");
    // Step 7: the server certificate.
    let key = SecretPem::new(read("server.key"));
    let server_arn = rt
        .block_on(aws.acm().import_certificate(&CertificateImport {
            certificate_pem: &read("server.pem"),
            private_key: &key,
            chain_pem: Some(&read("inca.pem")),
            reimport_arn: None,
            tags: &none,
        }))
        .unwrap();
    // Step 8: the ownership verification certificate and its validation CNAME.
    let ownership_arn = rt
        .block_on(aws.acm().request_certificate(DOMAIN, &none, None))
        .unwrap();
    let cname = rt
        .block_on(aws.acm().describe(&ownership_arn))
        .unwrap()
        .validation_cname
        .expect("ACM gives the validation record");
    rt.block_on(
        aws.route53()
            .upsert_cname(&zone.id, &cname.name, &cname.value, 300),
    )
    .unwrap();
    // Steps 9 and 11: PetStore, deployed to prod.
    let api = rt
        .block_on(
            aws.apigateway()
                .import_rest_api(&mtls::petstore::openapi_json("PetStore"), false),
        )
        .unwrap();
    rt.block_on(aws.apigateway().create_deployment(&api.id, "prod", None))
        .unwrap();
    // Step 12: the mTLS domain.
    let uri = format!("s3://{BUCKET}/{KEY}");
    let domain = rt
        .block_on(aws.apigateway().create_domain_name(&MtlsDomainSpec {
            domain_name: DOMAIN,
            regional_certificate_arn: &server_arn,
            truststore_uri: &uri,
            truststore_version: Some(&version),
            ownership_verification_certificate_arn: Some(&ownership_arn),
            tags: &none,
        }))
        .unwrap();
    // Steps 13 and 14: the mapping and the alias.
    rt.block_on(
        aws.apigateway()
            .create_base_path_mapping(DOMAIN, &api.id, "prod", None),
    )
    .unwrap();
    let regional_name = domain.regional_domain_name.clone().unwrap();
    rt.block_on(aws.route53().upsert_alias_a(
        &zone.id,
        DOMAIN,
        &AliasTarget {
            dns_name: regional_name.clone(),
            hosted_zone_id: domain.regional_hosted_zone_id.clone().unwrap(),
            evaluate_target_health: false,
        },
    ))
    .unwrap();

    // moto holds it as made (the harness keeps the domain's mTLS fields), untagged.
    let d = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap();
    assert_eq!(d.truststore_uri.as_deref(), Some(uri.as_str()));
    assert_eq!(d.truststore_version.as_deref(), Some(version.as_str()));
    assert_eq!(
        d.ownership_verification_certificate_arn.as_deref(),
        Some(ownership_arn.as_str())
    );
    assert!(d.tags.is_empty(), "{:?}", d.tags);
    let api_read = rt
        .block_on(aws.apigateway().rest_api(&api.id))
        .unwrap()
        .unwrap();
    assert!(api_read.tags.is_empty() && !api_read.disable_execute_api_endpoint);
    let mapping = rt
        .block_on(aws.apigateway().base_path_mapping(DOMAIN, None))
        .unwrap()
        .unwrap();
    assert_eq!(
        (mapping.rest_api_id.as_str(), mapping.stage.as_deref()),
        (api.id.as_str(), Some("prod"))
    );
    assert!(rt.block_on(aws.acm().tags(&server_arn)).unwrap().is_empty());
    HandMade {
        rt,
        aws,
        api_id: api.id,
        regional_name,
        server_arn,
    }
}

/// `mtls run pki.rhai` in `dir`: the user's CA files, made before the walkthrough.
fn make_pki(dir: &Path) {
    mtls(dir, &["run", "pki.rhai", "--var", "domain=api.example.com"]).success();
}

fn adopt_plan(moto: &Moto, dir: &Path, extra: &[&str]) -> Run {
    let args = SetupArgs::plan()
        .args(&["--refresh", "--detailed-exitcode"])
        .var("adopt", "true")
        .args(extra);
    mtls_env(dir, &args.to_vec(), &moto.env())
}

fn mutating(moto: &Moto) -> Vec<RecordedRequest> {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .collect()
}

fn described(requests: &[RecordedRequest]) -> String {
    requests
        .iter()
        .map(|r| r.describe())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tagging calls: API Gateway's TagResource (PUT /tags/ARN), ACM's AddTagsToCertificate.
fn is_tagging(r: &RecordedRequest) -> bool {
    (r.method == "PUT" && r.path.starts_with("/tags/"))
        || r.rpc_action().as_deref() == Some("AddTagsToCertificate")
}

#[test]
fn a_walkthrough_done_by_hand_is_adopted_without_downtime_then_owned() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    make_pki(dir);
    let hand = walkthrough_by_hand(&moto, dir);
    moto.reset_recording();

    // The plan: each adoption, then the change with its reason; exit 2.
    let plan = adopt_plan(&moto, dir, &[]);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    let out = &plan.stdout;
    assert!(
        out.contains("Plan: 7 to adopt, 0 to create, 1 to update, 0 to replace"),
        "{out}"
    );
    for line in [
        "<- api custom domain",
        "<- rest api",
        "<- acm certificate      server certificate for api.example.com",
        "<- acm certificate      ownership verification certificate for api.example.com",
        "<- s3 object            s3://trust-store-123456789012/RootCA.pem",
        "<- route53 record       api.example.com. A in example.com.",
        "disableExecuteApiEndpoint differs",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(
        mutating(&moto).is_empty(),
        "{}",
        described(&mutating(&moto))
    );
    let json = mtls_env(
        dir,
        &SetupArgs::plan()
            .args(&["--refresh", "--format", "json"])
            .var("adopt", "true")
            .to_vec(),
        &moto.env(),
    );
    let v: serde_json::Value =
        serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}: {}", json.all()));
    assert_eq!(v["summary"]["adopt"], 7, "{}", json.stdout);

    // The run: tags, and the one listed change (endpoint off, then a deployment).
    moto.reset_recording();
    run_setup(dir, &moto.env(), &["--var", "adopt=true"]).success();
    let sent = mutating(&moto);
    let others: Vec<RecordedRequest> = sent
        .iter()
        .filter(|r| !is_tagging(r))
        .filter(|r| !(r.method == "PATCH" && r.path == format!("/restapis/{}", hand.api_id)))
        .filter(|r| {
            !(r.method == "POST" && r.path == format!("/restapis/{}/deployments", hand.api_id))
        })
        // The stage's mark while it waits for its deployment (docs/walkthrough.md).
        .filter(|r| !(r.method == "DELETE" && r.path.starts_with("/tags/")))
        .cloned()
        .collect();
    assert!(
        others.is_empty(),
        "calls beyond tagging and the listed change:\n{}",
        described(&others)
    );
    assert!(
        sent.iter().filter(|r| is_tagging(r)).count() >= 4,
        "{}",
        described(&sent)
    );
    support::moto::endpoint_turned_off_then_deployed(&sent, &hand.api_id).unwrap();
    let (rt, aws) = (&hand.rt, &hand.aws);
    let d = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap();
    assert_eq!(
        d.regional_domain_name.as_deref(),
        Some(hand.regional_name.as_str())
    );
    assert_eq!(d.tags.get("mtls:domain").map(String::as_str), Some(DOMAIN));
    assert_eq!(
        d.tags.get("mtls:truststore").map(String::as_str),
        Some("s3://trust-store-123456789012/RootCA.pem")
    );
    assert_eq!(
        rt.block_on(aws.acm().tags(&hand.server_arn))
            .unwrap()
            .get("mtls:role")
            .map(String::as_str),
        Some("server")
    );

    // A plain setup now: nothing to do.
    moto.reset_recording();
    run_setup(dir, &moto.env(), &[]).success();
    assert!(
        mutating(&moto).is_empty(),
        "{}",
        described(&mutating(&moto))
    );

    // Adopting again finds everything mtls's already: nothing to adopt, nothing to change.
    let again = adopt_plan(&moto, dir, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", again.all());
    assert!(!again.stdout.contains("to adopt"), "{}", again.stdout);

    // Teardown removes what was adopted, as its own.
    mtls_env(
        dir,
        &["run", "teardown.rhai", "--var", "domain=api.example.com"],
        &moto.env(),
    )
    .success();
    assert!(rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .is_none());
    assert!(rt
        .block_on(aws.apigateway().rest_api(&hand.api_id))
        .unwrap()
        .is_none());
    assert!(
        rt.block_on(aws.acm().describe(&hand.server_arn)).is_err(),
        "the server certificate is deleted"
    );
    assert!(rt
        .block_on(aws.s3().list_object_versions(BUCKET, None))
        .map(|v| v.is_empty())
        .unwrap_or(true));
}

#[test]
fn an_offline_plan_says_adoption_needs_refresh_and_guesses_nothing() {
    let folder = tempfile::tempdir().unwrap();
    let run = mtls(
        folder.path(),
        &SetupArgs::plan().with_probe().var("adopt", "true").to_vec(),
    );
    assert_eq!(run.status.code(), Some(0), "{}", run.all());
    let out = &run.stdout;
    assert!(
        out.contains("<- api custom domain    api.example.com"),
        "{out}"
    );
    assert!(
        out.contains("(offline plan: adoption finds what exists only with --refresh)"),
        "{out}"
    );
    assert!(
        out.contains(
            "mtls plan setup.rhai --var domain=api.example.com --var adopt=true --refresh"
        ),
        "{out}"
    );
    // Nothing found is named: no ARN, no API id, no bucket of the user's.
    assert!(!out.contains("arn:aws:"), "{out}");
}

#[test]
fn adopt_must_be_true_or_false() {
    let folder = tempfile::tempdir().unwrap();
    let run = mtls(
        folder.path(),
        &SetupArgs::plan().with_probe().var("adopt", "yes").to_vec(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.all());
    assert!(
        run.all()
            .contains("--var adopt=\"yes\": it is true or false"),
        "{}",
        run.all()
    );
}

/// A refusal: exit 1, the resource named, and AWS saw no mutating call.
#[track_caller]
fn assert_refused(moto: &Moto, dir: &Path, extra: &[&str], names: &str) -> Run {
    moto.reset_recording();
    let run = run_setup(
        dir,
        &moto.env(),
        &[&["--var", "adopt=true"], extra].concat(),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.all());
    assert!(
        run.all().contains(names),
        "{names:?} not named:\n{}",
        run.all()
    );
    assert!(mutating(moto).is_empty(), "{}", described(&mutating(moto)));
    run
}

#[test]
fn a_domain_tagged_for_another_domain_is_refused() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    make_pki(dir);
    let hand = walkthrough_by_hand(&moto, dir);
    let mut other = Tags::new();
    other.insert("mtls:domain".into(), "www.example.com".into());
    hand.rt
        .block_on(hand.aws.acm().add_tags(&hand.server_arn, &other))
        .unwrap();
    assert_refused(
        &moto,
        dir,
        &[],
        &format!(
            "cannot adopt the server certificate {}: it is tagged mtls:domain=www.example.com",
            hand.server_arn
        ),
    );
}

#[test]
fn an_api_other_domains_map_is_refused() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    make_pki(dir);
    let hand = walkthrough_by_hand(&moto, dir);
    let (rt, aws) = (&hand.rt, &hand.aws);
    let arn = hand.server_arn.clone();
    rt.block_on(aws.apigateway().create_domain_name(&MtlsDomainSpec {
        domain_name: "www.example.com",
        regional_certificate_arn: &arn,
        truststore_uri: "s3://trust-store-123456789012/RootCA.pem",
        truststore_version: None,
        ownership_verification_certificate_arn: None,
        tags: &Tags::new(),
    }))
    .unwrap();
    rt.block_on(aws.apigateway().create_base_path_mapping(
        "www.example.com",
        &hand.api_id,
        "prod",
        None,
    ))
    .unwrap();
    assert_refused(&moto, dir, &[], &format!("cannot adopt the REST API PetStore ({}): other custom domains map it too (www.example.com)", hand.api_id));
}

#[test]
fn a_truststore_setup_would_replace_is_downtime_and_refused() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    make_pki(dir);
    walkthrough_by_hand(&moto, dir);
    // Another folder, without the CA the domain trusts: setup would make a new one.
    let empty = tempfile::tempdir().unwrap();
    let run = assert_refused(
        &moto,
        empty.path(),
        &[],
        "cannot adopt the truststore s3://trust-store-123456789012/RootCA.pem",
    );
    assert!(
        run.all()
            .contains("every client certificate the domain accepts now would be refused"),
        "{}",
        run.all()
    );
    assert!(
        !empty.path().join("RootCA.key").exists(),
        "refused before any file was written"
    );
}

/// The article's openssl commands, as written (`v3: false`: OpenSSL 3 makes the client,
/// intermediate and server certificates X.509 v1) or with the extensions each role needs
/// (`v3: true`); subjects as the article's ("tent-takahashi ..."), never mtls's.
fn article_files(dir: &Path, v3: bool) {
    article_requests(dir);
    article_sign(dir, v3);
}

fn openssl_ok(dir: &Path, args: &[&str]) {
    let out = support::cli::openssl(dir, args);
    assert!(out.status.success(), "openssl {args:?}: {}", out.all());
}

/// The article's keys (0600), its self-signed root (v3: `req -x509` adds the CA
/// extensions) and the requests of the other three.
fn article_requests(dir: &Path) {
    let subj = |cn: &str| format!("/C=JP/ST=Tokyo/O=Classmethod/CN={cn}");
    openssl_ok(dir, &["genrsa", "-out", "RootCA.key", "4096"]);
    openssl_ok(
        dir,
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "36500",
            "-key",
            "RootCA.key",
            "-out",
            "RootCA.pem",
            "-subj",
            &subj("tent-takahashi ca"),
        ],
    );
    for (name, cn) in [
        ("client", "tent-takahashi client"),
        ("inca", "tent-takahashi inca"),
        ("server", DOMAIN),
    ] {
        let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
        openssl_ok(dir, &["genrsa", "-out", &key, "2048"]);
        openssl_ok(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-out",
                &csr,
                "-subj",
                &subj(cn),
            ],
        );
    }
    for f in ["RootCA.key", "client.key", "inca.key", "server.key"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The article's `openssl x509 -req` for the client, intermediate and server (again, from
/// the same keys and requests, when called twice), with `-extfile` when `v3`.
fn article_sign(dir: &Path, v3: bool) {
    let ext = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    ext("client.ext", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
    ext(
        "inca.ext",
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
    );
    ext("server.ext", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:api.example.com\n");
    for (name, ca, serial) in [
        ("client", "RootCA", "01"),
        ("inca", "RootCA", if v3 { "02" } else { "01" }),
        ("server", "inca", "01"),
    ] {
        let (csr, pem) = (format!("{name}.csr"), format!("{name}.pem"));
        let (ca_pem, ca_key, extfile) = (
            format!("{ca}.pem"),
            format!("{ca}.key"),
            format!("{name}.ext"),
        );
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-set_serial",
            serial,
            "-out",
            &pem,
            "-days",
            "36500",
            "-sha256",
        ];
        if v3 {
            args.extend(["-extfile", &extfile]);
        }
        openssl_ok(dir, &args);
    }
}

#[test]
fn a_v1_chain_in_acm_is_adopted_as_it_is_with_a_warning_naming_the_rollover() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    article_requests(dir);
    article_sign(dir, false);
    // ACM gets the article's v1 chain; the files here are then re-issued as v3 (same keys).
    walkthrough_by_hand(&moto, dir);
    article_sign(dir, true);
    moto.reset_recording();
    let plan = adopt_plan(&moto, dir, &["--var", "keep_existing_pki=true"]);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    for text in [
        "chains through an X.509 v1 CA (C=JP, ST=Tokyo, O=Classmethod, CN=tent-takahashi inca)",
        "kept as it is, since clients use it",
        "mtls run rollover.rhai --var domain=api.example.com --var phase=add",
        "<- acm certificate      server certificate for api.example.com",
    ] {
        assert!(
            plan.all().contains(text),
            "{text:?} missing:\n{}",
            plan.all()
        );
    }
    assert!(
        mutating(&moto).is_empty(),
        "{}",
        described(&mutating(&moto))
    );
}

#[test]
fn the_articles_v1_intermediate_is_named_with_the_rollover_that_replaces_it() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    article_files(dir, false);
    let version = support::cli::openssl(dir, &["x509", "-in", "inca.pem", "-noout", "-text"]);
    assert!(
        version.stdout.contains("Version: 1 (0x0)"),
        "the recipe makes v1: {}",
        version.stdout
    );
    walkthrough_by_hand(&moto, dir);
    moto.reset_recording();
    let plan = adopt_plan(&moto, dir, &[]);
    assert_eq!(plan.status.code(), Some(1), "{}", plan.all());
    for text in [
        "inca.pem is an X.509 v1 certificate (client.pem, server.pem are v1 too)",
        "\"invalid CA certificate\"",
        "mtls run rollover.rhai --var domain=api.example.com --var phase=add",
    ] {
        assert!(
            plan.all().contains(text),
            "{text:?} missing:\n{}",
            plan.all()
        );
    }
    let run = assert_refused(
        &moto,
        dir,
        &["--var", "keep_existing_pki=true"],
        "inca.pem is an X.509 v1 certificate",
    );
    assert!(run.all().contains("phase=retire"), "{}", run.all());
}

#[test]
fn with_keep_existing_pki_a_valid_ca_of_another_subject_is_kept_as_it_is() {
    let moto = Moto::start();
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    article_files(dir, true);
    let hand = walkthrough_by_hand(&moto, dir);
    let before: Vec<Vec<u8>> = ["RootCA.pem", "inca.pem", "server.pem", "client.pem"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    // The default stays strict: another subject is an error, before any change on AWS.
    let strict = assert_refused(
        &moto,
        dir,
        &[],
        "RootCA.pem exists with subject C=JP, ST=Tokyo, O=Classmethod, CN=tent-takahashi ca",
    );
    assert!(
        strict.all().contains("but the script asks for"),
        "{}",
        strict.all()
    );
    moto.reset_recording();
    run_setup(
        dir,
        &moto.env(),
        &["--var", "adopt=true", "--var", "keep_existing_pki=true"],
    )
    .success();
    let sent = mutating(&moto);
    assert!(
        !sent
            .iter()
            .any(|r| r.is_acm_import_certificate() || r.path == "/domainnames"),
        "{}",
        described(&sent)
    );
    let after: Vec<Vec<u8>> = ["RootCA.pem", "inca.pem", "server.pem", "client.pem"]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).unwrap())
        .collect();
    assert_eq!(before, after, "the user's files are used as they are");
    let d = hand
        .rt
        .block_on(hand.aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap();
    assert_eq!(
        d.regional_certificate_arn.as_deref(),
        Some(hand.server_arn.as_str())
    );
}

//! `setup.rhai` and `teardown.rhai` against moto_server: the whole walkthrough applied,
//! re-applied without a change, planned, and removed.

use crate::support;

use std::path::Path;

use mtls::aws::Aws;
use support::cli::{mtls_env, run_setup, Run, SetupArgs};
use support::moto::{endpoint_turned_off_then_deployed, Moto};
use support::realism::{assert_converged, moto_call, workdir_with_pki, Inventory};

const DOMAIN: &str = "api.example.com";
const BUCKET: &str = "trust-store-123456789012";
/// Each domain's truststore is its own object, so domains sharing the bucket stay apart.
const TRUSTSTORE_KEY: &str = "api.example.com/RootCA.pem";

fn setup(moto: &Moto, dir: &Path, extra: &[&str]) -> Run {
    run_setup(dir, &moto.env(), extra)
}

fn aws(moto: &Moto) -> (tokio::runtime::Runtime, Aws) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
    (rt, aws)
}

fn mutating(moto: &Moto) -> Vec<String> {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| format!("{} {} {:?}", r.method, r.path, r.rpc_action()))
        .collect()
}

#[test]
fn setup_applies_the_walkthrough_then_changes_nothing_and_teardown_removes_it() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let first = setup(&moto, dir, &[]);
    assert!(
        first.status.success(),
        "setup failed:\n{}\nmoto log:\n{}",
        first.all(),
        moto.log()
    );
    assert!(
        first.stdout.contains("Name servers of api.example.com."),
        "{}",
        first.stdout
    );

    let (rt, aws) = aws(&moto);
    // Step 6: a versioned bucket holding RootCA.pem.
    let head = rt
        .block_on(aws.s3().head_object(BUCKET, TRUSTSTORE_KEY, None))
        .unwrap()
        .expect("truststore object");
    let version = head.version_id.clone().expect("a version id");
    assert_eq!(
        rt.block_on(aws.s3().versioning(BUCKET)).unwrap(),
        mtls::aws::s3::Versioning::Enabled
    );

    // Steps 7-8: the imported certificate is server.pem with chain inca.pem; the requested one is ISSUED.
    let tag = |role: &str| {
        let mut t = mtls::aws::Tags::new();
        t.insert("mtls:domain".into(), DOMAIN.into());
        t.insert("mtls:role".into(), role.into());
        t
    };
    let imported = rt
        .block_on(aws.acm().find_certificates(None, &tag("server")))
        .unwrap();
    assert_eq!(imported.len(), 1, "{imported:?}");
    let pem = rt
        .block_on(aws.acm().certificate_pem(&imported[0].arn))
        .unwrap();
    let same = |a: &str, b: &str| {
        a.split_whitespace().collect::<String>() == b.split_whitespace().collect::<String>()
    };
    assert!(same(
        &pem.certificate,
        &std::fs::read_to_string(dir.join("server.pem")).unwrap()
    ));
    // ACM answers the chain it was given followed by a root of its own: inca.pem comes first.
    let chain = pem.chain.clone().unwrap_or_default();
    let inca = std::fs::read_to_string(dir.join("inca.pem")).unwrap();
    let first_block = chain
        .split("-----END CERTIFICATE-----")
        .next()
        .unwrap_or_default()
        .to_string()
        + "-----END CERTIFICATE-----";
    assert!(
        same(&first_block, &inca),
        "chain does not start with inca.pem:\n{chain}"
    );
    let requested = rt
        .block_on(
            aws.acm()
                .find_certificates(None, &tag("ownership-verification")),
        )
        .unwrap();
    assert_eq!(requested.len(), 1, "{requested:?}");
    let owner = rt.block_on(aws.acm().describe(&requested[0].arn)).unwrap();
    assert_eq!(owner.status, "ISSUED");
    let validation = owner.validation_cname.clone().expect("validation record");

    // Steps 1, 8, 14: the zone has the validation CNAME and the alias A record.
    let zone = rt
        .block_on(aws.route53().find_public_zone(DOMAIN))
        .unwrap()
        .expect("zone");
    let records = rt.block_on(aws.route53().records(&zone.id)).unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.record_type == "CNAME" && r.name == validation.name),
        "{records:?}"
    );

    // Steps 9-13: the API, its stage, the domain and the mapping.
    let api = rt
        .block_on(aws.apigateway().find_rest_api("PetStore"))
        .unwrap()
        .expect("PetStore");
    assert!(api.disable_execute_api_endpoint);
    assert!(rt
        .block_on(aws.apigateway().stage(&api.id, "prod"))
        .unwrap()
        .is_some());
    let domain = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .expect("domain");
    assert_eq!(domain.endpoint_types, vec!["REGIONAL"]);
    let mapping = rt
        .block_on(aws.apigateway().base_path_mapping(DOMAIN, None))
        .unwrap()
        .expect("mapping");
    assert_eq!(mapping.rest_api_id, api.id);
    assert_eq!(mapping.stage.as_deref(), Some("prod"));
    let alias = records
        .iter()
        .find(|r| r.record_type == "A" && r.name == "api.example.com.")
        .expect("alias A");
    let target = alias.alias.as_ref().expect("alias target");
    assert_eq!(
        Some(target.dns_name.trim_end_matches('.')),
        domain.regional_domain_name.as_deref()
    );
    assert_eq!(
        Some(target.hosted_zone_id.as_str()),
        domain.regional_hosted_zone_id.as_deref()
    );

    // moto drops the mTLS fields: check what mtls sent.
    let posts = moto.requests_to("POST", "/domainnames");
    assert_eq!(posts.len(), 1);
    let body = posts[0].body_json();
    assert_eq!(
        body["mutualTlsAuthentication"]["truststoreUri"],
        format!("s3://{BUCKET}/{TRUSTSTORE_KEY}")
    );
    assert_eq!(
        body["mutualTlsAuthentication"]["truststoreVersion"],
        version.as_str()
    );
    assert_eq!(body["securityPolicy"], "TLS_1_2");
    assert_eq!(body["endpointConfiguration"]["types"][0], "REGIONAL");
    assert_eq!(body["regionalCertificateArn"], imported[0].arn.as_str());
    assert_eq!(
        body["ownershipVerificationCertificateArn"],
        requested[0].arn.as_str()
    );
    // No key material in what mtls printed.
    for line in support::cli::key_fingerprints(dir) {
        assert!(!first.all().contains(&line), "key material in output");
    }

    // A second run: every step kept, not one mutating call.
    moto.reset_recording();
    let second = setup(&moto, dir, &[]);
    assert!(second.status.success(), "{}", second.all());
    assert_eq!(
        mutating(&moto),
        Vec::<String>::new(),
        "second run changed things:\n{}",
        second.all()
    );
    assert!(
        second
            .stdout
            .contains("Applied: 0 created, 0 updated, 0 replaced"),
        "{}",
        second.stdout
    );

    // A refreshed plan agrees: nothing to do.
    moto.reset_recording();
    let args = SetupArgs::plan().args(&["--refresh"]);
    let plan = mtls_env(dir, &args.to_vec(), &moto.env());
    assert!(plan.status.success(), "{}", plan.all());
    assert!(
        plan.stdout
            .contains("Plan: 0 to create, 0 to update, 0 to replace"),
        "{}",
        plan.stdout
    );
    assert_eq!(mutating(&moto), Vec::<String>::new());

    // A new CA (--force makes new keys and certificates): the truststore gets a new version,
    // the server certificate (from another issuer now) is imported as a new certificate, not
    // over the ARN the domain presents (API Gateway refuses a re-import across issuers), the
    // domain is pointed at it and at the new truststore version (the article's main trap) in
    // one PATCH, and the old certificate is deleted.
    moto.reset_recording();
    let rotated = setup(&moto, dir, &["--force"]);
    assert!(rotated.status.success(), "{}", rotated.all());
    let new_head = rt
        .block_on(aws.s3().head_object(BUCKET, TRUSTSTORE_KEY, None))
        .unwrap()
        .unwrap();
    let new_version = new_head.version_id.unwrap();
    assert_ne!(new_version, version);
    let imports: Vec<_> = moto
        .recorded_requests()
        .into_iter()
        .filter(|r| r.rpc_action().as_deref() == Some("ImportCertificate"))
        .collect();
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0].body_json().get("CertificateArn"), None);
    let now = rt
        .block_on(aws.acm().find_certificates(None, &tag("server")))
        .unwrap();
    assert_eq!(now.len(), 1, "the old certificate is deleted: {now:?}");
    assert_ne!(now[0].arn, imported[0].arn);
    let patches = moto.requests_to("PATCH", "/domainnames/api.example.com");
    assert_eq!(patches.len(), 1, "{}", rotated.all());
    let ops = patches[0].body_json()["patchOperations"].clone();
    let sets = |path: &str, value: &str| {
        ops.as_array()
            .unwrap()
            .iter()
            .any(|op| op["path"] == path && op["value"] == value)
    };
    assert!(
        sets("/mutualTlsAuthentication/truststoreVersion", &new_version),
        "{ops}"
    );
    assert!(sets("/regionalCertificateArn", &now[0].arn), "{ops}");
    assert!(
        rotated.stdout.contains("1 updated")
            || rotated.all().contains("~ updated api custom domain"),
        "{}",
        rotated.all()
    );

    // Teardown removes it all; a second teardown finds nothing to do.
    let down = mtls_env(dir, &SetupArgs::teardown().to_vec(), &moto.env());
    assert!(down.status.success(), "{}", down.all());
    assert!(rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .is_none());
    assert!(rt
        .block_on(aws.apigateway().find_rest_api("PetStore"))
        .unwrap()
        .is_none());
    assert!(rt
        .block_on(aws.apigateway().base_path_mapping(DOMAIN, None))
        .unwrap()
        .is_none());
    let mut by_domain = mtls::aws::Tags::new();
    by_domain.insert("mtls:domain".into(), DOMAIN.into());
    assert!(rt
        .block_on(aws.acm().find_certificates(None, &by_domain))
        .unwrap()
        .is_empty());
    assert_eq!(
        rt.block_on(aws.s3().find_bucket(BUCKET)).unwrap(),
        mtls::aws::s3::BucketState::Absent
    );
    let left = rt.block_on(aws.route53().records(&zone.id)).unwrap();
    assert!(
        left.iter()
            .all(|r| r.record_type == "NS" || r.record_type == "SOA"),
        "{left:?}"
    );
    // The zone stays (the registrar delegates to it) unless asked.
    assert!(rt
        .block_on(aws.route53().find_public_zone(DOMAIN))
        .unwrap()
        .is_some());
    // Keys and certificates on disk stay.
    assert!(dir.join("RootCA.key").is_file());

    moto.reset_recording();
    let again = mtls_env(dir, &SetupArgs::teardown().to_vec(), &moto.env());
    assert!(again.status.success(), "{}", again.all());
    assert_eq!(mutating(&moto), Vec::<String>::new());
}

#[test]
fn offline_plan_needs_no_credentials_and_makes_no_request() {
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    // The endpoint points at moto so that any request would be seen; no credentials at all.
    let env = vec![
        ("AWS_ENDPOINT_URL".to_string(), moto.endpoint_url()),
        ("AWS_ACCESS_KEY_ID".to_string(), String::new()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), String::new()),
        ("AWS_CONFIG_FILE".to_string(), "/nonexistent".to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE".to_string(),
            "/nonexistent".to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED".to_string(), "true".to_string()),
        ("AWS_REGION".to_string(), "us-east-1".to_string()),
    ];
    let plan = mtls_env(tmp.path(), &SetupArgs::plan().with_probe().to_vec(), &env);
    assert!(plan.status.success(), "{}", plan.all());
    assert!(moto.recorded_requests().is_empty(), "a plan called AWS");
    for step in [
        "route53 hosted zone",
        "s3 bucket",
        "s3 object",
        "acm certificate",
        "rest api",
        "rest api setting",
        "api stage",
        "api custom domain",
        "api mapping",
        "route53 record",
        "https probe",
    ] {
        assert!(
            plan.stdout.contains(step),
            "{step} missing from the plan:\n{}",
            plan.stdout
        );
    }
    let has_arg = |name: &str, value: &str| {
        plan.stdout.lines().any(|l| {
            let l = l.trim();
            l.starts_with(name) && l.ends_with(&format!("= \"{value}\""))
        })
    };
    for (name, value) in [
        ("security_policy", "TLS_1_2"),
        ("endpoint", "REGIONAL"),
        ("stage", "prod"),
        (
            "truststore_uri",
            "s3://trust-store-(known after apply)/api.example.com/RootCA.pem",
        ),
        ("region", "us-east-1"),
    ] {
        assert!(
            has_arg(name, value),
            "{name} = {value:?} missing from the plan:\n{}",
            plan.stdout
        );
    }
    assert!(!plan.stdout.contains("PRIVATE KEY"));
    assert!(
        !plan.stdout.contains("mtls::"),
        "a Rust type name leaked into the plan:\n{}",
        plan.stdout
    );

    // Without a region anywhere, the plan says the region is not known yet.
    let mut no_region: Vec<_> = env
        .iter()
        .filter(|(k, _)| k != "AWS_REGION")
        .cloned()
        .collect();
    no_region.push(("AWS_REGION".to_string(), String::new()));
    no_region.push(("AWS_DEFAULT_REGION".to_string(), String::new()));
    let args = SetupArgs::plan().with_probe();
    let plan = mtls_env(tmp.path(), &args.to_vec(), &no_region);
    assert!(plan.status.success(), "{}", plan.all());
    assert!(
        plan.stdout.contains("region = (known after apply)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("mtls::"), "{}", plan.stdout);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "a plan wrote files"
    );
}

#[test]
fn setup_ends_with_the_articles_check_and_says_what_to_do_when_it_fails() {
    // `localhost:443` has no server: the final check (step 15) cannot pass, and an
    // unreachable host must not count as "refused the client without a certificate".
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let args = SetupArgs::run().domain("localhost").with_probe();
    let out = mtls_env(tmp.path(), &args.to_vec(), &moto.env());
    assert!(!out.status.success(), "{}", out.all());
    assert!(
        out.stdout.contains("FAIL  client certificate"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("FAIL  no client certificate"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("unreachable (connect)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("run this again later"),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("2 of 2 mTLS checks failed"),
        "{}",
        out.stderr
    );
    // Everything before the check was applied.
    assert_eq!(moto.requests_to("POST", "/domainnames").len(), 1);
}

#[test]
fn teardown_keeps_a_bucket_that_holds_other_objects() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let bucket = "shared-bucket";
    rt.block_on(aws.s3().create_bucket(bucket)).unwrap();
    rt.block_on(
        aws.s3()
            .put_object(bucket, "other.txt", b"not mtls's", "text/plain"),
    )
    .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let up = setup(&moto, tmp.path(), &["--var", "bucket=shared-bucket"]);
    assert!(up.status.success(), "{}", up.all());
    assert!(rt
        .block_on(aws.s3().head_object(bucket, TRUSTSTORE_KEY, None))
        .unwrap()
        .is_some());

    let args = SetupArgs::teardown().var("bucket", "shared-bucket");
    let down = mtls_env(tmp.path(), &args.to_vec(), &moto.env());
    assert!(down.status.success(), "{}", down.all());
    assert!(
        down.stdout.contains("holds objects mtls did not put there"),
        "{}",
        down.stdout
    );
    let left = rt
        .block_on(aws.s3().list_object_versions(bucket, None))
        .unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].key, "other.txt");
}

#[test]
fn someone_elses_api_of_the_same_name_is_neither_adopted_nor_deleted() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let theirs = rt
        .block_on(
            aws.apigateway()
                .import_rest_api(&mtls::petstore::openapi_json("PetStore"), false),
        )
        .unwrap();
    assert_eq!(theirs.name, "PetStore");

    // API names are not unique: mtls makes its own, found again by its tag.
    let tmp = tempfile::tempdir().unwrap();
    setup(&moto, tmp.path(), &[]).success();
    let named = rt
        .block_on(aws.apigateway().list_rest_apis(|a| a.name == "PetStore"))
        .unwrap();
    assert_eq!(named.len(), 2, "{named:?}");
    let ours: Vec<_> = named.iter().filter(|a| a.id != theirs.id).collect();
    assert_eq!(
        ours[0].tags.get("mtls:domain").map(String::as_str),
        Some(DOMAIN)
    );
    assert!(
        moto.requests_to("PATCH", &format!("/restapis/{}", theirs.id))
            .is_empty(),
        "their API was changed"
    );
    // A second run keeps ours and still leaves theirs alone.
    let again = setup(&moto, tmp.path(), &[]).success();
    assert!(!again.all().contains("created rest api"), "{}", again.all());

    let down = mtls_env(tmp.path(), &SetupArgs::teardown().to_vec(), &moto.env()).success();
    assert!(down.stderr.contains("deleted rest api"), "{}", down.all());
    let left = rt
        .block_on(aws.apigateway().list_rest_apis(|a| a.name == "PetStore"))
        .unwrap();
    let ids: Vec<&str> = left.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [theirs.id.as_str()],
        "their API must stay, ours must go"
    );
}

/// Two domains in one account, both with every default: each setup finds its own API,
/// certificate and truststore object by tag or key; tearing one down leaves the other whole.
#[test]
fn two_domains_in_one_account_with_the_defaults() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let run = |dir: &std::path::Path, script: &str, domain: &str| {
        let args = SetupArgs::run().script(script).domain(domain);
        mtls_env(dir, &args.to_vec(), &moto.env()).success()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(a.path(), "setup.rhai", "a.example.com");
    run(b.path(), "setup.rhai", "b.example.com");
    // Second runs change nothing for either.
    moto.reset_recording();
    run(a.path(), "setup.rhai", "a.example.com");
    run(b.path(), "setup.rhai", "b.example.com");
    let mutating: Vec<_> = moto
        .recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(mutating.is_empty(), "{mutating:?}");

    run(a.path(), "teardown.rhai", "a.example.com");
    let domain_b = rt
        .block_on(aws.apigateway().domain_name("b.example.com"))
        .unwrap()
        .expect("b's domain is still there");
    assert!(rt
        .block_on(aws.apigateway().domain_name("a.example.com"))
        .unwrap()
        .is_none());
    let mapping = rt
        .block_on(aws.apigateway().base_path_mapping("b.example.com", None))
        .unwrap()
        .expect("b's mapping is still there");
    let api = rt
        .block_on(aws.apigateway().rest_api(&mapping.rest_api_id))
        .unwrap()
        .expect("b's API is still there");
    assert_eq!(
        api.tags.get("mtls:domain").map(String::as_str),
        Some("b.example.com")
    );
    // The truststore version b's domain is pinned to still exists.
    let version = domain_b.truststore_version.expect("b's domain has mTLS");
    let object = rt
        .block_on(
            aws.s3()
                .head_object(BUCKET, "b.example.com/RootCA.pem", Some(&version)),
        )
        .unwrap();
    assert!(object.is_some(), "b's truststore version was deleted");
    // And b's setup still changes nothing.
    moto.reset_recording();
    run(b.path(), "setup.rhai", "b.example.com");
    assert!(moto.recorded_requests().iter().all(|r| !r.is_mutating()));
}

#[test]
fn an_existing_record_for_the_domain_is_neither_replaced_nor_deleted() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let zone = rt.block_on(aws.route53().create_zone(DOMAIN)).unwrap();
    let website = mtls::aws::route53::AliasTarget {
        dns_name: "d111111abcdef8.cloudfront.net".into(),
        hosted_zone_id: "Z2FDTNDATAQYW2".into(),
        evaluate_target_health: false,
    };
    rt.block_on(aws.route53().upsert_alias_a(&zone.id, DOMAIN, &website))
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let up = setup(&moto, tmp.path(), &[]);
    assert!(!up.status.success(), "{}", up.all());
    assert!(
        up.stderr
            .contains("points at d111111abcdef8.cloudfront.net"),
        "{}",
        up.stderr
    );
    let down = mtls_env(tmp.path(), &SetupArgs::teardown().to_vec(), &moto.env());
    assert!(down.status.success(), "{}", down.all());
    let records = rt.block_on(aws.route53().records(&zone.id)).unwrap();
    let a = records
        .iter()
        .find(|r| r.record_type == "A")
        .expect("their A record stays");
    assert_eq!(
        a.alias.as_ref().unwrap().dns_name.trim_end_matches('.'),
        "d111111abcdef8.cloudfront.net"
    );
}

#[test]
fn someone_elses_custom_domain_is_neither_changed_nor_deleted() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let no_tags = mtls::aws::Tags::new();
    let spec = mtls::aws::apigateway::MtlsDomainSpec {
        domain_name: DOMAIN,
        regional_certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/theirs",
        truststore_uri: "s3://their-bucket/their.pem",
        truststore_version: Some("v1"),
        ownership_verification_certificate_arn: None,
        tags: &no_tags,
    };
    rt.block_on(aws.apigateway().create_domain_name(&spec))
        .unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let up = setup(&moto, tmp.path(), &[]);
    assert!(!up.status.success(), "{}", up.all());
    assert!(
        up.stderr.contains("mtls did not create it"),
        "{}",
        up.stderr
    );
    assert!(
        moto.requests_to("PATCH", "/domainnames/api.example.com")
            .is_empty(),
        "their domain was changed"
    );

    let down = mtls_env(tmp.path(), &SetupArgs::teardown().to_vec(), &moto.env());
    assert!(down.status.success(), "{}", down.all());
    let kept = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .expect("their domain stays");
    assert_eq!(
        kept.truststore_uri.as_deref(),
        Some("s3://their-bucket/their.pem")
    );
}

/// The moto patches this file's tests rely on answer as AWS does (tests/support/moto.rs):
/// the string "false" turns the default endpoint back on (API Gateway developer guide,
/// rest-api-disable-default-endpoint: the flag is a patch value, "True"/"False"); a second
/// CreateDomainName of a name is refused with 409 ConflictException (API Gateway API
/// reference, CreateDomainName, Errors); a patch path UpdateDomainName does not support is
/// refused with 400 BadRequestException (API reference, PatchOperation, UpdateDomainName).
#[test]
fn moto_patched_answers_the_endpoint_flag_a_second_domain_and_a_bad_patch_path_as_aws() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let api = rt
        .block_on(
            aws.apigateway()
                .import_rest_api(&mtls::petstore::openapi_json("PetStore"), false),
        )
        .unwrap();
    let port: u16 = moto
        .endpoint_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    for (value, disabled) in [
        ("true", true),
        ("false", false),
        ("True", true),
        ("FALSE", false),
    ] {
        let body = format!(
            r#"{{"patchOperations": [{{"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "{value}"}}]}}"#
        );
        let (status, answer) = moto_call(
            port,
            "PATCH",
            &format!("/restapis/{}", api.id),
            "apigateway",
            body.as_bytes(),
        )
        .unwrap();
        assert_eq!(status, 200, "{answer}");
        let read = rt
            .block_on(aws.apigateway().rest_api(&api.id))
            .unwrap()
            .unwrap();
        assert_eq!(
            read.disable_execute_api_endpoint, disabled,
            "value {value:?}"
        );
    }

    let no_tags = mtls::aws::Tags::new();
    let spec = mtls::aws::apigateway::MtlsDomainSpec {
        domain_name: DOMAIN,
        regional_certificate_arn: "arn:aws:acm:us-east-1:123456789012:certificate/first",
        truststore_uri: "s3://bucket/first.pem",
        truststore_version: Some("v1"),
        ownership_verification_certificate_arn: None,
        tags: &no_tags,
    };
    rt.block_on(aws.apigateway().create_domain_name(&spec))
        .unwrap();
    let again = mtls::aws::apigateway::MtlsDomainSpec {
        truststore_uri: "s3://bucket/second.pem",
        ..spec
    };
    let refused = rt
        .block_on(aws.apigateway().create_domain_name(&again))
        .expect_err("a second CreateDomainName of the same name");
    assert_eq!(
        refused.code.as_deref(),
        Some("ConflictException"),
        "{refused}"
    );
    let kept = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.truststore_uri.as_deref(),
        Some("s3://bucket/first.pem")
    );

    let path = format!("/domainnames/{DOMAIN}");
    for op in [
        r#"{"op": "replace", "path": "/mutualTlsAuthentication/truststoreUrl", "value": "s3://bucket/x.pem"}"#,
        r#"{"op": "add", "path": "/regionalCertificateArn", "value": "arn:x"}"#,
    ] {
        let body = format!(r#"{{"patchOperations": [{op}]}}"#);
        let (status, answer) =
            moto_call(port, "PATCH", &path, "apigateway", body.as_bytes()).unwrap();
        assert_eq!(status, 400, "{op}: {answer}");
        assert!(answer.contains("BadRequestException"), "{answer}");
    }
    let kept = rt
        .block_on(aws.apigateway().domain_name(DOMAIN))
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.regional_certificate_arn.as_deref(),
        Some(spec.regional_certificate_arn)
    );
}

/// The default endpoint turned back on behind mtls's back, with the string "false" as the
/// SDKs and the CLI send it, is turned off by the next setup, and the stage is deployed
/// again after that: the setting takes effect only with a deployment (API Gateway developer
/// guide, rest-api-disable-default-endpoint).
#[test]
fn a_default_endpoint_turned_back_on_is_turned_off_and_the_stage_redeployed() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    setup(&moto, dir.path(), &[]).success();
    let (rt, aws) = aws(&moto);
    let api = Inventory::of(&moto, DOMAIN).apis[0].clone();
    rt.block_on(
        aws.apigateway()
            .set_execute_api_endpoint_disabled(&api, false),
    )
    .unwrap();
    assert!(
        !Inventory::of(&moto, DOMAIN).endpoint_disabled,
        "the string \"false\" did not turn the endpoint on (tests/support/moto.rs)"
    );

    moto.reset_recording();
    let again = setup(&moto, dir.path(), &[]).success();
    if let Err(e) = endpoint_turned_off_then_deployed(&moto.recorded_requests(), &api) {
        panic!("{e}:\n{}", again.all());
    }
    assert_converged(&moto, DOMAIN, DOMAIN, &again.all());
}

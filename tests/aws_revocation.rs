//! Revocation enforced on API Gateway (issue 21, item 2): the authorizer's own unit tests,
//! and `setup.rhai --var revocation=true` against moto.

use crate::support;

use mtls::aws::Aws;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::cli::{mtls_env, openssl, run_setup, Run, SetupArgs};
use support::moto::{Moto, RecordedRequest, ACCOUNT_ID};
use support::realism::{
    secs, workdir_with_pki, Call, FunctionUpdating, Realism, RoleNotAssumableYet,
};

/// The authorizer's unit tests (authorizer/test_authorizer.py) with API Gateway REQUEST
/// events: not revoked -> allow, revoked -> deny, another issuer's serial -> allow, no
/// client certificate -> deny, a list changed in S3 -> the next decision uses it.
#[test]
fn the_authorizer_passes_its_unit_tests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("authorizer");
    let out = Command::new("python3")
        .args(["-m", "unittest", "-v"])
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3 runs");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    // Every case ran (a renamed or skipped one would not show).
    for case in [
        "test_a_certificate_not_revoked_is_allowed",
        "test_a_revoked_certificate_is_denied",
        "test_the_same_serial_from_another_issuer_is_allowed",
        "test_no_client_certificate_is_denied",
        "test_a_list_changed_in_s3_is_used_by_the_next_decision_after_the_ttl",
    ] {
        assert!(
            report.contains(&format!("{case} ")),
            "{case} did not run:\n{report}"
        );
    }
}

const DOMAIN: &str = "api.example.com";
const BUCKET: &str = "trust-store-123456789012";
const INDEX_KEY: &str = "api.example.com/revoked.json";
const CRL_KEY: &str = "api.example.com/RootCA.crl.pem";
const NAME: &str = "mtls-revocation-api-example-com";
/// RootCA.pem's subject as API Gateway writes an issuerDN.
const ROOT_DN: &str = "C=JP,ST=Tokyo,O=Example,CN=mtls root CA";

fn aws(moto: &Moto) -> (tokio::runtime::Runtime, Aws) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt.block_on(Aws::connect(&moto.settings())).unwrap();
    (rt, aws)
}

fn setup(moto: &Moto, dir: &Path) -> Run {
    run_setup(dir, &moto.env(), &["--var", "revocation=true"])
}

/// `plan setup.rhai --var revocation=true --refresh --detailed-exitcode`.
fn drift_check(moto: &Moto, dir: &Path) -> Run {
    let args = SetupArgs::plan()
        .args(&["--refresh", "--detailed-exitcode"])
        .var("revocation", "true");
    mtls_env(dir, &args.to_vec(), &moto.env())
}

/// Revokes `cert` with `openssl ca -gencrl` (RootCA.crl.pem, signed by RootCA); returns its
/// serial in lowercase hex without leading zeros.
fn revoke_with_openssl(dir: &Path, cert: &str) -> String {
    let serial = openssl(dir, &["x509", "-in", cert, "-noout", "-serial"]).stdout;
    let serial = serial.trim().trim_start_matches("serial=").to_string();
    let subject = openssl(
        dir,
        &[
            "x509", "-in", cert, "-noout", "-subject", "-nameopt", "compat",
        ],
    )
    .stdout;
    let subject = subject.trim().trim_start_matches("subject=").to_string();
    std::fs::write(
        dir.join("index.txt"),
        format!("R\t991231000000Z\t260101000000Z\t{serial}\tunknown\t{subject}\n"),
    )
    .unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    std::fs::write(
        dir.join("ca.cnf"),
        "[ca]\ndefault_ca=CA\n[CA]\ndatabase=index.txt\ncrlnumber=crlnumber\ncertificate=RootCA.pem\nprivate_key=RootCA.key\ndefault_md=sha256\ndefault_crl_days=30\n",
    )
    .unwrap();
    let made = openssl(
        dir,
        &[
            "ca",
            "-config",
            "ca.cnf",
            "-gencrl",
            "-out",
            "RootCA.crl.pem",
        ],
    );
    assert!(made.status.success(), "{}", made.all());
    serial
        .to_ascii_lowercase()
        .trim_start_matches('0')
        .to_string()
}

/// A form field of a query-protocol request (IAM), decoded.
fn form(r: &RecordedRequest, name: &str) -> Option<String> {
    r.body_text().split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| mtls::aws::iam::percent_decode(&v.replace('+', " ")))
    })
}

fn calls(moto: &Moto, action: &str) -> Vec<RecordedRequest> {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.rpc_action().as_deref() == Some(action))
        .collect()
}

fn mutating(moto: &Moto) -> Vec<String> {
    moto.recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| r.describe())
        .collect()
}

#[test]
fn setup_with_revocation_deploys_the_authorizer_keeps_it_mends_drift_and_teardown_removes_it() {
    let moto = Moto::start();
    let tmp = workdir_with_pki(DOMAIN);
    let dir = tmp.path();
    let serial = revoke_with_openssl(dir, "client.pem");

    let first = setup(&moto, dir);
    assert!(
        first.status.success(),
        "{}\nmoto log:\n{}",
        first.all(),
        moto.log()
    );
    let (rt, aws) = aws(&moto);
    let recorded = moto.recorded_requests();

    // The list: the index with client.pem's serial under RootCA's DN, and the CRL itself.
    let put = |key: &str| {
        recorded
            .iter()
            .find(|r| r.method == "PUT" && r.path == format!("/{BUCKET}/{key}"))
            .unwrap_or_else(|| panic!("no PutObject of {key}"))
            .clone()
    };
    let index: Value = serde_json::from_slice(&put(INDEX_KEY).body).unwrap();
    assert_eq!(index["format"], "mtls-revocation-index/1");
    assert_eq!(
        index["issuers"][ROOT_DN],
        serde_json::json!([serial]),
        "{index}"
    );
    assert_eq!(
        put(CRL_KEY).body,
        std::fs::read(dir.join("RootCA.crl.pem")).unwrap()
    );

    // The role: trusted by Lambda, allowed that one object and its own logs, nothing else.
    let role = &calls(&moto, "CreateRole")[0];
    let trust: Value =
        serde_json::from_str(&form(role, "AssumeRolePolicyDocument").unwrap()).unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"]["Service"],
        "lambda.amazonaws.com"
    );
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    let policy = &calls(&moto, "PutRolePolicy")[0];
    let policy: Value = serde_json::from_str(&form(policy, "PolicyDocument").unwrap()).unwrap();
    let group = format!("arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/aws/lambda/{NAME}");
    let granted: Vec<(String, String)> = policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            assert_eq!(s["Effect"], "Allow");
            let actions = match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                a => a
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            };
            actions
                .into_iter()
                .map(move |a| (a, s["Resource"].as_str().unwrap().to_string()))
        })
        .collect();
    assert_eq!(
        granted,
        [
            (
                "s3:GetObject".to_string(),
                format!("arn:aws:s3:::{BUCKET}/{INDEX_KEY}")
            ),
            ("logs:CreateLogGroup".to_string(), group.clone()),
            ("logs:CreateLogStream".to_string(), format!("{group}:*")),
            ("logs:PutLogEvents".to_string(), format!("{group}:*")),
        ]
    );

    // The function: Python 3.12, the authorizer's code, reading the index.
    let function = rt
        .block_on(aws.lambda().function(NAME))
        .unwrap()
        .expect("the function");
    assert_eq!(function.runtime.as_deref(), Some("python3.12"));
    assert_eq!(function.handler.as_deref(), Some("authorizer.handler"));
    assert_eq!(function.environment["MTLS_REVOCATION_BUCKET"], BUCKET);
    assert_eq!(function.environment["MTLS_REVOCATION_KEY"], INDEX_KEY);
    let create = recorded
        .iter()
        .find(|r| r.method == "POST" && r.path == "/2015-03-31/functions")
        .expect("CreateFunction");
    let zip = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        create.body_json()["Code"]["ZipFile"].as_str().unwrap(),
    )
    .unwrap();
    let source =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("authorizer/authorizer.py"))
            .unwrap();
    assert!(
        zip.windows(source.len()).any(|w| w == source),
        "the zip does not hold authorizer.py"
    );
    assert_eq!(create.body_json()["Tags"]["mtls:domain"], DOMAIN);

    // API Gateway may invoke it, from this API's authorizers only.
    let api = rt
        .block_on(aws.apigateway().find_rest_api("PetStore"))
        .unwrap()
        .expect("PetStore");
    let permission = recorded
        .iter()
        .find(|r| r.method == "POST" && r.path == format!("/2015-03-31/functions/{NAME}/policy"))
        .expect("AddPermission");
    assert_eq!(
        permission.body_json()["Principal"],
        "apigateway.amazonaws.com"
    );
    assert_eq!(
        permission.body_json()["SourceArn"],
        format!(
            "arn:aws:execute-api:us-east-1:{ACCOUNT_ID}:{}/authorizers/*",
            api.id
        )
    );

    // The REQUEST authorizer, TTL 0, on every method; then a deployment.
    let authorizers = rt.block_on(aws.apigateway().authorizers(&api.id)).unwrap();
    assert_eq!(authorizers.len(), 1, "{authorizers:?}");
    let authorizer = &authorizers[0];
    assert_eq!(
        (authorizer.kind.as_str(), authorizer.ttl_seconds),
        ("REQUEST", Some(0))
    );
    assert_eq!(
        authorizer.uri.as_deref(),
        Some(
            format!(
                "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{}/invocations",
                function.arn
            )
            .as_str()
        )
    );
    let methods = rt
        .block_on(aws.apigateway().method_authorizations(&api.id))
        .unwrap();
    assert_eq!(methods.len(), 2, "{methods:?}");
    for m in &methods {
        assert_eq!(
            (m.authorization_type.as_str(), m.authorizer_id.as_deref()),
            ("CUSTOM", Some(authorizer.id.as_str())),
            "{m:?}"
        );
    }
    let position = |f: &dyn Fn(&RecordedRequest) -> bool| recorded.iter().rposition(f);
    let last_patch =
        position(&|r| r.method == "PATCH" && r.path.contains("/methods/")).expect("UpdateMethod");
    let last_deploy =
        position(&|r| r.method == "POST" && r.path == format!("/restapis/{}/deployments", api.id))
            .unwrap();
    assert!(
        last_deploy > last_patch,
        "no deployment after the methods changed"
    );

    // Again: every step kept, no mutating call.
    moto.reset_recording();
    let second = setup(&moto, dir);
    assert!(second.status.success(), "{}", second.all());
    assert_eq!(mutating(&moto), Vec::<String>::new());

    // Drift: the authorizer detached behind mtls's back is an update (exit 2), re-attached by run.
    let get = &methods[0];
    rt.block_on(aws.apigateway().set_method_authorizer(
        &api.id,
        &get.resource_id,
        &get.http_method,
        None,
    ))
    .unwrap();
    let plan = drift_check(&moto, dir);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    assert!(
        plan.stdout.contains("api method authorization"),
        "{}",
        plan.stdout
    );
    setup(&moto, dir).success();
    let after = rt
        .block_on(aws.apigateway().method_authorizations(&api.id))
        .unwrap();
    assert!(
        after.iter().all(|m| m.authorization_type == "CUSTOM"),
        "{after:?}"
    );
    // The function's code changed elsewhere: an update, and the code is put back.
    rt.block_on(aws.lambda().update_code(
        NAME,
        &mtls::aws::lambda::zip_one_file("authorizer.py", b"def handler(e, c): return {}"),
    ))
    .unwrap();
    let plan = drift_check(&moto, dir);
    assert_eq!(plan.status.code(), Some(2), "{}", plan.all());
    assert!(plan.stdout.contains("CodeSha256"), "{}", plan.stdout);
    setup(&moto, dir).success();
    let plan = drift_check(&moto, dir);
    assert_eq!(plan.status.code(), Some(0), "{}", plan.all());

    // Teardown removes the function, the role, the list; the authorizer goes with the API.
    let down = mtls_env(
        dir,
        &["run", "teardown.rhai", "--var", "domain=api.example.com"],
        &moto.env(),
    );
    assert!(down.status.success(), "{}", down.all());
    assert_eq!(rt.block_on(aws.lambda().function(NAME)).unwrap(), None);
    assert_eq!(rt.block_on(aws.iam().role(NAME)).unwrap(), None);
    for key in [INDEX_KEY, CRL_KEY] {
        let left = rt.block_on(aws.s3().list_object_versions(BUCKET, Some(key)));
        assert!(
            left.map(|v| v.is_empty()).unwrap_or(true),
            "{key} left behind"
        );
    }
    assert!(rt
        .block_on(aws.apigateway().find_rest_api("PetStore"))
        .unwrap()
        .is_none());
    // Again (the bucket gone too): nothing to find, nothing changed.
    moto.reset_recording();
    let again = mtls_env(
        dir,
        &["run", "teardown.rhai", "--var", "domain=api.example.com"],
        &moto.env(),
    );
    assert!(again.status.success(), "{}", again.all());
    assert_eq!(mutating(&moto), Vec::<String>::new());
}

// ---- through AWS's slow states ----------------------------------------------------------

/// A run of `setup.rhai --var revocation=true` through `realism`; fails the test (with the
/// proxy's report) unless it succeeds.
fn setup_through(realism: &Realism, dir: &Path) -> Run {
    let run = run_setup(dir, &realism.env(), &["-v", "--var", "revocation=true"]);
    assert!(run.status.success(), "{}\n{}", run.all(), realism.report());
    run
}

/// The mutating calls among `calls`, as `SERVICE OPERATION`.
fn mutating_of(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.mutating.is_some())
        .map(|c| format!("{} {}", c.service, c.operation))
        .collect()
}

/// The events of `rule` saying it refused `operation`.
fn refusals(realism: &Realism, rule: &str, refused: &str, operation: &str) -> Vec<String> {
    realism
        .events_of(rule)
        .into_iter()
        .filter(|e| e.text.contains(refused) && e.text.starts_with(operation))
        .map(|e| e.text)
        .collect()
}

/// Asserts what exists in moto: one role (trusted by Lambda), one function running as it,
/// one REQUEST authorizer invoking that function, guarding every method.
#[track_caller]
fn assert_authorizer_converged(moto: &Moto, context: &str) {
    let (rt, aws) = aws(moto);
    let role = rt
        .block_on(aws.iam().role(NAME))
        .unwrap()
        .unwrap_or_else(|| panic!("no role\n{context}"));
    let function = rt
        .block_on(aws.lambda().function(NAME))
        .unwrap()
        .unwrap_or_else(|| panic!("no function\n{context}"));
    assert_eq!(
        function.role.as_deref(),
        Some(role.arn.as_str()),
        "{context}"
    );
    let api = rt
        .block_on(aws.apigateway().find_rest_api("PetStore"))
        .unwrap()
        .expect("PetStore");
    let authorizers = rt.block_on(aws.apigateway().authorizers(&api.id)).unwrap();
    assert_eq!(authorizers.len(), 1, "{authorizers:?}\n{context}");
    assert!(
        authorizers[0]
            .uri
            .as_deref()
            .is_some_and(|u| u.contains(&format!("/functions/{}/invocations", function.arn))),
        "{authorizers:?}\n{context}"
    );
    let methods = rt
        .block_on(aws.apigateway().method_authorizations(&api.id))
        .unwrap();
    assert_eq!(methods.len(), 2, "{methods:?}");
    for m in &methods {
        assert_eq!(
            (m.authorization_type.as_str(), m.authorizer_id.as_deref()),
            ("CUSTOM", Some(authorizers[0].id.as_str())),
            "{m:?}\n{context}"
        );
    }
}

/// A new execution role is not assumable by Lambda for a while (IAM's eventual
/// consistency): CreateFunction answers InvalidParameterValueException until it is, and
/// setup asks again until the function is made, once. Every rule of the authorizer's calls
/// is on; a second run changes nothing.
#[test]
fn setup_with_revocation_asks_again_while_lambda_cannot_assume_the_new_role() {
    let moto = Moto::start();
    let realism = Realism::start(
        &moto,
        vec![
            // CreateFunction follows CreateRole within half a second (measured on the loaded
            // 2-core machine): refused at least once.
            RoleNotAssumableYet::new(secs(3.0)),
            FunctionUpdating::new(secs(2.0), secs(2.0)),
        ],
    );
    let tmp = workdir_with_pki(DOMAIN);
    let dir = tmp.path();
    revoke_with_openssl(dir, "client.pem");

    setup_through(&realism, dir);
    let report = realism.report();
    // The rule fired: CreateFunction was refused, then made the function once.
    let refused = refusals(
        &realism,
        RoleNotAssumableYet::NAME,
        RoleNotAssumableYet::REFUSED,
        "CreateFunction",
    );
    assert!(!refused.is_empty(), "the role was never refused\n{report}");
    let creates = realism.calls_of("CreateFunction");
    let statuses: Vec<(Option<u16>, &str)> = creates.iter().map(|c| (c.status, c.by)).collect();
    assert_eq!(
        statuses.last(),
        Some(&(Some(201), "moto")),
        "{statuses:?}\n{report}"
    );
    assert!(
        statuses[..statuses.len() - 1]
            .iter()
            .all(|s| *s == (Some(400), RoleNotAssumableYet::NAME)),
        "{statuses:?}\n{report}"
    );
    // moto saw one CreateRole and one CreateFunction (the refused ones never reached it).
    assert_eq!(calls(&moto, "CreateRole").len(), 1, "{report}");
    let created: Vec<_> = moto
        .recorded_requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/2015-03-31/functions")
        .collect();
    assert_eq!(created.len(), 1, "{report}");
    // The new function was Pending (the other rule is on, and saw it).
    assert!(
        realism
            .events_of(FunctionUpdating::NAME)
            .iter()
            .any(|e| e.text.starts_with("CreateFunction") && e.text.contains("Pending")),
        "{report}"
    );
    assert_authorizer_converged(&moto, &report);

    // Again, through the same rules: nothing to change.
    let before = realism.calls().len();
    setup_through(&realism, dir);
    let again = realism.calls()[before..].to_vec();
    assert_eq!(
        mutating_of(&again),
        Vec::<String>::new(),
        "{}",
        realism.report()
    );
}

/// Lambda refuses a change to a function still busy with the last one (409
/// ResourceConflictException): while a new function is Pending, and while an update is
/// InProgress. The function made again elsewhere a moment ago with other code: setup's code
/// update is refused while it is Pending. Then its code and environment changed elsewhere:
/// setup's code update puts the function InProgress and its configuration update, right
/// after, is refused until the update is over. Both converge; a re-run changes nothing.
#[test]
fn function_updates_wait_while_lambda_is_busy_with_the_last_change() {
    let moto = Moto::start();
    let realism = Realism::start(
        &moto,
        vec![
            RoleNotAssumableYet::new(secs(2.0)),
            // Pending long enough for a fresh mtls process to reach the function after the
            // test made it (0.6 s measured on the loaded 2-core machine).
            FunctionUpdating::new(secs(5.0), secs(2.0)),
        ],
    );
    let tmp = workdir_with_pki(DOMAIN);
    let dir = tmp.path();
    revoke_with_openssl(dir, "client.pem");
    setup_through(&realism, dir);
    let (rt, aws) = aws(&moto);
    let deployed = rt
        .block_on(aws.lambda().function(NAME))
        .unwrap()
        .expect("the function");
    let stale = mtls::aws::lambda::zip_one_file("authorizer.py", b"def handler(e, c): return {}");

    // The function deleted and made again a moment ago, with other code, through the rules:
    // it is Pending, and setup's code update is refused until it is Active.
    let (prt, proxied) = {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let settings = mtls::aws::AwsSettings {
            endpoint_url: Some(realism.endpoint_url()),
            ..moto.settings()
        };
        let aws = rt.block_on(Aws::connect(&settings)).unwrap();
        (rt, aws)
    };
    prt.block_on(proxied.lambda().delete_function(NAME))
        .unwrap();
    let remade = mtls::aws::lambda::FunctionSpec {
        name: NAME.to_string(),
        role_arn: deployed.role.clone().expect("a role"),
        zip: stale.clone(),
        handler: deployed.handler.clone().expect("a handler"),
        environment: deployed.environment.clone(),
        tags: mtls::aws::Tags::new(),
    };
    prt.block_on(proxied.lambda().create_function(&remade))
        .unwrap();
    let before = realism.calls().len();
    setup_through(&realism, dir);
    let report = realism.report();
    let refused = refusals(
        &realism,
        FunctionUpdating::NAME,
        FunctionUpdating::REFUSED,
        "UpdateFunctionCode",
    );
    assert!(
        refused.iter().any(|t| t.contains("Pending")),
        "the code update was never refused while Pending\n{report}"
    );
    let codes: Vec<Option<u16>> = realism.calls()[before..]
        .iter()
        .filter(|c| c.operation == "UpdateFunctionCode")
        .map(|c| c.status)
        .collect();
    assert_eq!(codes.last(), Some(&Some(200)), "{codes:?}\n{report}");
    let now = rt
        .block_on(aws.lambda().function(NAME))
        .unwrap()
        .expect("the function");
    assert_eq!(now.code_sha256, deployed.code_sha256, "{report}");
    assert_authorizer_converged(&moto, &report);

    // Code and environment changed in moto directly (no window of the rules): setup updates
    // the code, then the configuration while the code update is InProgress.
    rt.block_on(aws.lambda().update_code(NAME, &stale)).unwrap();
    let mut environment = deployed.environment.clone();
    environment.insert("MTLS_REVOCATION_TTL_SECONDS".into(), "3600".into());
    let drifted = mtls::aws::lambda::FunctionSpec {
        environment,
        ..remade
    };
    rt.block_on(aws.lambda().update_configuration(&drifted))
        .unwrap();
    let before = realism.calls().len();
    setup_through(&realism, dir);
    let report = realism.report();
    let refused = refusals(
        &realism,
        FunctionUpdating::NAME,
        FunctionUpdating::REFUSED,
        "UpdateFunctionConfiguration",
    );
    assert!(
        refused.iter().any(|t| t.contains("InProgress")),
        "the configuration update was never refused while InProgress\n{report}"
    );
    let updates: Vec<String> = mutating_of(&realism.calls()[before..])
        .into_iter()
        .filter(|o| o.starts_with("lambda"))
        .collect();
    assert_eq!(
        updates.first().map(String::as_str),
        Some("lambda UpdateFunctionCode"),
        "{report}"
    );
    assert_eq!(
        updates.last().map(String::as_str),
        Some("lambda UpdateFunctionConfiguration"),
        "{report}"
    );
    let now = rt
        .block_on(aws.lambda().function(NAME))
        .unwrap()
        .expect("the function");
    assert_eq!(now.code_sha256, deployed.code_sha256, "{report}");
    assert_eq!(now.environment, deployed.environment, "{report}");
    assert_authorizer_converged(&moto, &report);

    // Again: nothing to change.
    let before = realism.calls().len();
    setup_through(&realism, dir);
    assert_eq!(
        mutating_of(&realism.calls()[before..]),
        Vec::<String>::new(),
        "{}",
        realism.report()
    );
}

/// Offline, `plan setup.rhai --var revocation=true` shows each part of the authorizer to
/// be made (nothing looked up), and the CRL is checked before anything else: a tampered
/// one stops the plan.
#[test]
fn an_offline_plan_shows_the_authorizer_and_a_tampered_crl_is_refused() {
    let tmp = workdir_with_pki(DOMAIN);
    let dir = tmp.path();
    let args = SetupArgs::plan().with_probe().var("revocation", "true");
    let plan = mtls_env(dir, &args.to_vec(), &[]);
    assert!(plan.status.success(), "{}", plan.all());
    // Columns are as wide as the longest kind: compared with single spaces.
    let words = plan.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for line in [
        "+ s3 object s3://trust-store-(known after apply)/api.example.com/revoked.json",
        "+ iam role mtls-revocation-api-example-com",
        "+ iam role policy mtls-revocation-api-example-com/mtls-revocation-list-and-logs",
        "+ lambda function mtls-revocation-api-example-com",
        "+ lambda permission mtls-revocation-api-example-com invoked by apigateway.amazonaws.com",
        "+ api authorizer (known after apply)/mtls-revocation",
        "+ api method authorization (known after apply) methods",
    ] {
        assert!(words.contains(line), "no `{line}` in:\n{}", plan.stdout);
    }
    // A CRL whose signature was tampered with: refused before any change.
    revoke_with_openssl(dir, "client.pem");
    let crl = pem::parse(std::fs::read(dir.join("RootCA.crl.pem")).unwrap()).unwrap();
    let mut der = crl.contents().to_vec();
    let last = der.len() - 1;
    der[last] ^= 1;
    let tampered = pem::encode(&pem::Pem::new("X509 CRL", der));
    std::fs::write(dir.join("RootCA.crl.pem"), tampered).unwrap();
    let refused = mtls_env(dir, &args.to_vec(), &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", refused.all());
    assert!(
        refused.stderr.contains("signature does not verify"),
        "{}",
        refused.all()
    );
}

/// The deployment package is a .zip that Python's zipfile (as Lambda's unzip) reads back:
/// one file, authorizer.py, with its bytes and CRC intact.
#[test]
fn the_function_package_is_a_zip_holding_the_authorizer() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read(root.join("authorizer/authorizer.py")).unwrap();
    let zip = mtls::aws::lambda::zip_one_file("authorizer.py", &source);
    let file = tmp.path().join("function.zip");
    std::fs::write(&file, &zip).unwrap();
    let check = "import sys, zipfile\n\
                 z = zipfile.ZipFile(sys.argv[1])\n\
                 assert z.testzip() is None\n\
                 assert z.namelist() == ['authorizer.py'], z.namelist()\n\
                 sys.stdout.buffer.write(z.read('authorizer.py'))";
    let out = Command::new("python3")
        .args(["-c", check])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, source);
}

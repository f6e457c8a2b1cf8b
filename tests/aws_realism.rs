//! AWS as it behaves, not as moto forgives: each documented behaviour of tests/support/
//! realism.rs switched on (delays of seconds instead of minutes), and the walkthrough run
//! through it. Each test checks that the run passes and that the wait or the retry
//! happened (the proxy's events), then that one of each resource exists.

use crate::support;

use std::path::Path;
use std::time::Duration;

use support::cli::{mtls_env, run_setup, Run, SetupArgs};
use support::moto::{endpoint_turned_off_then_deployed, Moto};
use support::realism::*;
use support::realism_quota::{ChangePending, Quota, VersioningNotFound};
use support::timing::secs_arg;

const DOMAIN: &str = "api.example.com";

fn teardown(dir: &Path, env: &[(String, String)], extra: &[&str]) -> Run {
    mtls_env(dir, &SetupArgs::teardown().args(extra).to_vec(), env)
}

#[track_caller]
fn ok(run: Run, realism: &Realism) -> Run {
    assert!(
        run.status.success(),
        "mtls failed:\n{}\n{}",
        run.all(),
        realism.report()
    );
    run
}

/// `validation_timeout=S` for setup: `seconds` stretched like every test window
/// (`MTLS_TEST_SLOWDOWN`).
fn validation_timeout(seconds: f64) -> String {
    format!("validation_timeout={}", secs_arg(seconds))
}

/// The events of `rule` whose text contains `needle`.
fn events(realism: &Realism, rule: &str, needle: &str) -> Vec<Event> {
    realism
        .events_of(rule)
        .into_iter()
        .filter(|e| e.text.contains(needle))
        .collect()
}

fn aws(moto: &Moto) -> (tokio::runtime::Runtime, mtls::aws::Aws) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt
        .block_on(mtls::aws::Aws::connect(&moto.settings()))
        .unwrap();
    (rt, aws)
}

/// Rule 1: DeleteCertificate is refused as in use for a while after the domain is deleted;
/// teardown asks again until ACM lets it go.
#[test]
fn teardown_waits_while_acm_counts_a_certificate_in_use() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    run_setup(dir.path(), &moto.env(), &[]).success();

    let realism = Realism::start(&moto, vec![CertificateInUse::new(secs(3.0))]);
    let down = ok(teardown(dir.path(), &realism.env(), &["-v"]), &realism);
    let refused = events(&realism, CertificateInUse::NAME, "ResourceInUseException");
    assert!(!refused.is_empty(), "{}", realism.report());
    assert!(
        down.stderr.contains("ResourceInUseException, asking again"),
        "{}",
        down.stderr
    );
    let inv = Inventory::of(&moto, DOMAIN);
    assert!(
        inv.imported.is_empty() && inv.requested.is_empty(),
        "{inv:#?}\n{}",
        realism.report()
    );
}

/// Rule 2: right after RequestCertificate, DescribeCertificate says "not found", then
/// shows no validation record; setup asks again, then polls, and goes on.
#[test]
fn a_new_certificate_unknown_then_without_its_record_is_waited_for() {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![NewCertificateLag::new(secs(1.5), secs(3.0))]);
    let dir = workdir_with_pki(DOMAIN);
    ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    assert!(
        !events(
            &realism,
            NewCertificateLag::NAME,
            "ResourceNotFoundException"
        )
        .is_empty(),
        "{}",
        realism.report()
    );
    assert!(
        !events(
            &realism,
            NewCertificateLag::NAME,
            "no validation record yet"
        )
        .is_empty(),
        "{}",
        realism.report()
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
}

/// Each 429 of `operation` (answered by the rule named `rule`) was followed by the next
/// attempt no sooner than its Retry-After, and the last attempt succeeded.
#[track_caller]
fn assert_retry_after_honoured(realism: &Realism, operation: &str) -> usize {
    assert_quota_honoured(realism, DomainRateLimit::NAME, operation)
}

#[track_caller]
fn assert_quota_honoured(realism: &Realism, rule: &str, operation: &str) -> usize {
    let calls = realism.calls_of(operation);
    let waits: Vec<u64> = events(realism, rule, &format!("{operation}: 429"))
        .iter()
        .map(|e| e.text.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let refused: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].status == Some(429))
        .collect();
    assert_eq!(refused.len(), waits.len(), "{}", realism.report());
    for (&i, &wait) in refused.iter().zip(&waits) {
        let next = calls
            .get(i + 1)
            .unwrap_or_else(|| panic!("{operation} was not asked again\n{}", realism.report()));
        assert!(
            next.at - calls[i].at >= Duration::from_secs(wait),
            "asked again {:?} after a Retry-After of {wait} s\n{}",
            next.at - calls[i].at,
            realism.report()
        );
    }
    assert_eq!(
        calls.last().and_then(|c| c.status).map(|s| s < 300),
        Some(true),
        "{}",
        realism.report()
    );
    refused.len()
}

/// Rule 3: about one domain change per 30 s per account, HTTP 429 with Retry-After;
/// mtls waits at least that long, for the create and for teardown's two deletes.
#[test]
fn throttled_domain_calls_wait_for_retry_after() {
    let moto = Moto::start();
    let realism = Realism::start(
        &moto,
        vec![DomainRateLimit::new(secs(3.0)).after_another_caller()],
    );
    let dir = workdir_with_pki(DOMAIN);
    let up = ok(run_setup(dir.path(), &realism.env(), &["-v"]), &realism);
    assert!(
        assert_retry_after_honoured(&realism, "CreateDomainName") >= 1,
        "{}",
        realism.report()
    );
    assert!(
        up.stderr.contains("TooManyRequestsException, asking again")
            && up.stderr.contains("AWS asked for"),
        "{}",
        up.stderr
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());

    // Teardown deletes the domain, then at once the API: the second waits its turn.
    ok(teardown(dir.path(), &realism.env(), &[]), &realism);
    assert_retry_after_honoured(&realism, "DeleteDomainName");
    assert!(
        assert_retry_after_honoured(&realism, "DeleteRestApi") >= 1,
        "{}",
        realism.report()
    );
    assert!(Inventory::of(&moto, DOMAIN).apis.is_empty());
}

/// API Gateway quotas, each operation its own window: CreateRestApi (regional, one per
/// 3 s) and CreateDeployment (one per 5 s) answer 429 with Retry-After; a 429 means nothing
/// was made, so mtls sends the create again after the wait, and one API with one
/// deployment exists (the creates are otherwise sent once).
#[test]
fn creates_refused_by_api_gateway_quotas_are_sent_again_after_retry_after() {
    let moto = Moto::start();
    let realism = Realism::start(
        &moto,
        vec![
            Quota::new(&["CreateRestApi"], secs(2.0)).after_another_caller(),
            Quota::new(&["CreateDeployment"], secs(2.0)).after_another_caller(),
        ],
    );
    let dir = workdir_with_pki(DOMAIN);
    let up = ok(run_setup(dir.path(), &realism.env(), &["-v"]), &realism);
    for op in ["CreateRestApi", "CreateDeployment"] {
        assert!(
            assert_quota_honoured(&realism, Quota::NAME, op) >= 1,
            "{op} was never refused\n{}",
            realism.report()
        );
    }
    assert!(
        up.stderr.contains("TooManyRequestsException, asking again")
            && up.stderr.contains("AWS asked for"),
        "{}",
        up.stderr
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
    // One API, and exactly the deployments of the successful calls: one.
    let inv = Inventory::of(&moto, DOMAIN);
    assert_eq!(inv.apis.len(), 1, "{inv:#?}\n{}", realism.report());
    let deployed = realism
        .calls_of("CreateDeployment")
        .iter()
        .filter(|c| c.status.is_some_and(|s| s < 300))
        .count();
    assert_eq!(deployed, 1, "{}", realism.report());
    let (status, body) = moto_call(
        moto_port(&moto),
        "GET",
        &format!("/restapis/{}/deployments", inv.apis[0]),
        "apigateway",
        b"",
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let items = serde_json::from_str::<serde_json::Value>(&body).unwrap()["item"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(items, 1, "moto holds {items} deployments: {body}");
}

/// ACM and Route 53 throttle with HTTP 400 and a code of their own (ThrottlingException,
/// Throttling): the request was not processed, so even the creates mtls sends once (a first
/// ImportCertificate, CreateHostedZone) are sent again, and exactly one of each is made.
#[test]
fn creates_throttled_by_acm_and_route53_are_sent_again() {
    let moto = Moto::start();
    let realism = Realism::start(
        &moto,
        vec![
            Quota::throttling(&["ImportCertificate", "CreateHostedZone"], secs(2.0))
                .after_another_caller(),
        ],
    );
    let dir = workdir_with_pki(DOMAIN);
    let up = ok(run_setup(dir.path(), &realism.env(), &["-v"]), &realism);
    for (op, code) in [
        ("ImportCertificate", "ThrottlingException"),
        ("CreateHostedZone", "Throttling"),
    ] {
        let calls = realism.calls_of(op);
        let statuses: Vec<Option<u16>> = calls.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses.first(),
            Some(&Some(400)),
            "{op} was not throttled first\n{}",
            realism.report()
        );
        assert!(
            statuses.last().copied().flatten().is_some_and(|s| s < 300),
            "{op} was not sent again after {code}\n{}",
            realism.report()
        );
        assert!(
            !events(&realism, Quota::THROTTLING, &format!("{op}: 400 {code}")).is_empty(),
            "{}",
            realism.report()
        );
    }
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
    let inv = Inventory::of(&moto, DOMAIN);
    assert_eq!(inv.imported.len(), 1, "{inv:#?}\n{}", up.all());
    assert_eq!(inv.zones.len(), 1, "{inv:#?}\n{}", up.all());
}

fn moto_port(moto: &Moto) -> u16 {
    moto.endpoint_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap()
}

/// S3: for a while after versioning is first enabled, reads of a new object answer 404
/// (and API Gateway cannot read it as a truststore). setup reads the truststore back until
/// S3 serves it, saying so, and only then gives it to the domain.
#[test]
fn a_new_truststore_answering_404_while_versioning_propagates_is_read_back_until_served() {
    let moto = Moto::start();
    // Longer than setup takes from the upload to CreateDomainName (about 4 s), so that
    // without the read-back the domain would meet the 404 (a BadRequestException).
    let realism = Realism::start(&moto, vec![VersioningNotFound::new(secs(6.0))]);
    let dir = workdir_with_pki(DOMAIN);
    let up = ok(run_setup(dir.path(), &realism.env(), &["-v"]), &realism);
    let served = events(&realism, VersioningNotFound::NAME, "HeadObject");
    assert!(
        served.iter().any(|e| e.text.contains("404 NoSuchKey")),
        "no 404 was served\n{}",
        realism.report()
    );
    assert!(
        events(&realism, VersioningNotFound::NAME, "BadRequestException").is_empty(),
        "the domain was given a truststore S3 did not serve yet\n{}",
        realism.report()
    );
    assert!(
        up.stderr.contains("S3 may answer 404 for up to 15 minutes"),
        "{}",
        up.stderr
    );
    assert_eq!(
        realism.calls_of("CreateDomainName").len(),
        1,
        "{}",
        realism.report()
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
}

/// Route 53: a record change is PENDING for a while, then INSYNC. Setup waits for each of
/// its changes to be INSYNC before it goes on (the next change, or the end of the run).
#[test]
fn each_route53_change_is_waited_for_until_insync() {
    let moto = Moto::start();
    let lasts = secs(2.0);
    let realism = Realism::start(&moto, vec![ChangePending::new(lasts)]);
    let dir = workdir_with_pki(DOMAIN);
    ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    assert!(
        !events(&realism, ChangePending::NAME, ": PENDING (").is_empty(),
        "no change was seen PENDING\n{}",
        realism.report()
    );
    let calls = realism.calls();
    let changes: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].operation == "ChangeResourceRecordSets")
        .collect();
    assert!(!changes.is_empty(), "{}", realism.report());
    for i in changes {
        let next_change = (i + 1..calls.len())
            .find(|&j| calls[j].mutating.is_some())
            .unwrap_or(calls.len());
        let waited = calls[i + 1..next_change]
            .iter()
            .any(|c| c.operation == "GetChange" && c.at >= calls[i].at + lasts);
        assert!(
            waited,
            "the change at {:?} was not waited for until INSYNC\n{}",
            calls[i].at,
            realism.report()
        );
    }
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
}

/// Rule 4: a domain is UPDATING after a create or an update, and refuses changes until
/// AVAILABLE: mtls waits for AVAILABLE, so the mapping (and a later update) is never refused.
#[test]
fn a_domain_is_changed_only_once_it_is_available() {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![DomainUpdating::new(secs(3.0))]);
    let dir = workdir_with_pki(DOMAIN);
    ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    assert!(
        !events(
            &realism,
            DomainUpdating::NAME,
            "GetDomainName api.example.com: UPDATING"
        )
        .is_empty(),
        "{}",
        realism.report()
    );
    let created = realism.calls_of("CreateDomainName")[0].at;
    let mapped = realism.calls_of("CreateBasePathMapping")[0].at;
    assert!(mapped - created >= secs(3.0), "{}", realism.report());
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());

    // A new CA: the domain is updated (truststore version) and waited for again. Nothing
    // of the run comes after the update that AWS would refuse, so the wait is proven by
    // the calls themselves: after the update mtls only asked GetDomainName, until one came
    // after the UPDATING window (the domain AVAILABLE again).
    ok(
        run_setup(dir.path(), &realism.env(), &["--force"]),
        &realism,
    );
    let updates = realism.calls_of("UpdateDomainName");
    assert_eq!(updates.len(), 1, "{}", realism.report());
    let available = updates[0].at + secs(3.0);
    let after: Vec<Call> = realism
        .calls()
        .into_iter()
        .filter(|c| c.at > updates[0].at)
        .collect();
    let settled = after
        .iter()
        .position(|c| c.operation == "GetDomainName" && c.at >= available)
        .unwrap_or_else(|| {
            panic!(
                "no GetDomainName once the updated domain was AVAILABLE again: {}",
                realism.report()
            )
        });
    assert!(
        after[..settled]
            .iter()
            .all(|c| c.operation == "GetDomainName"),
        "mtls went on while the updated domain was UPDATING: {}",
        realism.report()
    );
    assert!(
        events(&realism, DomainUpdating::NAME, "409").is_empty(),
        "a change was refused: {}",
        realism.report()
    );
    // Teardown right after: the domain is AVAILABLE by then, so its deletion goes through.
    ok(teardown(dir.path(), &realism.env(), &[]), &realism);
    assert!(
        events(&realism, DomainUpdating::NAME, "409").is_empty(),
        "{}",
        realism.report()
    );
}

/// Rule 5: right after versioning is enabled, a write gets no version id; mtls writes again
/// until it has one, so the domain is never given a truststore without a version.
#[test]
fn a_truststore_written_before_versioning_applies_is_written_again() {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![VersioningLag::new(secs(2.0))]);
    let dir = workdir_with_pki(DOMAIN);
    ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    assert!(
        !events(&realism, VersioningLag::NAME, "PutObject").is_empty(),
        "{}",
        realism.report()
    );
    let puts = realism.calls_of("PutObject");
    assert!(puts.len() >= 2, "{}", realism.report());
    let posts = moto.requests_to("POST", "/domainnames");
    assert_eq!(posts.len(), 1);
    let version = posts[0].body_json()["mutualTlsAuthentication"]["truststoreVersion"].clone();
    assert!(
        version
            .as_str()
            .is_some_and(|v| !v.is_empty() && v != "null"),
        "the domain got truststore version {version}\n{}",
        realism.report()
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
}

/// Rule 6: deleted certificates are still listed for a while, their tags "not found":
/// a setup right after a teardown skips them instead of failing or reusing them.
#[test]
fn certificates_deleted_a_moment_ago_are_skipped() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    let realism = Realism::start(&moto, vec![DeletedCertificatesListed::new(secs(60.0))]);
    ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    ok(teardown(dir.path(), &realism.env(), &[]), &realism);
    ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    assert!(
        !events(
            &realism,
            DeletedCertificatesListed::NAME,
            "still lists deleted"
        )
        .is_empty(),
        "{}",
        realism.report()
    );
    assert!(
        !events(
            &realism,
            DeletedCertificatesListed::NAME,
            "ResourceNotFoundException"
        )
        .is_empty(),
        "{}",
        realism.report()
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
    // And teardown, with the ghosts of the first certificates still listed, removes the new.
    ok(teardown(dir.path(), &realism.env(), &[]), &realism);
    let inv = Inventory::of(&moto, DOMAIN);
    assert!(
        inv.imported.is_empty() && inv.requested.is_empty(),
        "{inv:#?}"
    );
}

/// Rule 8: disabling the default endpoint on an API whose stage exists takes effect only
/// with a deployment: mtls redeploys the stage in the same step.
#[test]
fn disabling_the_default_endpoint_redeploys_existing_stages() {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![EndpointNeedsDeployment::new()]);
    let dir = workdir_with_pki(DOMAIN);
    ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    assert!(EndpointNeedsDeployment::undeployed(&realism).is_empty());
    // In a fresh setup the rule has nothing to flag (no stage exists when the endpoint is
    // turned off), so the order itself is checked: the stage is deployed after the change.
    let api = Inventory::of(&moto, DOMAIN).apis[0].clone();
    if let Err(e) = endpoint_turned_off_then_deployed(&moto.recorded_requests(), &api) {
        panic!("{e}\n{}", realism.report());
    }

    // Someone turns the endpoint back on; the next setup turns it off and redeploys.
    // (Straight to moto with a JSON `false`: moto 5.2.5 reads the string "false" as true.)
    let inv = Inventory::of(&moto, DOMAIN);
    let port: u16 = moto
        .endpoint_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let body = br#"{"patchOperations": [{"op": "replace", "path": "/disableExecuteApiEndpoint", "value": false}]}"#;
    let (status, answer) = moto_call(
        port,
        "PATCH",
        &format!("/restapis/{}", inv.apis[0]),
        "apigateway",
        body,
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(!Inventory::of(&moto, DOMAIN).endpoint_disabled);
    let again = ok(run_setup(dir.path(), &realism.env(), &[]), &realism);
    assert!(
        !events(
            &realism,
            EndpointNeedsDeployment::NAME,
            EndpointNeedsDeployment::STALE
        )
        .is_empty(),
        "the setting was not changed on a deployed API: {}",
        realism.report()
    );
    assert_eq!(
        EndpointNeedsDeployment::undeployed(&realism),
        Vec::<String>::new(),
        "{}",
        realism.report()
    );
    let calls = realism.calls();
    let patched = calls
        .iter()
        .rposition(|c| c.operation == "UpdateRestApi")
        .expect("the endpoint was turned off again");
    assert!(
        calls[patched..]
            .iter()
            .any(|c| c.operation == "CreateDeployment" && c.status.is_some_and(|s| s < 300)),
        "no deployment after the change
{}
{}",
        again.all(),
        realism.report()
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
}

/// Rule 11: a call that is sent and never answered becomes, after MTLS_AWS_TIMEOUT_SECS,
/// an error naming the call, the step and the script line; never a silent hang.
#[test]
fn a_stalled_call_becomes_an_error_naming_it() {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![Hold::new("ListHostedZonesByName", 1, false)]);
    let dir = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = run_setup(
        dir.path(),
        &realism.env_with(&[("MTLS_AWS_TIMEOUT_SECS", &secs_arg(2.0))]),
        &["--var", "bucket=my-trust-store"],
    )
    .failure();
    assert!(start.elapsed() < secs(60.0), "{:?}", start.elapsed());
    assert!(Hold::reached(&realism), "{}", realism.report());
    let err = &out.stderr;
    assert!(err.contains("route53 ListHostedZonesByName"), "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(err.contains("MTLS_AWS_TIMEOUT_SECS"), "{err}");
    assert!(err.contains("ensure_hosted_zone(...) called here"), "{err}");
    assert!(err.contains("scripts/setup.rhai:"), "{err}");

    // A timeout that is not a number of seconds is refused, naming the variable.
    let out = run_setup(
        dir.path(),
        &realism.env_with(&[("MTLS_AWS_TIMEOUT_SECS", "soon")]),
        &["--var", "bucket=my-trust-store"],
    )
    .failure();
    assert!(
        out.stderr
            .contains("MTLS_AWS_TIMEOUT_SECS=\"soon\" is not a number of seconds"),
        "{}",
        out.stderr
    );
}

/// Rule 12: ACM validates through public DNS. With example.com's zone in the account (and
/// delegated by the registrar), setup puts api.example.com's records there instead of
/// making a zone nobody delegates to, so the certificate is issued.
#[test]
fn records_go_into_the_closest_existing_zone() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let parent = rt
        .block_on(aws.route53().create_zone("example.com"))
        .unwrap();
    let realism = Realism::start(&moto, vec![PublicDns::new(&["example.com"])]);
    let dir = workdir_with_pki(DOMAIN);
    let up = ok(
        run_setup(
            dir.path(),
            &realism.env(),
            &["--var", &validation_timeout(30.0)],
        ),
        &realism,
    );
    assert!(
        up.stdout
            .contains("Using the hosted zone example.com.: the closest one"),
        "{}",
        up.stdout
    );
    assert!(
        !events(&realism, PublicDns::NAME, "resolves publicly").is_empty(),
        "{}",
        realism.report()
    );
    assert_converged(&moto, DOMAIN, "example.com", &realism.report());
    let records = rt.block_on(aws.route53().records(&parent.id)).unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.record_type == "A" && r.name == "api.example.com."),
        "{records:?}"
    );

    // Teardown finds the same zone, removes mtls's records, and leaves the zone.
    ok(teardown(dir.path(), &realism.env(), &[]), &realism);
    let left = rt.block_on(aws.route53().records(&parent.id)).unwrap();
    assert!(
        left.iter()
            .all(|r| r.record_type == "NS" || r.record_type == "SOA"),
        "{left:?}"
    );
    assert!(rt
        .block_on(aws.route53().find_public_zone("example.com"))
        .unwrap()
        .is_some());
}

/// Rule 12: a zone named on the command line under a parent zone of the account is
/// delegated from it (an NS record), so public DNS reaches it; teardown with delete_zone
/// removes both.
#[test]
fn a_new_zone_under_a_parent_in_the_account_is_delegated_from_it() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    let parent = rt
        .block_on(aws.route53().create_zone("example.com"))
        .unwrap();
    let realism = Realism::start(&moto, vec![PublicDns::new(&["example.com"])]);
    let dir = workdir_with_pki(DOMAIN);
    let up = ok(
        run_setup(
            dir.path(),
            &realism.env(),
            &[
                "--var",
                "zone=api.example.com",
                "--var",
                &validation_timeout(30.0),
            ],
        ),
        &realism,
    );
    assert!(
        up.stdout.contains("delegated from example.com."),
        "{}",
        up.stdout
    );
    let ns = rt.block_on(aws.route53().records(&parent.id)).unwrap();
    assert!(
        ns.iter()
            .any(|r| r.record_type == "NS" && r.name == "api.example.com."),
        "{ns:?}"
    );
    assert!(
        !events(&realism, PublicDns::NAME, "resolves publicly").is_empty(),
        "{}",
        realism.report()
    );

    ok(
        teardown(
            dir.path(),
            &realism.env(),
            &["--var", "zone=api.example.com", "--var", "delete_zone=true"],
        ),
        &realism,
    );
    let left = rt.block_on(aws.route53().records(&parent.id)).unwrap();
    assert!(
        left.iter().all(|r| r.name != "api.example.com."),
        "{left:?}"
    );
    assert!(rt
        .block_on(aws.route53().find_public_zone("api.example.com"))
        .unwrap()
        .is_none());
}

/// Rule 12: with no zone that contains the domain, setup makes one and says, before it
/// waits, that validation waits for the registrar to delegate to the printed name servers.
#[test]
fn without_a_zone_setup_says_validation_waits_for_the_registrar() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    // Nobody delegates yet: the wait runs out, after the message.
    let realism = Realism::start(&moto, vec![PublicDns::new(&[])]);
    let out = run_setup(
        dir.path(),
        &realism.env(),
        &["--var", &validation_timeout(3.0)],
    )
    .failure();
    let said = out
        .stdout
        .find("only once the registrar delegates api.example.com.")
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(said > out.stdout.find("Name servers of api.example.com.").unwrap());
    assert!(out.stderr.contains("PENDING_VALIDATION"), "{}", out.stderr);
    drop(realism);

    // The registrar now delegates to the zone: the same command completes.
    let realism = Realism::start(&moto, vec![PublicDns::new(&["api.example.com"])]);
    ok(
        run_setup(
            dir.path(),
            &realism.env(),
            &["--var", &validation_timeout(30.0)],
        ),
        &realism,
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
}

/// Every rule at once, on a setup, a no-op re-run, a teardown and a setup right after it.
#[test]
fn all_rules_at_once() {
    let moto = Moto::start();
    let (rt, aws) = aws(&moto);
    rt.block_on(aws.route53().create_zone("example.com"))
        .unwrap();
    let realism = Realism::start(
        &moto,
        vec![
            Latency::new(Duration::from_millis(10)),
            CertificateInUse::new(secs(3.0)),
            NewCertificateLag::new(secs(1.5), secs(3.0)),
            // Shorter than the in-use time, so teardown meets both.
            DomainRateLimit::new(secs(2.0)).after_another_caller(),
            DomainUpdating::new(secs(3.0)),
            VersioningLag::new(secs(2.0)),
            VersioningNotFound::new(secs(2.0)),
            Quota::new(&["CreateRestApi", "CreateDeployment"], secs(2.0)).after_another_caller(),
            // Outlasts the few calls between teardown's deletes and the next setup's list.
            DeletedCertificatesListed::new(secs(3.0)),
            EndpointNeedsDeployment::new(),
            PublicDns::new(&["example.com"]),
        ],
    );
    let dir = workdir_with_pki(DOMAIN);
    let env = realism.env();
    let timeout = validation_timeout(60.0);
    let timeout = ["--var", timeout.as_str()];
    ok(run_setup(dir.path(), &env, &timeout), &realism);
    assert_converged(&moto, DOMAIN, "example.com", &realism.report());

    moto.reset_recording();
    let again = ok(run_setup(dir.path(), &env, &timeout), &realism);
    let changes: Vec<String> = moto
        .recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| r.describe())
        .collect();
    assert!(changes.is_empty(), "{changes:?}\n{}", again.all());

    ok(teardown(dir.path(), &env, &[]), &realism);
    ok(run_setup(dir.path(), &env, &timeout), &realism);
    assert_converged(&moto, DOMAIN, "example.com", &realism.report());
    for rule in [
        CertificateInUse::NAME,
        NewCertificateLag::NAME,
        DomainRateLimit::NAME,
        DomainUpdating::NAME,
        VersioningLag::NAME,
        VersioningNotFound::NAME,
        Quota::NAME,
        DeletedCertificatesListed::NAME,
        PublicDns::NAME,
    ] {
        assert!(
            !realism.events_of(rule).is_empty(),
            "{rule} never acted\n{}",
            realism.report()
        );
    }
    assert!(EndpointNeedsDeployment::undeployed(&realism).is_empty());
    // The last setup made a new API: its endpoint was turned off and its stage deployed
    // after that (the rule flags only a change on an API whose stage already exists).
    let api = Inventory::of(&moto, DOMAIN).apis[0].clone();
    if let Err(e) = endpoint_turned_off_then_deployed(&moto.recorded_requests(), &api) {
        panic!("{e}\n{}", realism.report());
    }
}

//! Runs that end abruptly, and runs at the same time:
//! - `kill -9` at several points of setup.rhai (a call held by the proxy, sometimes after
//!   AWS applied it), then a re-run: one zone, one API tagged for the domain, one imported
//!   and one requested certificate, one domain, one mapping;
//! - two setups of the same domain at once: the second waits for the first (a lock per
//!   domain), and nothing is made twice;
//! - a duplicate that exists anyway (made by hand): an error that names both and says how
//!   to resolve it.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::cli::{run_setup, SetupArgs};
use support::moto::Moto;
use support::realism::*;

const DOMAIN: &str = "api.example.com";

fn spawn_setup(dir: &std::path::Path, env: &[(String, String)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_mtls"))
        .args(SetupArgs::run().to_vec())
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mtls")
}

/// A point to kill setup at: the `nth` call of `operation`, held (after AWS applied it when
/// `applied`); `fresh`: in an empty folder, so the keys are made in the same run.
struct KillPoint {
    operation: &'static str,
    nth: usize,
    applied: bool,
    fresh: bool,
}

fn kill_and_rerun(p: &KillPoint) -> Result<String, String> {
    let label = format!(
        "{} #{}{}",
        p.operation,
        p.nth,
        if p.applied { " (applied)" } else { "" }
    );
    let moto = Moto::start();
    let dir = if p.fresh {
        tempfile::tempdir().unwrap()
    } else {
        workdir_with_pki(DOMAIN)
    };
    let realism = Realism::start(&moto, vec![Hold::new(p.operation, p.nth, p.applied)]);
    let mut child = spawn_setup(dir.path(), &realism.env());
    let deadline = Instant::now() + secs(120.0);
    while !Hold::reached(&realism) {
        if let Ok(Some(status)) = child.try_wait() {
            let out = child.wait_with_output().unwrap();
            return Err(format!(
                "{label}: setup ended ({status}) before the kill point:\n{}{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                realism.report()
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err(format!("{label}: never reached\n{}", realism.report()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    drop(realism);
    let again = run_setup(dir.path(), &moto.env(), &[]);
    if !again.status.success() {
        return Err(format!("{label}: the re-run failed:\n{}", again.all()));
    }
    let problems = Inventory::of(&moto, DOMAIN).problems(DOMAIN);
    if !problems.is_empty() {
        return Err(format!(
            "{label}: after the re-run: {problems:?}\n{}",
            again.all()
        ));
    }
    Ok(format!("{label}: killed ({status}); re-run converged"))
}

#[test]
fn kill_9_during_setup_then_a_rerun_makes_one_of_each() {
    let points = [
        // Before any change: the keys were just made in this run.
        KillPoint {
            operation: "ListHostedZonesByName",
            nth: 1,
            applied: false,
            fresh: true,
        },
        KillPoint {
            operation: "CreateHostedZone",
            nth: 1,
            applied: true,
            fresh: false,
        },
        KillPoint {
            operation: "PutObject",
            nth: 1,
            applied: false,
            fresh: false,
        },
        KillPoint {
            operation: "ImportCertificate",
            nth: 1,
            applied: true,
            fresh: false,
        },
        KillPoint {
            operation: "RequestCertificate",
            nth: 1,
            applied: true,
            fresh: false,
        },
        // During the wait for ACM's validation.
        KillPoint {
            operation: "DescribeCertificate",
            nth: 3,
            applied: false,
            fresh: false,
        },
        // Between the API's creation and its definition.
        KillPoint {
            operation: "CreateRestApi",
            nth: 1,
            applied: true,
            fresh: false,
        },
        KillPoint {
            operation: "CreateDeployment",
            nth: 1,
            applied: true,
            fresh: false,
        },
        KillPoint {
            operation: "CreateDomainName",
            nth: 1,
            applied: true,
            fresh: false,
        },
        // The alias record, last change of the run.
        KillPoint {
            operation: "ChangeResourceRecordSets",
            nth: 2,
            applied: true,
            fresh: false,
        },
    ];
    let results = run_parallel(&points, workers(), kill_and_rerun);
    let mut failures = Vec::new();
    for r in &results {
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => failures.push(e.clone()),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} kill points failed:\n\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );
}

#[test]
fn two_setups_at_once_for_one_domain_make_one_of_each() {
    let moto = Moto::start();
    // AWS answers in tens of milliseconds: the window between "not found" and "created"
    // is wide enough for two runs to both step into it, without a lock.
    let realism = Realism::start(&moto, vec![Latency::new(Duration::from_millis(30))]);
    let (a, b) = (workdir_with_pki(DOMAIN), workdir_with_pki(DOMAIN));
    let first = spawn_setup(a.path(), &realism.env());
    let second = spawn_setup(b.path(), &realism.env());
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert_took_turns(&moto, DOMAIN, &first, &second, &realism.report());
}

#[test]
fn a_duplicate_made_anyway_is_an_error_that_says_how_to_resolve_it() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    run_setup(dir.path(), &moto.env(), &[]).success();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let aws = rt
        .block_on(mtls::aws::Aws::connect(&moto.settings()))
        .unwrap();
    let tags = |role: &str| {
        let mut t = mtls::aws::Tags::new();
        t.insert("mtls:domain".into(), DOMAIN.into());
        t.insert("mtls:role".into(), role.into());
        t
    };

    // A second ownership verification certificate, tagged as mtls tags its own.
    let extra = rt
        .block_on(
            aws.acm()
                .request_certificate(DOMAIN, &tags("ownership-verification"), None),
        )
        .unwrap();
    let out = run_setup(dir.path(), &moto.env(), &[]).failure();
    assert!(
        out.stderr.contains("2 ACM certificates are tagged"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&extra), "{}", out.stderr);
    assert!(
        out.stderr.contains("aws acm delete-certificate"),
        "{}",
        out.stderr
    );
    rt.block_on(aws.acm().delete(&extra)).unwrap();

    // A second API tagged for the domain.
    let api = rt
        .block_on(aws.apigateway().create_rest_api("PetStore", &tags("api")))
        .unwrap();
    let out = run_setup(dir.path(), &moto.env(), &[]).failure();
    assert!(
        out.stderr.contains("2 REST APIs are tagged"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains(&api.id), "{}", out.stderr);
    assert!(out.stderr.contains("delete-rest-api"), "{}", out.stderr);
    rt.block_on(aws.apigateway().delete_rest_api(&api.id))
        .unwrap();

    // Resolved as told: the run completes.
    run_setup(dir.path(), &moto.env(), &[]).success();
    assert_converged(&moto, DOMAIN, DOMAIN, "");
}

/// A run killed right after creating the domain leaves it UPDATING: the re-run keeps the
/// domain, and waits for AVAILABLE before mapping it (never refused with a 409).
#[test]
fn a_domain_left_updating_by_a_killed_run_is_waited_for() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    // Long enough for the re-run (a process start and the lookups before the domain's)
    // to reach the domain while it is UPDATING.
    let realism = Realism::start(
        &moto,
        vec![
            DomainUpdating::new(secs(3.0)),
            Hold::new("CreateDomainName", 1, true),
        ],
    );
    let mut child = spawn_setup(dir.path(), &realism.env());
    let deadline = Instant::now() + secs(120.0);
    while !Hold::reached(&realism) {
        assert!(Instant::now() < deadline, "{}", realism.report());
        assert!(child.try_wait().unwrap().is_none(), "{}", realism.report());
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let again = run_setup(dir.path(), &realism.env(), &[]);
    assert!(
        again.status.success(),
        "{}\n{}",
        again.all(),
        realism.report()
    );
    let killed_at = realism.calls_of("CreateDomainName")[0].at;
    let kept_while_updating = realism
        .events_of(DomainUpdating::NAME)
        .iter()
        .any(|e| e.text.starts_with("GetDomainName") && e.at > killed_at);
    assert!(kept_while_updating, "{}", realism.report());
    assert!(
        realism
            .events_of(DomainUpdating::NAME)
            .iter()
            .all(|e| !e.text.contains("409")),
        "{}",
        realism.report()
    );
    assert_eq!(realism.calls_of("CreateDomainName").len(), 1);
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
}

/// AWS applies `disableExecuteApiEndpoint` only with a deployment. A run killed after
/// turning the endpoint off (UpdateRestApi applied) on an API whose stage exists, before it
/// deployed the stage again, finds on re-run the endpoint off and the stage there: it must
/// still deploy the stage, or the default endpoint keeps serving. Then a plain re-run
/// changes nothing.
#[test]
fn a_run_killed_between_disabling_the_endpoint_and_the_redeploy_is_completed() {
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    // UpdateRestApi #1 is the first setup's (on the new API, before its stage exists);
    // #2 turns the endpoint off again after someone turned it on.
    let realism = Realism::start(
        &moto,
        vec![
            EndpointNeedsDeployment::new(),
            Hold::new("UpdateRestApi", 2, true),
        ],
    );
    let first = run_setup(dir.path(), &realism.env(), &[]);
    assert!(first.status.success(), "{}", first.all());
    assert!(EndpointNeedsDeployment::undeployed(&realism).is_empty());

    // Someone turns the default endpoint back on (straight to moto, with a JSON `false`:
    // moto 5.2.5 reads the string "false" as true).
    let api = Inventory::of(&moto, DOMAIN).apis[0].clone();
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
        &format!("/restapis/{api}"),
        "apigateway",
        body,
    )
    .unwrap();
    assert_eq!(status, 200, "{answer}");

    // Killed once AWS has applied the change, before any deployment.
    let mut child = spawn_setup(dir.path(), &realism.env());
    let deadline = Instant::now() + secs(120.0);
    while !Hold::reached(&realism) {
        assert!(Instant::now() < deadline, "{}", realism.report());
        assert!(child.try_wait().unwrap().is_none(), "{}", realism.report());
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        EndpointNeedsDeployment::undeployed(&realism),
        vec![api.clone()],
        "the kill should leave the endpoint serving\n{}",
        realism.report()
    );
    assert!(Inventory::of(&moto, DOMAIN).endpoint_disabled);

    let again = run_setup(dir.path(), &realism.env(), &[]);
    assert!(
        again.status.success(),
        "{}\n{}",
        again.all(),
        realism.report()
    );
    assert!(
        EndpointNeedsDeployment::undeployed(&realism).is_empty(),
        "the re-run left the default endpoint serving:\n{}\n{}",
        again.all(),
        realism.report()
    );
    let calls = realism.calls();
    let held = calls
        .iter()
        .rposition(|c| c.operation == "UpdateRestApi")
        .unwrap();
    assert!(
        calls[held..]
            .iter()
            .any(|c| c.operation == "CreateDeployment" && c.status.is_some_and(|s| s < 300)),
        "no deployment after the change\n{}",
        realism.report()
    );
    assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());

    // Done: the next run changes nothing.
    moto.reset_recording();
    let noop = run_setup(dir.path(), &realism.env(), &[]);
    assert!(noop.status.success(), "{}", noop.all());
    let changes: Vec<String> = moto
        .recorded_requests()
        .into_iter()
        .filter(|r| r.is_mutating())
        .map(|r| r.describe())
        .collect();
    assert!(changes.is_empty(), "{changes:?}\n{}", noop.all());
}

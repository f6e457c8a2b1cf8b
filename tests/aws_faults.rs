//! Faults on the wire during setup.rhai: for a mutating call of the walkthrough, a
//! connection reset (the request never reaches AWS), HTTP 500 once, HTTP 500 for every
//! later attempt of that call, or a stall (the request takes effect on AWS and its answer
//! never comes; MTLS_AWS_TIMEOUT_SECS bounds the wait).
//!
//! Each case checks that the faulty run either completes or stops with an error naming the
//! call and the script line, and that a re-run through a healthy endpoint completes with
//! exactly one of each resource (tests/support/realism.rs, `Inventory::problems`).
//!
//! The whole matrix (every mutating call x the four faults, 56 cases) runs by default,
//! with `AWS_MAX_ATTEMPTS=1` (every fault stops the run), plus each call stalled with the
//! SDK's default 3 attempts (its retry of a request that took effect must not make a
//! second resource: 14 cases), three cases at a time (`MTLS_TEST_WORKERS`);
//! `MTLS_FAULT_MATRIX=sample` runs one fault per call instead, the kind rotating with the
//! call's position (call 1 reset, 2 500 once, 3 500 always, 4 stall, 5 reset, ...), so each
//! call and each kind is still covered, in a quarter of the time.

use crate::support;

use support::cli::run_setup;
use support::moto::Moto;
use support::realism::*;

const DOMAIN: &str = "api.example.com";
/// Seconds one request may take: a stall costs this much, a healthy call takes well under.
const TIMEOUT: &str = "5";

/// The mutating calls of a first setup, as (service, operation), from a healthy run
/// through a proxy without rules.
fn mutating_calls() -> Vec<(String, String)> {
    let moto = Moto::start();
    let realism = Realism::start(&moto, vec![]);
    let dir = workdir_with_pki(DOMAIN);
    run_setup(dir.path(), &realism.env(), &[]).success();
    realism
        .calls()
        .into_iter()
        .filter(|c| c.mutating.is_some())
        .map(|c| (c.service, c.operation))
        .collect()
}

struct Case {
    nth: usize,
    service: String,
    operation: String,
    kind: FaultKind,
    /// `AWS_MAX_ATTEMPTS` of the faulty run: 1 (every fault stops the run), or the SDK's
    /// default 3 (its retries must never make a resource twice).
    attempts: u32,
}

fn run_case(case: &Case) -> Result<String, String> {
    let label = format!(
        "#{} {} {} {:?} (AWS_MAX_ATTEMPTS={})",
        case.nth, case.service, case.operation, case.kind, case.attempts
    );
    let moto = Moto::start();
    let dir = workdir_with_pki(DOMAIN);
    let realism = Realism::start(&moto, vec![Fault::new(case.nth, case.kind)]);
    let attempts = case.attempts.to_string();
    let first = run_setup(
        dir.path(),
        &realism.env_with(&[
            ("MTLS_AWS_TIMEOUT_SECS", TIMEOUT),
            ("AWS_MAX_ATTEMPTS", &attempts),
        ]),
        &[],
    );
    // Whatever the SDK retried, nothing was made twice (a missing resource is the re-run's).
    let twice = Inventory::of(&moto, DOMAIN).duplicates();
    if !twice.is_empty() {
        return Err(format!(
            "{label}: the faulty run made duplicates: {twice:?}\n{}\n{}",
            first.all(),
            realism.report()
        ));
    }
    let hit = realism.events_of(Fault::NAME);
    let Some(hit) = hit.first() else {
        return Err(format!(
            "{label}: the fault never happened\n{}",
            realism.report()
        ));
    };
    if !hit
        .text
        .ends_with(&format!("{} {}", case.service, case.operation))
    {
        return Err(format!(
            "{label}: the fault hit another call: {}\n{}",
            hit.text,
            realism.report()
        ));
    }
    let outcome = if first.status.success() {
        "completed anyway".to_string()
    } else {
        let call = format!("{} {}", case.service, case.operation);
        for needle in [call.as_str(), "scripts/setup.rhai:", "called here"] {
            if !first.stderr.contains(needle) {
                return Err(format!(
                    "{label}: the error does not say {needle:?}:\n{}",
                    first.stderr
                ));
            }
        }
        let first_line = first
            .stderr
            .lines()
            .find(|l| l.contains(&call))
            .unwrap_or_default()
            .trim()
            .to_string();
        format!("stopped: {first_line}")
    };
    drop(realism);
    let second = run_setup(dir.path(), &moto.env(), &[]);
    if !second.status.success() {
        return Err(format!("{label}: the re-run failed:\n{}", second.all()));
    }
    let problems = Inventory::of(&moto, DOMAIN).problems(DOMAIN);
    if !problems.is_empty() {
        return Err(format!(
            "{label}: after the re-run: {problems:?}\nfirst run:\n{}\nre-run:\n{}",
            first.all(),
            second.all()
        ));
    }
    Ok(format!("{label}: {outcome}; re-run converged"))
}

#[test]
fn every_mutating_call_of_setup_survives_a_fault_and_a_rerun_converges() {
    let calls = mutating_calls();
    assert!(calls.len() >= 12, "{calls:?}");
    let full = std::env::var("MTLS_FAULT_MATRIX").map_or(true, |v| v != "sample");
    let mut cases = Vec::new();
    for (i, (service, operation)) in calls.iter().enumerate() {
        let kinds: Vec<FaultKind> = if full {
            FaultKind::ALL.to_vec()
        } else {
            vec![FaultKind::ALL[i % FaultKind::ALL.len()]]
        };
        for kind in kinds {
            cases.push(Case {
                nth: i + 1,
                service: service.clone(),
                operation: operation.clone(),
                kind,
                attempts: 1,
            });
        }
        // With the SDK's retries, as outside the tests: a request that took effect and
        // whose answer never came is sent again by the SDK.
        cases.push(Case {
            nth: i + 1,
            service: service.clone(),
            operation: operation.clone(),
            kind: FaultKind::Stall,
            attempts: 3,
        });
    }
    let results = run_parallel(&cases, workers(), run_case);
    let mut failures = Vec::new();
    for r in &results {
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => failures.push(e.clone()),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fault cases failed:\n\n{}",
        failures.len(),
        results.len(),
        failures.join("\n\n")
    );
}

/// With the SDK's standard retries (as outside the tests, where AWS_MAX_ATTEMPTS is not 1),
/// a single HTTP 500 is absorbed within the run, except on the creates without an
/// idempotency token (CreateRestApi here), which are sent once: there, the run stops and
/// the next one finds what exists.
#[test]
fn sdk_retries_absorb_a_single_500_except_on_creates_sent_once() {
    let moto = Moto::start();
    let learn = Realism::start(&moto, vec![]);
    let dir = workdir_with_pki(DOMAIN);
    run_setup(dir.path(), &learn.env(), &[]).success();
    let order = learn.mutating_operations();
    drop(learn);
    drop(moto);
    for (op, absorbed) in [
        ("PutObject", true),
        ("CreateDomainName", true),
        ("CreateRestApi", false),
    ] {
        let nth = order.iter().position(|o| o == op).unwrap() + 1;
        let moto = Moto::start();
        let realism = Realism::start(&moto, vec![Fault::new(nth, FaultKind::Error500Once)]);
        let dir = workdir_with_pki(DOMAIN);
        let out = run_setup(
            dir.path(),
            &realism.env_with(&[("AWS_MAX_ATTEMPTS", "3")]),
            &[],
        );
        assert_eq!(
            out.status.success(),
            absorbed,
            "{op}: {}\n{}",
            out.all(),
            realism.report()
        );
        assert_eq!(
            realism.events_of(Fault::NAME).len(),
            1,
            "{}",
            realism.report()
        );
        if !absorbed {
            assert!(
                out.stderr
                    .contains(&format!("apigateway {op}: InternalFailure")),
                "{}",
                out.stderr
            );
            run_setup(dir.path(), &moto.env(), &[]).success();
        }
        assert_converged(&moto, DOMAIN, DOMAIN, &realism.report());
    }
}

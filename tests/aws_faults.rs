//! Faults on the wire during setup.rhai: for a mutating call of the walkthrough, a
//! connection reset (the request never reaches AWS), HTTP 500 once, HTTP 500 for every
//! later attempt of that call, or a stall (the request takes effect on AWS and its answer
//! never comes; MTLS_AWS_TIMEOUT_SECS bounds the wait).
//!
//! Each case checks that the faulty run either completes or stops with an error naming the
//! call and the script line, and that a re-run through a healthy endpoint completes with
//! exactly one of each resource (tests/support/realism/fixtures.rs, `Inventory::problems`).
//!
//! The whole matrix (every mutating call x the four faults, 56 cases) runs by default: a
//! reset, a 500 once and a stall with `AWS_MAX_ATTEMPTS=1` (every fault stops the run), HTTP
//! 500 for every attempt with the SDK's default 3 attempts (with one attempt it would be the
//! 500-once case again), plus each call stalled with 3 attempts (its retry of a request that
//! took effect must not make a second resource: 14 cases), three cases at a time
//! (`MTLS_TEST_WORKERS`); `MTLS_FAULT_MATRIX=sample` runs one fault per call instead, the
//! kind rotating with the call's position (call 1 reset, 2 500 once, 3 500 always, 4 stall,
//! 5 reset, ...), so each call and each kind is still covered, in a quarter of the time.
//!
//! Where the SDK has more than one attempt, each case also checks that it did resend (or,
//! for the creates mtls sends once, that it did not): a retry that never happens proves
//! nothing about duplicates. A resent CreateDomainName that took effect meets 409
//! ConflictException, as on AWS (tests/support/moto.rs).

use crate::support;

use support::cli::run_setup;
use support::moto::{Moto, RecordedRequest};
use support::realism::*;
use support::timing::secs_arg;

const DOMAIN: &str = "api.example.com";

/// Seconds one request may take (`MTLS_AWS_TIMEOUT_SECS`): a stall costs this much, a
/// healthy call takes well under. Stretched by `MTLS_TEST_SLOWDOWN`.
fn timeout() -> String {
    secs_arg(5.0)
}

/// The creates mtls sends once, with the SDK's retries off, because a resend after a lost
/// answer would make a second resource (src/aws/route53.rs CreateHostedZone,
/// src/aws/apigateway.rs CreateRestApi and CreateDeployment, src/aws/acm.rs a first
/// ImportCertificate: every ImportCertificate of a first setup is one). Only an answer that
/// proves nothing was made (a 429) sends them again.
const SENT_ONCE: [&str; 4] = [
    "CreateHostedZone",
    "CreateRestApi",
    "CreateDeployment",
    "ImportCertificate",
];

/// How often the SDK sends a call in all: `attempts`, or once for [`SENT_ONCE`].
fn sends(operation: &str, attempts: u32) -> usize {
    if SENT_ONCE.contains(&operation) {
        1
    } else {
        attempts as usize
    }
}

/// The SDK's attempt number of a request (its `amz-sdk-request: attempt=N; max=M` header).
fn sdk_attempt(r: &RecordedRequest) -> Option<u32> {
    r.headers
        .get("amz-sdk-request")?
        .split(';')
        .find_map(|part| part.trim().strip_prefix("attempt="))?
        .parse()
        .ok()
}

/// How often the faulty call was sent again in the faulty run: for HTTP 500 always, the
/// fault's "again" answers (those never reach moto); for a stall, the requests moto
/// recorded like the stalled one (the `nth` mutating request) with an attempt number
/// above 1. Other kinds are not resent with one attempt.
fn resends(case: &Case, realism: &Realism, moto: &Moto) -> usize {
    match case.kind {
        FaultKind::Error500Always => realism
            .events_of(Fault::NAME)
            .iter()
            .filter(|e| e.text.ends_with("HTTP 500 again"))
            .count(),
        FaultKind::Stall => {
            let recorded = moto.recorded_requests();
            let Some(stalled) = recorded
                .iter()
                .filter(|r| r.is_mutating())
                .nth(case.nth - 1)
            else {
                return 0;
            };
            recorded
                .iter()
                .filter(|r| r.describe() == stalled.describe())
                .filter(|r| sdk_attempt(r).is_some_and(|a| a > 1))
                .count()
        }
        FaultKind::Reset | FaultKind::Error500Once => 0,
    }
}

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
            ("MTLS_AWS_TIMEOUT_SECS", &timeout()),
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
    if case.attempts > 1 {
        let want = sends(&case.operation, case.attempts) - 1;
        let got = resends(case, &realism, &moto);
        // A stalled call is sent once more after its first attempt timed out; the resend is
        // answered (or refused: 409 for a create that took effect), so it is the last one.
        let want = if case.kind == FaultKind::Stall {
            want.min(1)
        } else {
            want
        };
        if got != want {
            return Err(format!(
                "{label}: the SDK sent the call again {got} time(s), not {want}\n{}\n{}",
                first.all(),
                realism.report()
            ));
        }
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
                // 500 on every attempt means something only when there are several.
                attempts: if kind == FaultKind::Error500Always {
                    3
                } else {
                    1
                },
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

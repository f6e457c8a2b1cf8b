//! Benchmark: `mtls run setup.rhai` under every delay rule of the realism proxy
//! (tests/support/realism/), against the sum of the delays AWS made it sit out.
//!
//!     cargo bench --bench realism        # ROUNDS=N (default 5), MTLS_BIN=path (default: cargo's)
//!                                        # VERBOSE=1: print the proxy's log of each run
//!
//! Under the realism layer the only unavoidable cost is AWS's own waiting: a run should
//! take the delays the rules impose plus what the same run takes without them, and no
//! more (issue 10: wall time over the delays, at most 1.2).
//!
//! Each round runs, in alternating order, each against a fresh moto_server behind a fresh
//! proxy (starting them is not timed):
//! - **rules**: the proxy with every rule that makes mtls wait, with fixed delays
//!   ([`rules`]): a requested certificate unknown for 1 s and without its validation record
//!   until 2 s; versioning applying 1 s after PutBucketVersioning; one domain change per
//!   2 s with "another caller" just before mtls (so CreateDomainName gets HTTP 429 with
//!   Retry-After: 2); a domain UPDATING for 3 s after its creation; and the default
//!   endpoint needing a deployment (no delay; checked to end deployed). No latency rule.
//! - **baseline**: the same proxy with no rules: moto's own time and mtls's own work.
//!
//! Both run `mtls run setup.rhai --var domain=api.example.com --var probe=false` (the
//! release binary) in a fresh folder holding the walkthrough's PKI, made once before the
//! rounds with `mtls run pki.rhai` and copied: setup keeps it, so no key is generated in
//! the measurement. moto marks a requested certificate ISSUED at once
//! (`MOTO_ACM_VALIDATION_WAIT=0`): its own wait is not a rule and is not counted.
//!
//! **The delays mtls had to sit out** are read from the proxy's log of calls (arrival and
//! answer times) and the rules' fixed parameters. A rule holds mtls back from the first
//! answer that says "not yet" until the moment it would let the call through:
//! - versioning lag: from the answer to the first PutObject after PutBucketVersioning
//!   until 1 s after PutBucketVersioning arrived;
//! - new-certificate lag: from the answer to the first DescribeCertificate after
//!   RequestCertificate until 2 s after RequestCertificate arrived;
//! - rate limit: from each 429 answer for Retry-After seconds (AWS says to wait that long
//!   from its answer; a client that honours it cannot resend sooner);
//! - domain UPDATING: from the answer to CreateDomainName until 3 s after it arrived.
//!
//! The time between a rule's start and mtls's first call that meets it (PutBucketVersioning's
//! own answer, say) is not counted: mtls does not wait then, it works, and the baseline
//! has the same calls. The intervals are merged before they are added: where two rules
//! hold mtls at once (they do not in setup, which is sequential, but the bench does not
//! rely on it) the overlap counts once, since sitting out two delays at once costs the
//! time of one.
//!
//! **Figures.** Per round: the rules run's wall time W, the baseline's B, the sum of the
//! delays D. Two ratios of medians:
//! - W / D, the words literally: it includes moto's own time (about a second of
//!   first-call costs on loopback), which is not waiting and would shrink to nothing
//!   against real AWS's minutes, so it depends on how long the chosen delays are;
//! - (W - B) / D, what the rules added to the run over what they imposed: 1.0 means mtls
//!   noticed every state change the moment it happened and never waited longer than
//!   asked. This is the ratio the target (<= 1.2) is judged on.
//!
//! For each delay it also prints how late mtls noticed that it was over (the first call
//! after the delay ended, minus its end).

/// The tests' helpers, at the paths they have in the test binary (`crate::support::...`);
/// the bench uses a few of them and of what `support::realism` re-exports.
#[allow(dead_code, unused_imports)]
#[path = "../tests/support"]
mod support {
    pub mod cli;
    pub mod key_scan;
    pub mod moto;
    pub mod realism;
    pub mod timing;
    pub mod venv;
}

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::moto::Moto;
use support::realism;
use support::realism::{
    secs, Call, DomainRateLimit, DomainUpdating, EndpointNeedsDeployment, NewCertificateLag,
    Realism, Rule, VersioningLag,
};

/// The binary timed: `MTLS_BIN`, else the one cargo built for this bench.
fn mtls_bin() -> String {
    std::env::var("MTLS_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_mtls").to_string())
}
const DOMAIN: &str = "api.example.com";

/// The rules' fixed delays, in seconds.
const CERT_UNKNOWN: f64 = 1.0;
const CERT_NO_RECORD: f64 = 2.0;
const VERSIONING_LAG: f64 = 1.0;
const RATE_PER: f64 = 2.0;
const DOMAIN_UPDATING: f64 = 3.0;

fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        NewCertificateLag::new(secs(CERT_UNKNOWN), secs(CERT_NO_RECORD)),
        VersioningLag::new(secs(VERSIONING_LAG)),
        DomainRateLimit::new(secs(RATE_PER)).after_another_caller(),
        DomainUpdating::new(secs(DOMAIN_UPDATING)),
        EndpointNeedsDeployment::new(),
    ]
}

fn args() -> [&'static str; 6] {
    support::cli::SetupArgs::RUN
}

/// One timed `mtls run setup.rhai` through `realism`, in a fresh copy of the PKI.
fn timed_setup(realism: &Realism) -> Duration {
    let dir = realism::workdir_with_pki(DOMAIN);
    let mut cmd = Command::new(mtls_bin());
    cmd.args(args())
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .envs(realism.env())
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().expect("run mtls");
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "mtls failed: {}\n{}{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        realism.report()
    );
    elapsed
}

/// A span of time (seconds since the proxy started) during which a rule held mtls back.
#[derive(Debug, Clone)]
struct Blocked {
    rule: &'static str,
    start: f64,
    end: f64,
}

fn s(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The first call that arrived at or after `t` (and before `before`), of `operation` when
/// given.
fn first_after<'c>(
    calls: &'c [Call],
    t: f64,
    before: f64,
    operation: Option<&str>,
) -> Option<&'c Call> {
    calls.iter().find(|c| {
        s(c.at) >= t && s(c.at) < before && operation.map_or(true, |op| c.operation == op)
    })
}

/// The spans during which the rules held mtls back, from the proxy's calls and events.
fn blocked(realism: &Realism) -> Vec<Blocked> {
    let calls = realism.calls();
    let ok = |c: &Call| c.status.is_some_and(|st| (200..300).contains(&st));
    let mut out = Vec::new();
    // A window that starts when `trigger` arrives and lasts `lasts`; mtls is held from the
    // answer to its first `gated` call in it.
    let mut windows = |rule: &'static str, trigger: &str, gated: &str, lasts: f64| {
        for t in calls.iter().filter(|c| c.operation == trigger && ok(c)) {
            let end = s(t.at) + lasts;
            if let Some(first) = first_after(&calls, s(t.at), end, Some(gated)) {
                let start = s(first.done);
                if start < end {
                    out.push(Blocked { rule, start, end });
                }
            }
        }
    };
    windows(
        VersioningLag::NAME,
        "PutBucketVersioning",
        "PutObject",
        VERSIONING_LAG,
    );
    windows(
        NewCertificateLag::NAME,
        "RequestCertificate",
        "DescribeCertificate",
        CERT_NO_RECORD,
    );
    windows(
        DomainUpdating::NAME,
        "CreateDomainName",
        "CreateDomainName",
        DOMAIN_UPDATING,
    );
    // Retry-After, as each 429 said (the rule logs it).
    let waits: Vec<f64> = realism
        .events_of(DomainRateLimit::NAME)
        .iter()
        .filter(|e| e.text.contains(": 429"))
        .map(|e| e.text.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    let refused: Vec<&Call> = calls.iter().filter(|c| c.status == Some(429)).collect();
    assert_eq!(refused.len(), waits.len(), "{}", realism.report());
    for (c, wait) in refused.into_iter().zip(waits) {
        out.push(Blocked {
            rule: DomainRateLimit::NAME,
            start: s(c.done),
            end: s(c.done) + wait,
        });
    }
    out.sort_by(|a, b| a.start.total_cmp(&b.start));
    out
}

/// The length of the union of the spans.
fn union_length(spans: &[Blocked]) -> f64 {
    let mut sorted: Vec<(f64, f64)> = spans.iter().map(|b| (b.start, b.end)).collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut current: Option<(f64, f64)> = None;
    for (start, end) in sorted {
        current = match current {
            Some((cs, ce)) if start <= ce => Some((cs, ce.max(end))),
            Some((cs, ce)) => {
                total += ce - cs;
                Some((start, end))
            }
            None => Some((start, end)),
        };
    }
    if let Some((cs, ce)) = current {
        total += ce - cs;
    }
    total
}

struct RulesRun {
    wall: Duration,
    delays: f64,
    /// Per rule: the time held, and how late mtls noticed the end (seconds).
    per_rule: Vec<(&'static str, f64, f64)>,
    calls: usize,
}

fn rules_run() -> RulesRun {
    let moto = start_moto();
    let realism = Realism::start(&moto, rules());
    let wall = timed_setup(&realism);
    if std::env::var_os("VERBOSE").is_some() {
        println!("{}", realism.report());
    }
    let spans = blocked(&realism);
    let calls = realism.calls();
    for rule in [
        NewCertificateLag::NAME,
        VersioningLag::NAME,
        DomainRateLimit::NAME,
        DomainUpdating::NAME,
    ] {
        assert!(
            spans.iter().any(|b| b.rule == rule),
            "{rule} never held mtls back\n{}",
            realism.report()
        );
    }
    assert!(
        EndpointNeedsDeployment::undeployed(&realism).is_empty(),
        "{}",
        realism.report()
    );
    let per_rule = spans
        .iter()
        .map(|b| {
            let noticed = first_after(&calls, b.end, f64::MAX, None)
                .map(|c| s(c.at) - b.end)
                .unwrap_or(f64::NAN);
            (b.rule, b.end - b.start, noticed)
        })
        .collect();
    RulesRun {
        wall,
        delays: union_length(&spans),
        per_rule,
        calls: calls.len(),
    }
}

fn baseline_run() -> (Duration, usize) {
    let moto = start_moto();
    let realism = Realism::start(&moto, Vec::new());
    let wall = timed_setup(&realism);
    (wall, realism.calls().len())
}

/// A fresh moto that marks a requested certificate ISSUED at once.
fn start_moto() -> Moto {
    Moto::start_with(&[("MOTO_ACM_VALIDATION_WAIT", "0")])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rounds = env_number("ROUNDS", 5).max(1);
    println!("mtls: {} {}", mtls_bin(), args().join(" "));
    println!(
        "rules: new certificate unknown {CERT_UNKNOWN} s / without record {CERT_NO_RECORD} s, \
         versioning lag {VERSIONING_LAG} s, one domain change per {RATE_PER} s (after another \
         caller), domain UPDATING {DOMAIN_UPDATING} s, endpoint needs deployment; no latency"
    );
    println!("each run against a fresh moto_server behind a fresh proxy; PKI made before, copied");
    // Makes the PKI (once) outside the measurement.
    drop(realism::workdir_with_pki(DOMAIN));
    let mut walls = Vec::new();
    let mut bases = Vec::new();
    let mut delays = Vec::new();
    let mut per_rule: BTreeMap<&'static str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for i in 0..rounds {
        let (r, (b, base_calls)) = if i % 2 == 0 {
            let r = rules_run();
            (r, baseline_run())
        } else {
            let b = baseline_run();
            (rules_run(), b)
        };
        println!(
            "round {:>2}: rules {:>6.0} ms ({} calls)  baseline {:>5.0} ms ({} calls)  delays {:>6.0} ms  \
             (W-B)/D {:.3}  W/D {:.3}",
            i + 1,
            s(r.wall) * 1e3,
            r.calls,
            s(b) * 1e3,
            base_calls,
            r.delays * 1e3,
            (s(r.wall) - s(b)) / r.delays,
            s(r.wall) / r.delays
        );
        for (rule, held, late) in &r.per_rule {
            println!(
                "          {rule:<22} held {:>5.0} ms, end noticed {:>4.0} ms late",
                held * 1e3,
                late * 1e3
            );
            let e = per_rule.entry(rule).or_default();
            e.0.push(*held);
            e.1.push(*late);
        }
        walls.push(s(r.wall));
        bases.push(s(b));
        delays.push(r.delays);
    }
    let (w, b, d) = (median(walls), median(bases), median(delays));
    println!("medians over {rounds} rounds:");
    println!("  W  setup under the rules:        {:>7.0} ms", w * 1e3);
    println!("  B  setup without rules:          {:>7.0} ms", b * 1e3);
    println!("  D  delays sat out (merged):      {:>7.0} ms", d * 1e3);
    println!(
        "  W - B - D  (waited beyond them): {:>7.0} ms",
        (w - b - d) * 1e3
    );
    println!("  (W - B) / D = {:.3}   target <= 1.2", (w - b) / d);
    println!("  W / D       = {:.3}   (includes moto's own time)", w / d);
    for (rule, (held, late)) in per_rule {
        println!(
            "  {rule:<22} held {:>5.0} ms, end noticed {:>4.0} ms late (medians)",
            median(held) * 1e3,
            median(late) * 1e3
        );
    }
}

//! Waiting and retrying, for every step that needs them: [`poll`] asks until AWS reports
//! a target state, within a bound; [`retry`] asks again, within a bound, when AWS answers
//! "not yet", "in use" or "throttled". Both show a spinner saying what they wait for on a
//! terminal and nothing but log lines elsewhere (so CI output and pipes stay clean).

use std::future::Future;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::error::Refusal;
use super::{local_code, AwsError};

/// How long to wait for AWS, and how often to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Give up after this long.
    pub timeout: Duration,
    /// Time between two polls.
    pub interval: Duration,
}

impl Wait {
    /// A wait of `timeout`, polling every `interval`.
    pub const fn new(timeout: Duration, interval: Duration) -> Self {
        Wait { timeout, interval }
    }

    /// A Route 53 change reaching all name servers: usually under a minute.
    pub const fn dns_change() -> Self {
        Wait::new(Duration::from_secs(5 * 60), Duration::from_secs(5))
    }

    /// An API Gateway custom domain leaving `UPDATING` after a create or an update: usually
    /// seconds to minutes.
    pub const fn domain_update() -> Self {
        Wait::new(Duration::from_secs(15 * 60), Duration::from_secs(10))
    }
}

/// One answer of a poll.
pub(crate) enum Poll<T> {
    /// The wait is over.
    Done(T),
    /// Not yet; the state as AWS names it (`PENDING_VALIDATION`).
    Pending(String),
}

/// The shortest pause between two polls.
pub(crate) const FIRST_DELAY: Duration = Duration::from_millis(250);

/// How much later than it happens a state change may be noticed, as a fraction of the
/// time waited so far: one fifth.
const NOTICE_WITHIN: u32 = 5;

/// The pause before asking AWS again whether a state changed, after `waited`: a fifth of
/// the time waited so far, at least `first` and at most `max`. So a change is seen at most
/// `first`, or a fifth of the time it took, after it happens (a wait costs at most 1.2
/// times what AWS makes it), and a long wait still asks only every `max`. Doubling pauses
/// would notice a change up to as late again as it took (one at 2.1 s seen at 3.75 s).
pub(crate) fn next_pause(waited: Duration, first: Duration, max: Duration) -> Duration {
    (waited / NOTICE_WITHIN).max(first).min(max)
}

/// Calls `check` until it is done, fails, or `wait.timeout` passes, pausing
/// [`next_pause`] between two calls (from [`FIRST_DELAY`] up to `wait.interval`), so a
/// state that changes within a second is seen at once and a long wait still asks rarely.
/// `what` names the thing waited for in the spinner and in the timeout error.
pub(crate) async fn poll<T, F, Fut>(
    wait: &Wait,
    service: &'static str,
    operation: &'static str,
    what: &str,
    mut check: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll<T>, AwsError>>,
{
    let start = Instant::now();
    let spinner = Spinner::new(what);
    let mut last = String::new();
    loop {
        match check().await {
            Ok(Poll::Done(value)) => {
                spinner.finish();
                return Ok(value);
            }
            Ok(Poll::Pending(state)) => {
                if state != last {
                    tracing::info!("{what}: {state}");
                    last = state;
                }
                spinner.show(&format!("{what}: {last}"));
            }
            Err(e) => {
                spinner.finish();
                return Err(e);
            }
        }
        let elapsed = start.elapsed();
        if elapsed >= wait.timeout {
            spinner.finish();
            return Err(AwsError::local(
                service,
                operation,
                local_code::TIMEOUT,
                format!("{what} is still {last} after {} s", elapsed.as_secs()),
            ));
        }
        let pause = next_pause(elapsed, FIRST_DELAY, wait.interval);
        tokio::time::sleep(pause.min(wait.timeout - elapsed)).await;
    }
}

/// Why an answer of AWS is worth asking again (a "not found" right after a create is
/// too, but only the caller knows the thing was just made: it passes
/// [`AwsError::is_not_found`] to [`retry`] itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transient {
    /// Still referenced by something being removed (`ResourceInUseException`).
    InUse,
    /// Too many requests (`TooManyRequestsException`, `Throttling`, `SlowDown`).
    Throttled,
}

impl Transient {
    /// Whether `err` is an "in use" or "throttled" answer.
    pub fn of(err: &AwsError) -> Option<Transient> {
        match err.code.as_deref()? {
            "ResourceInUseException" | "ConflictException" => Some(Transient::InUse),
            "TooManyRequestsException"
            | "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "PriorRequestNotComplete" => Some(Transient::Throttled),
            _ => None,
        }
    }
}

/// How long, at most, to keep asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Give up once this much time has passed.
    pub total: Duration,
    /// The shortest pause (the first one). After a "throttled" answer pauses double up to
    /// `max_pause` (AWS's advice: back off); after another one they are [`next_pause`].
    pub first: Duration,
    /// The longest pause.
    pub max_pause: Duration,
}

impl Retry {
    /// An ACM certificate stays "in use" for minutes after the domain that used it is
    /// deleted.
    pub const fn in_use() -> Self {
        Retry {
            total: Duration::from_secs(15 * 60),
            first: Duration::from_millis(500),
            max_pause: Duration::from_secs(15),
        }
    }

    /// A new object in a bucket whose versioning was just enabled: "it may take up to 15
    /// minutes for the change to fully propagate", and meanwhile GET requests for objects
    /// created after enabling versioning "may result in HTTP 404 NoSuchKey errors" (S3 user
    /// guide, "Enabling versioning on buckets", manage-versioning-examples.html).
    pub const fn versioning_propagation() -> Self {
        Retry {
            total: Duration::from_secs(15 * 60),
            first: Duration::from_millis(250),
            max_pause: Duration::from_secs(10),
        }
    }

    /// A resource just made can be missing from reads for a few seconds.
    pub const fn not_yet() -> Self {
        Retry {
            total: Duration::from_secs(60),
            first: Duration::from_millis(250),
            max_pause: Duration::from_secs(5),
        }
    }

    /// A throttled call. API Gateway's fixed per-account quotas (API Gateway developer
    /// guide, "Amazon API Gateway quotas", limits.html) are each their own: one
    /// CreateRestApi (regional) per 3 s, one CreateDeployment per 5 s, one
    /// CreateDomainName, UpdateDomainName, DeleteDomainName or DeleteRestApi per 30 s; a
    /// call beyond one gets HTTP 429 `TooManyRequestsException` with the time to wait
    /// (`Retry-After`), which [`retry`] honours. Ten minutes outlast twenty windows.
    pub const fn throttled() -> Self {
        Retry {
            total: Duration::from_secs(10 * 60),
            first: Duration::from_secs(1),
            max_pause: Duration::from_secs(30),
        }
    }
}

/// The SDK's retry settings for a call that must be sent once: a create without an
/// idempotency token, which a retry after a lost answer would make twice.
pub(crate) fn no_retries() -> aws_smithy_types::retry::RetryConfig {
    aws_smithy_types::retry::RetryConfig::disabled()
}

/// Whether `err` is a "too many requests" answer, for [`retry`].
pub(crate) fn is_throttled(err: &AwsError) -> bool {
    Transient::of(err) == Some(Transient::Throttled)
}

/// Whether AWS refused `err`'s call before doing anything, so that even a create that must
/// be sent once ([`no_retries`]) may be sent again:
/// - API Gateway answers a call beyond its quota with HTTP 429 `TooManyRequestsException`,
///   "The request has reached its throttling limit. Retry after the specified time period."
///   (API Gateway API reference, CreateRestApi and CreateDeployment, Errors; quotas in the
///   developer guide, limits.html);
/// - ACM with HTTP 400 `ThrottlingException`, "The request was denied because it exceeded a
///   quota" (ACM API reference, ImportCertificate, Errors);
/// - Route 53 with HTTP 400 `Throttling` ("Rate exceeded": five requests per second per
///   account, Route 53 developer guide, "Quotas", API requests) or `PriorRequestNotComplete`
///   (the account's previous request is still being processed: Route 53 API reference,
///   CreateHostedZone, Errors).
///
/// A lost answer (a timeout, a reset) proves nothing and is never a reason to resend.
pub(crate) fn was_refused_unprocessed(err: &AwsError) -> bool {
    err.status == Some(429)
        || matches!(
            (err.service, err.code.as_deref()),
            ("acm", Some("ThrottlingException"))
                | ("route53", Some("Throttling" | "PriorRequestNotComplete"))
        )
}

/// Sends a create that must not be made twice: `call` sends it once, with the SDK's retries
/// off ([`no_retries`]); it is sent again only after an answer that proves nothing was made
/// ([`was_refused_unprocessed`]), after the `Retry-After` AWS asked for. Any other failure,
/// a lost answer included, is the caller's: the next run finds what was made.
pub(crate) async fn send_create<T, E, F, Fut>(what: &str, call: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Into<Refusal>,
{
    retry(&Retry::throttled(), what, was_refused_unprocessed, call).await
}

/// Calls `call` until it succeeds, fails with an answer `again` does not accept, or
/// `policy.total` would pass; `what` names the call in the spinner and the logs. A pause
/// is never shorter than the `Retry-After` AWS sent with the answer ([`Refusal`]).
/// Throttled answers back off (pauses double); others ("not found yet", "in use") wait
/// for a state AWS is changing, and are asked again after [`next_pause`], so the change
/// is noticed soon after it happens.
pub(crate) async fn retry<T, E, F, Fut>(
    policy: &Retry,
    what: &str,
    again: impl Fn(&AwsError) -> bool,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Into<Refusal>,
{
    let start = Instant::now();
    let mut pause = policy.first;
    let mut spinner: Option<Spinner> = None;
    loop {
        let refusal = match call().await {
            Ok(v) => {
                if let Some(s) = &spinner {
                    s.finish();
                }
                return Ok(v);
            }
            Err(e) => e.into(),
        };
        let e = refusal.error;
        let wait = pause.max(refusal.retry_after.unwrap_or_default());
        if !again(&e) || start.elapsed() + wait >= policy.total {
            if let Some(s) = &spinner {
                s.finish();
            }
            return Err(e);
        }
        let code = e.code.clone().unwrap_or_default();
        let asked = refusal
            .retry_after
            .map(|d| format!(" (AWS asked for {} s)", d.as_secs_f32()))
            .unwrap_or_default();
        tracing::info!(
            "{what}: {code}, asking again in {} ms{asked}",
            wait.as_millis()
        );
        let s = spinner.get_or_insert_with(|| Spinner::new(what));
        s.show(&format!("{what}: {code}, asking again"));
        tokio::time::sleep(wait).await;
        pause = if is_throttled(&e) {
            (pause * 2).min(policy.max_pause)
        } else {
            next_pause(start.elapsed(), policy.first, policy.max_pause)
        };
    }
}

/// A spinner on stderr when it is a terminal; otherwise nothing.
struct Spinner(Option<ProgressBar>);

impl Spinner {
    fn new(what: &str) -> Self {
        if !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner(Some(bar))
    }

    fn show(&self, message: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(message.to_string());
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str) -> AwsError {
        AwsError {
            service: "acm",
            operation: "DeleteCertificate",
            code: Some(code.to_string()),
            message: String::new(),
            status: Some(400),
        }
    }

    const QUICK: Retry = Retry {
        total: Duration::from_millis(200),
        first: Duration::from_millis(1),
        max_pause: Duration::from_millis(4),
    };

    #[tokio::test]
    async fn retries_transient_answers_within_the_bound() {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let in_use = |e: &AwsError| Transient::of(e) == Some(Transient::InUse);
        let out = retry(&QUICK, "delete", in_use, || async {
            match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                0..=2 => Err(err("ResourceInUseException")),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(out.unwrap(), 7);
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);

        // Another answer stops at once; a lasting one stops at the bound.
        let calls = std::sync::atomic::AtomicU32::new(0);
        let out: Result<(), _> = retry(&QUICK, "delete", in_use, || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(err("AccessDenied"))
        })
        .await;
        assert_eq!(out.unwrap_err().code.as_deref(), Some("AccessDenied"));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        let out: Result<(), _> = retry(&QUICK, "delete", in_use, || async {
            Err(err("ResourceInUseException"))
        })
        .await;
        assert_eq!(
            out.unwrap_err().code.as_deref(),
            Some("ResourceInUseException")
        );
    }

    #[tokio::test]
    async fn a_retry_after_is_honoured_and_the_total_bounds_it() {
        let calls = std::sync::Mutex::new(Vec::new());
        let throttled = || Refusal {
            error: err("TooManyRequestsException"),
            retry_after: Some(Duration::from_millis(60)),
        };
        let start = Instant::now();
        let out = retry(&QUICK_BUT_LONG, "create", is_throttled, || async {
            let n = {
                let mut c = calls.lock().unwrap();
                c.push(start.elapsed());
                c.len()
            };
            if n < 3 {
                Err(throttled())
            } else {
                Ok(())
            }
        })
        .await;
        assert!(out.is_ok());
        let at = calls.lock().unwrap().clone();
        // Each pause is the 60 ms AWS asked for, not the 1 ms of the policy.
        assert!(at[1] - at[0] >= Duration::from_millis(60), "{at:?}");
        assert!(at[2] - at[1] >= Duration::from_millis(60), "{at:?}");

        // A Retry-After beyond the total ends the retries at once, with AWS's error.
        let calls = std::sync::atomic::AtomicU32::new(0);
        let out: Result<(), _> = retry(&QUICK, "create", is_throttled, || async {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Err(Refusal {
                error: err("TooManyRequestsException"),
                retry_after: Some(Duration::from_secs(30)),
            })
        })
        .await;
        assert_eq!(
            out.unwrap_err().code.as_deref(),
            Some("TooManyRequestsException")
        );
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    const QUICK_BUT_LONG: Retry = Retry {
        total: Duration::from_secs(60),
        first: Duration::from_millis(1),
        max_pause: Duration::from_millis(4),
    };

    #[test]
    fn a_change_is_noticed_within_a_fifth_of_the_time_waited() {
        let (first, max) = (Duration::from_millis(250), Duration::from_secs(10));
        let pause = |waited_ms: u64| next_pause(Duration::from_millis(waited_ms), first, max);
        assert_eq!(pause(0), first);
        assert_eq!(pause(1_250), first);
        assert_eq!(pause(2_000), Duration::from_millis(400));
        assert_eq!(pause(3_000), Duration::from_millis(600));
        assert_eq!(pause(49_000), Duration::from_millis(9_800));
        assert_eq!(pause(30 * 60_000), max);
        // A maximum below the minimum wins (a wait whose interval is short).
        assert_eq!(
            next_pause(Duration::ZERO, first, Duration::from_millis(100)),
            Duration::from_millis(100)
        );
        // So the pauses of a poll never exceed a fifth of the time waited, once past the
        // first: the state is seen at most 20 % after it changed.
        let mut waited = Duration::ZERO;
        while waited < Duration::from_secs(120) {
            let p = next_pause(waited, first, max);
            assert!(p <= first.max(waited / 5), "{p:?} after {waited:?}");
            waited += p;
        }
    }

    #[tokio::test]
    async fn throttled_answers_back_off() {
        // With pauses of 1 ms up to 64 ms, ten throttled answers take at least
        // 1+2+4+...+64 ms (with the pauses of other answers, about 20 ms).
        let policy = Retry {
            total: Duration::from_secs(60),
            first: Duration::from_millis(1),
            max_pause: Duration::from_millis(64),
        };
        let run = |code: &'static str| {
            let calls = std::sync::atomic::AtomicU32::new(0);
            async move {
                let start = Instant::now();
                let again = |e: &AwsError| Transient::of(e).is_some();
                retry(&policy, "x", again, || async {
                    match calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                        0..=9 => Err(err(code)),
                        _ => Ok(()),
                    }
                })
                .await
                .unwrap();
                start.elapsed()
            }
        };
        let throttled = run("TooManyRequestsException").await;
        assert!(
            throttled >= Duration::from_millis(1 + 2 + 4 + 8 + 16 + 32 + 64 * 4),
            "{throttled:?}"
        );
        // (The other answers' pauses are `next_pause`, tested above; no upper bound on time
        // is asserted here, since a loaded machine may sleep longer.)
        run("ResourceInUseException").await;
    }

    #[test]
    fn classifies_answers() {
        assert_eq!(
            Transient::of(&err("ResourceInUseException")),
            Some(Transient::InUse)
        );
        assert_eq!(
            Transient::of(&err("TooManyRequestsException")),
            Some(Transient::Throttled)
        );
        assert_eq!(Transient::of(&err("AccessDenied")), None);
        // Only a 429 proves a create was not processed; a lost answer proves nothing.
        let refused = AwsError {
            status: Some(429),
            ..err("TooManyRequestsException")
        };
        assert!(was_refused_unprocessed(&refused));
        assert!(!was_refused_unprocessed(&err("TooManyRequestsException")));
        let lost = AwsError::local("apigateway", "CreateRestApi", local_code::TIMEOUT, "");
        assert!(!was_refused_unprocessed(&lost));
        // ACM and Route 53 throttle with HTTP 400 and a code of their own.
        let in_service = |service, code: &str| AwsError {
            service,
            status: Some(400),
            ..err(code)
        };
        assert!(was_refused_unprocessed(&in_service(
            "acm",
            "ThrottlingException"
        )));
        assert!(was_refused_unprocessed(&in_service(
            "route53",
            "Throttling"
        )));
        assert!(was_refused_unprocessed(&in_service(
            "route53",
            "PriorRequestNotComplete"
        )));
        assert!(!was_refused_unprocessed(&in_service(
            "route53",
            "ThrottlingException"
        )));
        assert!(!was_refused_unprocessed(&in_service(
            "acm",
            "ValidationException"
        )));
    }
}

/// Tests that kill the mutants cargo-mutants found alive here (tests/README.md, "Mutation
/// testing").
#[cfg(test)]
mod mutants_tests {
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};

    use super::*;

    const QUICK: Wait = Wait::new(Duration::from_millis(300), Duration::from_millis(5));

    fn pending() -> Result<Poll<u32>, AwsError> {
        Ok(Poll::Pending("UPDATING".into()))
    }

    #[test]
    fn the_bounds_are_the_documented_ones() {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        assert_eq!(Wait::dns_change().timeout, minutes(5));
        assert_eq!(Wait::domain_update().timeout, minutes(15));
        assert_eq!(Retry::in_use().total, minutes(15));
        assert_eq!(Retry::throttled().total, minutes(10));
    }

    #[test]
    fn only_throttling_answers_are_throttled() {
        let answer = |code: &str| AwsError::local("apigateway", "CreateDomainName", code, "");
        assert!(is_throttled(&answer("TooManyRequestsException")));
        assert!(is_throttled(&answer("SlowDown")));
        assert!(!is_throttled(&answer("ResourceInUseException")));
        assert!(!is_throttled(&answer("AccessDenied")));
    }

    #[tokio::test]
    async fn poll_asks_until_done() {
        let calls = AtomicU32::new(0);
        let out = poll(
            &QUICK,
            "apigateway",
            "GetDomainName",
            "the domain",
            || async {
                match calls.fetch_add(1, SeqCst) {
                    0..=2 => pending(),
                    n => Ok(Poll::Done(n)),
                }
            },
        )
        .await;
        assert_eq!(out.unwrap(), 3);
    }

    #[tokio::test]
    async fn poll_stops_at_an_error_and_at_the_timeout() {
        let calls = AtomicU32::new(0);
        let out: Result<u32, _> = poll(&QUICK, "acm", "DescribeCertificate", "x", || async {
            calls.fetch_add(1, SeqCst);
            Err(AwsError::local(
                "acm",
                "DescribeCertificate",
                "AccessDenied",
                "no",
            ))
        })
        .await;
        assert_eq!(out.unwrap_err().code.as_deref(), Some("AccessDenied"));
        assert_eq!(calls.load(SeqCst), 1);

        let start = Instant::now();
        let out = poll(
            &QUICK,
            "apigateway",
            "GetDomainName",
            "the domain",
            || async { pending() },
        )
        .await;
        let err = out.unwrap_err();
        assert_eq!(err.code.as_deref(), Some(local_code::TIMEOUT));
        assert!(
            err.message
                .starts_with("the domain is still UPDATING after"),
            "{err:?}"
        );
        assert!(start.elapsed() >= QUICK.timeout);
    }
}

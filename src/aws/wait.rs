//! Waiting and retrying, for every step that needs them: [`poll`] asks until AWS reports
//! a target state, within a bound; [`retry`] asks again, within a bound, when AWS answers
//! "not yet", "in use" or "throttled". Both show a spinner saying what they wait for on a
//! terminal and nothing but log lines elsewhere (so CI output and pipes stay clean).

use std::future::Future;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

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

    /// ACM DNS validation: usually minutes once the CNAME resolves, 30 minutes at most here.
    pub const fn certificate_validation() -> Self {
        Wait::new(Duration::from_secs(30 * 60), Duration::from_secs(10))
    }

    /// A Route 53 change reaching all name servers: usually under a minute.
    pub const fn dns_change() -> Self {
        Wait::new(Duration::from_secs(5 * 60), Duration::from_secs(5))
    }
}

/// One answer of a poll.
pub(crate) enum Poll<T> {
    /// The wait is over.
    Done(T),
    /// Not yet; the state as AWS names it (`PENDING_VALIDATION`).
    Pending(String),
}

/// The first pause between two polls; later ones double up to the wait's interval.
pub(crate) const FIRST_DELAY: Duration = Duration::from_millis(250);

/// Calls `check` until it is done, fails, or `wait.timeout` passes: first after
/// [`FIRST_DELAY`], then twice as long each time up to `wait.interval`, so a state that
/// changes within a second is seen at once and a long wait still asks rarely.
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
    let mut delay = FIRST_DELAY.min(wait.interval);
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
        tokio::time::sleep(delay.min(wait.timeout - elapsed)).await;
        delay = (delay * 2).min(wait.interval);
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
    /// The first pause; later ones double up to `max_pause`.
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

    /// A resource just made can be missing from reads for a few seconds.
    pub const fn not_yet() -> Self {
        Retry {
            total: Duration::from_secs(60),
            first: Duration::from_millis(250),
            max_pause: Duration::from_secs(5),
        }
    }
}

/// Calls `call` until it succeeds, fails with an answer `again` does not accept, or
/// `policy.total` would pass; `what` names the call in the spinner and the logs.
pub(crate) async fn retry<T, F, Fut>(
    policy: &Retry,
    what: &str,
    again: impl Fn(&AwsError) -> bool,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let start = Instant::now();
    let mut pause = policy.first;
    let mut spinner: Option<Spinner> = None;
    loop {
        match call().await {
            Ok(v) => {
                if let Some(s) = &spinner {
                    s.finish();
                }
                return Ok(v);
            }
            Err(e) if again(&e) && start.elapsed() + pause < policy.total => {
                let code = e.code.clone().unwrap_or_default();
                tracing::info!("{what}: {code}, asking again in {} ms", pause.as_millis());
                let s = spinner.get_or_insert_with(|| Spinner::new(what));
                s.show(&format!("{what}: {code}, asking again"));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(policy.max_pause);
            }
            Err(e) => {
                if let Some(s) = &spinner {
                    s.finish();
                }
                return Err(e);
            }
        }
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
    }
}

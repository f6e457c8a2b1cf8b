//! Polling until AWS reports a state, with a spinner on a terminal and nothing but log lines
//! elsewhere (so CI output and pipes stay clean).

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

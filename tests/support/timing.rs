//! Every time window and timeout of the tests, stretched by one factor from the environment.
//!
//! The realism rules model AWS's slow states with windows of seconds, the fault cases bound a
//! stalled call with a short attempt timeout, and the gateway tests give a shutdown a second
//! or two. On a loaded machine (two cores shared by several `cargo test` runs) a window can
//! close before mtls even got to ask, and the test fails for no fault of the code; a failure
//! like that teaches people to rerun, then to ignore. `MTLS_TEST_SLOWDOWN=3` makes every
//! window and timeout three times longer, so the same ordering of events still holds (see
//! tests/README.md, "Timing"). Unset, empty or 1: the times as written.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::Duration;

/// The environment variable holding the factor.
pub const SLOWDOWN_ENV: &str = "MTLS_TEST_SLOWDOWN";

/// The factor from [`SLOWDOWN_ENV`]: a number of at least 1 (1 when unset). Anything else
/// panics with what to write instead: a typo must not quietly run the tests unscaled.
pub fn slowdown() -> f64 {
    static FACTOR: OnceLock<f64> = OnceLock::new();
    *FACTOR.get_or_init(|| match std::env::var(SLOWDOWN_ENV) {
        Ok(v) if !v.trim().is_empty() => parse_slowdown(&v).unwrap_or_else(|e| panic!("{e}")),
        _ => 1.0,
    })
}

/// The factor written in `v`, or why it is not one.
pub fn parse_slowdown(v: &str) -> Result<f64, String> {
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 1.0 => Ok(f),
        _ => Err(format!(
            "{SLOWDOWN_ENV}={v:?} is not a factor of at least 1 (e.g. {SLOWDOWN_ENV}=3 makes \
             every test window and timeout three times longer)"
        )),
    }
}

/// `s` seconds, times [`slowdown`]: every window, wait and timeout of the tests goes through
/// this one function.
pub fn secs(s: f64) -> Duration {
    stretch(s, slowdown())
}

/// `s` seconds stretched by `factor`.
pub fn stretch(s: f64, factor: f64) -> Duration {
    Duration::from_secs_f64(s * factor)
}

/// [`secs`] as a number of seconds for an environment variable or a `--var` of mtls
/// (`MTLS_AWS_TIMEOUT_SECS`, `validation_timeout`), rounded up to whole seconds.
pub fn secs_arg(s: f64) -> String {
    secs(s).as_secs_f64().ceil().to_string()
}

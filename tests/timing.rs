//! `MTLS_TEST_SLOWDOWN` (tests/support/timing.rs, tests/README.md "Timing"): the factor is a
//! number of at least 1, and it multiplies a window.

use crate::support;

use std::time::Duration;

use support::timing::{parse_slowdown, secs, slowdown, stretch};

#[test]
fn the_factor_is_a_number_of_at_least_one() {
    assert_eq!(parse_slowdown("3"), Ok(3.0));
    assert_eq!(parse_slowdown(" 1.5 "), Ok(1.5));
    for bad in ["0.5", "0", "-2", "fast", "inf", "NaN", ""] {
        let err = parse_slowdown(bad).expect_err(bad);
        assert!(err.contains("MTLS_TEST_SLOWDOWN"), "{err}");
    }
}

#[test]
fn a_window_is_stretched_by_the_factor() {
    assert_eq!(stretch(3.0, 1.0), Duration::from_secs(3));
    assert_eq!(stretch(3.0, 2.5), Duration::from_millis(7500));
    assert_eq!(secs(2.0), stretch(2.0, slowdown()));
}

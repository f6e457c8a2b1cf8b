//! mtls: mutual TLS in front of Amazon API Gateway, as editable Rhai scripts run by one
//! binary.
//!
//! A script (the bundled `scripts/*.rhai` or the user's own) calls steps from the stdlib
//! (`gen_root_ca`, `upload_truststore`, ...), which call Rust primitives. Every primitive
//! that changes the world goes through one effects boundary, so one script serves both
//! `mtls run` (live) and `mtls plan` (a dry-run that changes nothing). [`Runtime`] is the
//! entry point.
//!
//! The public API is the runtime ([`Runtime`], [`RuntimeBuilder`], [`Outcome`]), the plan
//! it returns ([`Plan`] and its [`Action`]s), and the [`Error`]; [`cli::main`] is the `mtls`
//! command itself. Everything else is private to the crate. The tests and benchmarks turn on
//! the `internals` feature, which makes the inner modules (`pki`, `aws`, `gateway`, ...)
//! public so they can check keys, AWS state and the gateway directly; it is not a stable API.
//!
//! ```no_run
//! // Plan the bundled walkthrough offline, as `mtls plan setup.rhai` does.
//! let outcome = mtls::Runtime::builder()
//!     .workdir("./pki")
//!     .mode(mtls::Mode::Plan)
//!     .var("domain", "api.example.com")
//!     .build()
//!     .run("setup.rhai")?;
//! println!("{}", outcome.plan.render_text());
//! # Ok::<(), mtls::Error>(())
//! ```
//!
//! `examples/embed.rs` is a complete program built on it: it plans the walkthrough against AWS,
//! shows the plan and applies it (`cargo run --example embed -- api.example.com ./pki --apply`).

#![warn(missing_docs)]

/// Declares modules that are crate-private, or public with the `internals` feature (for the
/// tests and benchmarks only). What only those use (items, re-exports) is not dead code, hence the `allow`.
macro_rules! internal_modules {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        #[allow(dead_code, unused_imports)]
        pub(crate) mod $name;
    )*};
}

internal_modules!(alloc, aws, check, effects, gateway, inputs, petstore, pki, script, workdir);

pub mod cli;
pub mod error;
pub(crate) mod reconcile;
mod runtime;

pub use alloc::Counting as CountingAllocator;
pub use aws::{local_code, AwsError, AwsSettings};
pub use effects::{Action, Arg, ArgValue, Kind, Mode, Op, Plan, Summary, Unknown};
pub use error::{CallSite, Error, ScriptError};
pub use gateway::GatewayError;
pub use runtime::{Outcome, Printer, Runtime, RuntimeBuilder};

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
//!     .mode(mtls::Mode::Plan { refresh: false })
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

// The inner modules: crate-private, or public with the `internals` feature (for the tests and
// benchmarks only). Each is declared twice, plainly rather than through a macro, so that tools
// reading `mod` declarations without expanding macros (cargo-mutants) see every file. What only
// the tests use is marked `#[cfg(feature = "internals")]` where it is defined, so nothing else
// is allowed to be dead.
// `mutants::skip` keeps cargo-mutants from reading each file a second time through the
// crate-private declaration; it is never expanded, since builds with `cfg(test)` have the
// feature on (the dev-dependency on this crate turns it on), which removes that declaration.
#[cfg(feature = "internals")]
pub mod alloc;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod alloc;
#[cfg(feature = "internals")]
pub mod aws;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod aws;
#[cfg(feature = "internals")]
pub mod check;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod check;
#[cfg(feature = "internals")]
pub mod effects;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod effects;
#[cfg(feature = "internals")]
pub mod gateway;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod gateway;
#[cfg(feature = "internals")]
pub mod inputs;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod inputs;
#[cfg(feature = "internals")]
pub mod petstore;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod petstore;
#[cfg(feature = "internals")]
pub mod pki;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod pki;
#[cfg(feature = "internals")]
pub mod script;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod script;
#[cfg(feature = "internals")]
pub mod workdir;
#[cfg(not(feature = "internals"))]
#[cfg_attr(test, mutants::skip)]
pub(crate) mod workdir;

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

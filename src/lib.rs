//! mtls: mutual TLS in front of Amazon API Gateway, as editable Rhai scripts run by one
//! binary.
//!
//! A script (the bundled `scripts/*.rhai` or the user's own) calls steps from the stdlib
//! (`gen_root_ca`, `upload_truststore`, ...), which call Rust primitives. Every primitive
//! that changes the world goes through [`effects`], so one script serves both `mtls run`
//! (live) and `mtls plan` (a dry-run that changes nothing). [`Runtime`] is the entry point.

#![warn(missing_docs)]

pub mod alloc;
pub mod aws;
pub mod check;
pub mod effects;
pub mod error;
pub mod gateway;
pub mod inputs;
pub mod petstore;
pub mod pki;
pub(crate) mod reconcile;
mod runtime;
pub mod script;
pub mod workdir;

pub use effects::{Mode, Plan};
pub use error::Error;
pub use runtime::{Outcome, Printer, Runtime, RuntimeBuilder};

//! The Rhai side, one concept per file: the run's context (context.rs), the engine
//! and its limits (engine.rs), the stdlib (stdlib.rs: bundled, overridable function by
//! function), `mtls functions`' docs (docs.rs), the primitives, modules for `import`, and
//! errors that point into the script.

pub mod bundled;
mod context;
mod docs;
mod engine;
pub(crate) mod error;
pub(crate) mod modules;
mod primitives;
mod stdlib;

pub(crate) use context::Context;
pub use context::Printer;
pub use docs::{primitive_docs, stdlib_docs};
pub use engine::limits;
pub(crate) use engine::new_engine;
pub use error::Sources;
#[cfg(feature = "internals")]
pub use primitives::domain_lock_file;
pub use primitives::FunctionDoc;
pub(crate) use primitives::{take_before_run, AwsReadGate, KeyPool, RunLocks};
pub(crate) use stdlib::{compile_stdlib, refuse_primitive_names};
pub use stdlib::{stdlib_files, StdlibFile};

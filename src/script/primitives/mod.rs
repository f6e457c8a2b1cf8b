//! The Rust functions scripts call. Each is one Rust function, one registration line and
//! one doc line (what `mtls functions` prints).

pub(crate) mod args;
mod aws;
mod bundle;
mod core;
mod csr;
mod files;
mod fleet;
mod gateway;
mod issuer;
mod lock;
mod manifest;
mod p12;
mod pki;
mod revoke;

use std::rc::Rc;

use rhai::Engine;

pub(crate) use self::aws::AwsReadGate;
pub(crate) use args::Opts;
#[cfg(feature = "internals")]
pub use lock::domain_lock_file;
pub(crate) use lock::{take_before_run, RunLocks};
pub(crate) use pki::KeyPool;

use super::Context;

/// One function scripts can call, as `mtls functions` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FunctionDoc {
    /// `pki`, `core`, ... for primitives; the stdlib file for stdlib steps.
    pub group: String,
    /// The function name.
    pub name: String,
    /// `issue_cert(opts: map) -> map`.
    pub signature: String,
    /// One line saying what it does.
    pub doc: String,
}

/// Registers primitives on an engine and keeps their docs.
pub(crate) struct Registrar<'e> {
    pub engine: &'e mut Engine,
    pub docs: Vec<FunctionDoc>,
    group: &'static str,
}

impl Registrar<'_> {
    pub(crate) fn doc(&mut self, name: &str, signature: &str, doc: &str) {
        self.docs.push(FunctionDoc {
            group: self.group.to_string(),
            name: name.to_string(),
            signature: signature.to_string(),
            doc: doc.to_string(),
        });
    }
}

/// Registers a primitive and its doc line in one statement.
macro_rules! primitive {
    ($reg:expr, $name:literal, $sig:literal, $doc:literal, $f:expr) => {{
        $reg.engine.register_fn($name, $f);
        $reg.doc($name, $sig, $doc);
    }};
}
pub(crate) use primitive;

/// Registers a primitive bound to the run's context, with its doc line. The closure takes
/// the `&Context` first and returns the library's `Result`; holding the context and
/// turning an [`crate::error::Error`] into the Rhai error are done here, once.
macro_rules! bound {
    ($reg:expr, $ctx:expr, $name:literal, $sig:literal, $doc:literal,
     |$c:ident $(, $arg:ident : $ty:ty)*| -> $ret:ty $body:block) => {{
        let ctx = ::std::rc::Rc::clone($ctx);
        $reg.engine.register_fn(
            $name,
            move |$($arg: $ty),*| -> Result<$ret, Box<rhai::EvalAltResult>> {
                let $c: &$crate::script::Context = &ctx;
                let result: Result<$ret, $crate::error::Error> = $body;
                result.map_err($crate::script::error::fail)
            },
        );
        $reg.doc($name, $sig, $doc);
    }};
}
pub(crate) use bound;

/// Registers every primitive on `engine`, bound to the run's `ctx`; returns their docs.
pub(crate) fn register_all(engine: &mut Engine, ctx: &Rc<Context>) -> Vec<FunctionDoc> {
    let mut reg = Registrar {
        engine,
        docs: Vec::new(),
        group: "core",
    };
    core::register(&mut reg, ctx);
    reg.group = "pki";
    pki::register(&mut reg, ctx);
    fleet::register(&mut reg, ctx);
    csr::register(&mut reg, ctx);
    bundle::register(&mut reg, ctx);
    revoke::register(&mut reg, ctx);
    p12::register(&mut reg, ctx);
    reg.group = "aws";
    aws::register(&mut reg, ctx);
    reg.group = "gateway";
    gateway::register(&mut reg, ctx);
    reg.docs
}

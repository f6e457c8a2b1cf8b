//! Primitives every flow uses: command-line variables, plan awareness, placeholders.

use std::rc::Rc;

use rhai::{Dynamic, ImmutableString, Map};

use super::{primitive, Registrar};
use crate::effects::Unknown;
use crate::error::Error;
use crate::script::error::{fail, Failure};
use crate::script::Context;

/// The capability to ask [`crate::effects::Effects::is_plan`]: the private field means only
/// this file, which registers the script function `is_plan()`, can make one. Primitives do
/// not ask; scripts may.
pub(crate) struct IsPlanFunction(());

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    reg.engine
        .register_type_with_name::<Unknown>("Unknown")
        .register_fn("to_string", |u: &mut Unknown| u.to_string())
        .register_fn("to_debug", |u: &mut Unknown| u.to_string())
        .register_fn("+", |s: ImmutableString, u: Unknown| format!("{s}{u}"))
        .register_fn("+", |u: Unknown, s: ImmutableString| format!("{u}{s}"))
        .register_type_with_name::<Failure>("Error")
        .register_fn("to_string", |f: &mut Failure| f.to_string())
        .register_fn("to_debug", |f: &mut Failure| f.to_string());

    let c = ctx.clone();
    primitive!(
        reg,
        "get_var",
        "get_var(name: string) -> string",
        "The value of `--var NAME=VALUE`; an error naming the missing flag when it was not given.",
        move |name: &str| -> Result<String, Box<rhai::EvalAltResult>> {
            c.vars.get(name).cloned().ok_or_else(|| {
                fail(Error::MissingVar {
                    name: name.to_string(),
                })
            })
        }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "get_var",
        "get_var(name: string, default: string) -> string",
        "The value of `--var NAME=VALUE`, or `default` when it was not given.",
        move |name: &str, default: &str| -> String {
            c.vars
                .get(name)
                .cloned()
                .unwrap_or_else(|| default.to_string())
        }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "has_var",
        "has_var(name: string) -> bool",
        "Whether `--var NAME=...` was given.",
        move |name: &str| c.vars.contains_key(name)
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "vars",
        "vars() -> map",
        "Every `--var` given, as a map.",
        move || -> Map {
            c.vars
                .iter()
                .map(|(k, v)| (k.into(), Dynamic::from(v.clone())))
                .collect()
        }
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "is_plan",
        "is_plan() -> bool",
        "True in `mtls plan` (nothing is changed; some values are `(known after apply)`).",
        move || c.effects.is_plan(&IsPlanFunction(()))
    );
    primitive!(
        reg,
        "is_known",
        "is_known(value) -> bool",
        "False for a `(known after apply)` placeholder of a plan, true for any other value.",
        |v: Dynamic| !v.is::<Unknown>()
    );
    let c = ctx.clone();
    primitive!(
        reg,
        "file_exists",
        "file_exists(path: string) -> bool",
        "Whether a file exists in the working folder (-C).",
        move |path: &str| -> Result<bool, Box<rhai::EvalAltResult>> {
            c.workdir.exists(path).map_err(fail)
        }
    );
}

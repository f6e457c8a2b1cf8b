//! Primitives every flow uses: command-line variables, placeholders, files.

use std::rc::Rc;

use rhai::{Dynamic, ImmutableString, Map};

use super::{primitive, Registrar};
use crate::effects::{is_unknown, Unknown};
use crate::error::Error;
use crate::script::error::{fail, Failure};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    reg.engine
        .register_type_with_name::<Unknown>("Unknown")
        .register_fn("to_string", |u: &mut Unknown| u.to_string())
        .register_fn("to_debug", |_: &mut Unknown| Unknown::TEXT.to_string())
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
    primitive!(
        reg,
        "is_known",
        "is_known(value) -> bool",
        "False for a plan's `(known after apply)` placeholder and for text built from one, true for any other value.",
        |v: Dynamic| !(v.is::<Unknown>() || v.read_lock::<ImmutableString>().is_some_and(|s| is_unknown(&s)))
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

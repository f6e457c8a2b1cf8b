//! The Rhai engine of a run: its limits (operations, depth, sizes, memory, Ctrl-C) and
//! its primitives.

use std::collections::BTreeMap;
use std::rc::Rc;

use rhai::Engine;

use super::{error, primitives, Context, FunctionDoc, Printer};
use crate::effects::Effects;
use crate::workdir::Workdir;

/// Limits that stop a runaway script with a clear error instead of hanging or eating memory.
pub mod limits {
    /// Operations before a script is stopped (a runaway loop).
    pub const MAX_OPERATIONS: u64 = 50_000_000;
    /// Nested calls before a script is stopped (runaway recursion).
    pub const MAX_CALL_LEVELS: usize = 64;
    /// Nesting of expressions, at compile and run time.
    pub const MAX_EXPR_DEPTH: usize = 128;
    /// The longest string, in bytes.
    pub const MAX_STRING_SIZE: usize = 4 * 1024 * 1024;
    /// The most items in an array, counting the items of the arrays and maps inside it
    /// (Rhai counts them so); so also how deep arrays may nest. Each level of
    /// `loop { a = [a]; }` copies the whole value, so depth N costs N² steps: at 100,000 the
    /// loop ran 233 s and then overflowed the stack at depth 50,000; at 2,000 it stops in
    /// about a second. Flows hold a few names and certificates per array.
    pub const MAX_ARRAY_SIZE: usize = 2_000;
    /// The most entries in a map, counting those of the maps and arrays inside it; the
    /// same reasoning for `m = #{ k: m }` as for arrays.
    pub const MAX_MAP_SIZE: usize = 2_000;
    /// Live heap bytes past which a script is stopped (see [`crate::alloc`]).
    pub const MAX_MEMORY_BYTES: usize = 1024 * 1024 * 1024;
}

/// An engine with the project's limits and, when `ctx` is given, its primitives.
pub(crate) fn new_engine(ctx: Option<&Rc<Context>>, print: Printer) -> (Engine, Vec<FunctionDoc>) {
    let mut engine = Engine::new();
    engine
        .set_max_operations(limits::MAX_OPERATIONS)
        .set_max_call_levels(limits::MAX_CALL_LEVELS)
        .set_max_expr_depths(limits::MAX_EXPR_DEPTH, limits::MAX_EXPR_DEPTH)
        .set_max_string_size(limits::MAX_STRING_SIZE)
        .set_max_array_size(limits::MAX_ARRAY_SIZE)
        .set_max_map_size(limits::MAX_MAP_SIZE)
        // A misspelt variable is an error when the script is compiled, before anything runs.
        .set_strict_variables(true);
    // Between any two operations: stop on Ctrl-C, or when the script's data outgrows the
    // memory limit (Rhai's own limits count entries, not bytes).
    let interrupt = ctx.map(|c| c.interrupt.clone());
    engine.on_progress(move |_| {
        if interrupt
            .as_ref()
            .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed))
        {
            return Some("interrupted".into());
        }
        (crate::alloc::live_bytes() > limits::MAX_MEMORY_BYTES).then(|| error::MEMORY_TOKEN.into())
    });
    let p = print.clone();
    // Text built from a plan's placeholder carries its marks (src/effects/unknown.rs): shown plainly.
    engine.on_print(move |s| p(&crate::effects::readable(s)));
    engine.on_debug(move |s, _, pos| {
        print(&format!("[debug {pos}] {}", crate::effects::readable(s)))
    });
    let docs = match ctx {
        Some(ctx) => primitives::register_all(&mut engine, ctx),
        None => {
            // Docs only (`mtls functions`): register against a throwaway plan context.
            let scratch = Rc::new(Context::new(
                Workdir::new("."),
                Effects::new(crate::effects::Mode::PLAN),
                BTreeMap::new(),
                false,
            ));
            primitives::register_all(&mut engine, &scratch)
        }
    };
    (engine, docs)
}

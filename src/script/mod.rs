//! The Rhai side: the engine and its limits, the stdlib (bundled, overridable function by
//! function), the primitives, and errors that point into the script.

pub mod bundled;
mod error;
pub(crate) mod modules;
mod primitives;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::{Engine, AST};

pub use error::{CallSite, Failure, ScriptError, Sources};
pub use primitives::FunctionDoc;

use crate::effects::Effects;
use crate::error::Error;
use crate::workdir::Workdir;

/// Where a run's text goes (the script's `print`, notices): any thread may call it.
pub type Printer = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// What the primitives of one run share.
pub(crate) struct Context {
    pub workdir: Workdir,
    pub effects: Effects,
    pub vars: BTreeMap<String, String>,
    /// `--force`: replace what exists instead of keeping it.
    pub force: bool,
    pub keys: primitives::KeyPool,
    /// Started on first use: most PKI-only runs never need it.
    pub tokio: std::cell::OnceCell<tokio::runtime::Runtime>,
    /// Gateways `serve` started; stopped when the run ends.
    pub gateways: std::cell::RefCell<Vec<crate::gateway::Gateway>>,
    pub aws: AwsAccess,
    /// Set by Ctrl-C: the script stops at its next operation, a wait at once.
    pub interrupt: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Where warnings about the run go (not the script's own output).
    pub notices: Printer,
}

/// How a run reaches AWS: settings, and the clients, connected on first use so that runs
/// that never touch AWS never load its configuration.
#[derive(Default)]
pub(crate) struct AwsAccess {
    pub settings: crate::aws::AwsSettings,
    pub client: std::cell::OnceCell<crate::aws::Aws>,
}

impl Context {
    pub(crate) fn new(
        workdir: Workdir,
        effects: Effects,
        vars: BTreeMap<String, String>,
        force: bool,
    ) -> Self {
        Context {
            aws: AwsAccess::default(),
            workdir,
            effects,
            vars,
            force,
            keys: KeyPool::default(),
            tokio: std::cell::OnceCell::new(),
            gateways: std::cell::RefCell::new(Vec::new()),
            interrupt: Default::default(),
            notices: std::sync::Arc::new(|s| eprintln!("{s}")),
        }
    }

    /// A warning about the run, through the run's notice sink.
    pub(crate) fn notice(&self, text: &str) {
        tracing::warn!("{text}");
        (self.notices)(text)
    }

    /// Runs a future to completion for a synchronous primitive.
    pub(crate) fn block_on<F: std::future::Future>(&self, fut: F) -> Result<F::Output, Error> {
        if self.tokio.get().is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|source| Error::Io {
                    action: "start the async runtime for",
                    path: "network and AWS calls".into(),
                    source,
                })?;
            let _ = self.tokio.set(rt);
        }
        let interrupt = self.interrupt.clone();
        let interrupted = async move {
            while !interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        match self.tokio.get() {
            // A wait (or a call) ends at once on Ctrl-C; like kill -9 at that point, a
            // re-run picks up from what exists.
            Some(rt) => rt.block_on(async {
                tokio::select! {
                    out = fut => Ok(out),
                    () = interrupted => Err(Error::Interrupted),
                }
            }),
            None => Err(Error::internal(
                "start the async runtime",
                "unavailable after starting",
            )),
        }
    }

    /// Ends what the run started in the background (gateways).
    pub(crate) fn finish(&self) {
        let gateways: Vec<_> = self.gateways.borrow_mut().drain(..).collect();
        for g in gateways {
            let _ = self.block_on(g.shutdown());
        }
    }
}

pub(crate) use primitives::KeyPool;

/// Limits that stop a runaway script with a clear error instead of hanging or eating memory.
pub mod limits {
    pub const MAX_OPERATIONS: u64 = 50_000_000;
    pub const MAX_CALL_LEVELS: usize = 64;
    pub const MAX_EXPR_DEPTH: usize = 128;
    pub const MAX_STRING_SIZE: usize = 4 * 1024 * 1024;
    pub const MAX_ARRAY_SIZE: usize = 100_000;
    pub const MAX_MAP_SIZE: usize = 10_000;
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
    engine.on_print(move |s| p(s));
    engine.on_debug(move |s, _, pos| print(&format!("[debug {pos}] {s}")));
    let docs = match ctx {
        Some(ctx) => primitives::register_all(&mut engine, ctx),
        None => {
            // Docs only (`mtls functions`): register against a throwaway plan context.
            let scratch = Rc::new(Context::new(
                Workdir::new("."),
                Effects::new(crate::effects::Mode::Plan, false, false),
                BTreeMap::new(),
                false,
            ));
            primitives::register_all(&mut engine, &scratch)
        }
    };
    (engine, docs)
}

/// One stdlib file: its display name and text.
#[derive(Debug, Clone)]
pub struct StdlibFile {
    pub name: String,
    pub source: String,
    /// Shipped in the binary (not one of the user's files).
    pub bundled: bool,
}

/// The stdlib files of a run, in load order: bundled first, then a `stdlib/` folder next
/// to the script, then `--stdlib DIR`. A later file's function replaces an earlier one of
/// the same name and arity, so a user overrides one step without copying the rest.
pub fn stdlib_files(
    script_dir: Option<&Path>,
    stdlib_dir: Option<&Path>,
) -> Result<Vec<StdlibFile>, Error> {
    let mut files: Vec<StdlibFile> = bundled::STDLIB
        .iter()
        .map(|f| StdlibFile {
            name: format!("(bundled) {}", f.path),
            source: f.source.to_string(),
            bundled: true,
        })
        .collect();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = script_dir {
        let local = d.join("stdlib");
        if local.is_dir() {
            dirs.push(local);
        }
    }
    if let Some(d) = stdlib_dir {
        if !d.is_dir() {
            return Err(Error::Io {
                action: "read the stdlib folder",
                path: d.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            });
        }
        dirs.push(d.to_path_buf());
    }
    for dir in dirs {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|source| Error::Io {
                action: "read",
                path: dir.display().to_string(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
            .collect();
        entries.sort();
        for path in entries {
            files.push(StdlibFile {
                name: path.display().to_string(),
                source: crate::workdir::read_script_file(&path)?,
                bundled: false,
            });
        }
    }
    Ok(files)
}

/// The stdlib compiled for a run, and the bundled steps the user's files replace.
pub(crate) struct Stdlib {
    pub ast: AST,
    /// `gen_root_ca() from ./stdlib/pki.rhai`, one per replaced bundled step.
    pub overrides: Vec<String>,
}

/// Compiles every stdlib file into one AST of functions, recording which file defines
/// each function so errors inside a step point at the right file.
///
/// Every file is compiled (about a millisecond for the bundled ones): guessing which files a
/// script needs from its text missed calls after comments. A file may not redefine a
/// primitive: the checks inside them are not the user's to switch off.
pub(crate) fn compile_stdlib(
    engine: &Engine,
    files: &[StdlibFile],
    primitives: &HashSet<String>,
    sources: &mut Sources,
) -> Result<Stdlib, Error> {
    let mut lib = AST::empty();
    let mut bundled = HashSet::new();
    let mut overrides = Vec::new();
    for file in files {
        sources.add_file(&file.name, &file.source);
        let ast = engine
            .compile(&file.source)
            .map_err(|e| Error::from(sources.parse_error(&file.name, &e)))?;
        refuse_primitive_names(&ast, &file.name, primitives)?;
        for f in ast.iter_functions() {
            if file.bundled {
                bundled.insert(f.name.to_string());
            } else if bundled.contains(f.name) {
                overrides.push(format!("{}() from {}", f.name, file.name));
            }
            sources.add_function(f.name, &file.name);
        }
        lib = lib.merge(&ast.clone_functions_only());
    }
    Ok(Stdlib {
        ast: lib,
        overrides,
    })
}

/// An error when `ast` defines a function named like a primitive.
pub(crate) fn refuse_primitive_names(
    ast: &AST,
    file: &str,
    primitives: &HashSet<String>,
) -> Result<(), Error> {
    match ast.iter_functions().find(|f| primitives.contains(f.name)) {
        Some(f) => Err(Error::PrimitiveRedefined {
            name: f.name.to_string(),
            file: file.to_string(),
        }),
        None => Ok(()),
    }
}

/// The stdlib steps with their doc comments, for `mtls functions`.
pub fn stdlib_docs(files: &[StdlibFile]) -> Vec<FunctionDoc> {
    let (engine, _) = new_engine(None, std::sync::Arc::new(|_| {}));
    let mut docs: Vec<FunctionDoc> = Vec::new();
    // (name, arity) -> index in `docs`: a user's override replaces the bundled entry.
    let mut seen = std::collections::HashMap::new();
    for file in files {
        let Ok(ast) = engine.compile(&file.source) else {
            continue;
        };
        // In the order the file defines them, which follows the walkthrough.
        let mut functions: Vec<_> = ast.iter_functions().collect();
        functions.sort_by_key(|f| file.source.find(&format!("fn {}(", f.name)));
        for f in functions {
            if f.name.starts_with('_') {
                continue;
            }
            let doc = doc_line(&file.source, f.name);
            let entry = FunctionDoc {
                group: file.name.clone(),
                name: f.name.to_string(),
                signature: format!("{}({})", f.name, f.params.join(", ")),
                doc,
            };
            match seen.get(&(f.name.to_string(), f.params.len())) {
                Some(&i) => docs[i] = entry,
                None => {
                    seen.insert((f.name.to_string(), f.params.len()), docs.len());
                    docs.push(entry);
                }
            }
        }
    }
    docs
}

/// The primitives with their doc lines, for `mtls functions`.
pub fn primitive_docs() -> Vec<FunctionDoc> {
    new_engine(None, std::sync::Arc::new(|_| {})).1
}

/// The first line of the `///` comment right above `fn name(` in `source`.
///
/// Read from the text rather than from Rhai's function metadata: that feature makes every
/// engine carry metadata for hundreds of built-in functions, which costs each run's start.
fn doc_line(source: &str, name: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let header = format!("fn {name}(");
    let Some(at) = lines
        .iter()
        .position(|l| l.trim_start().starts_with(&header))
    else {
        return String::new();
    };
    let mut doc = Vec::new();
    for line in lines[..at].iter().rev() {
        match line.trim_start().strip_prefix("///") {
            Some(text) => doc.push(text.trim()),
            None => break,
        }
    }
    doc.into_iter()
        .rev()
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

//! The Rhai side: the engine and its limits, the stdlib (bundled, overridable function by
//! function), the primitives, and errors that point into the script.

pub mod bundled;
mod error;
mod primitives;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use rhai::{Engine, AST};

pub use error::{CallSite, Failure, ScriptError, Sources};
pub use primitives::FunctionDoc;

use crate::effects::Effects;
use crate::error::Error;
use crate::workdir::Workdir;

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
}

/// How a run reaches AWS: settings, whether a plan may read (`--refresh`), and the clients,
/// connected on first use so that runs that never touch AWS never load its configuration.
#[derive(Default)]
pub(crate) struct AwsAccess {
    pub settings: crate::aws::AwsSettings,
    pub refresh: bool,
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
        }
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
        match self.tokio.get() {
            Some(rt) => Ok(rt.block_on(fut)),
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
}

/// An engine with the project's limits and, when `ctx` is given, its primitives.
pub(crate) fn new_engine(
    ctx: Option<&Rc<Context>>,
    print: Rc<dyn Fn(&str)>,
) -> (Engine, Vec<FunctionDoc>) {
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
    let p = print.clone();
    engine.on_print(move |s| p(s));
    engine.on_debug(move |s, _, pos| print(&format!("[debug {pos}] {s}")));
    let docs = match ctx {
        Some(ctx) => primitives::register_all(&mut engine, ctx),
        None => {
            // Docs only (`mtls functions`): register against a throwaway plan context.
            let scratch = Rc::new(Context::new(
                Workdir::new("."),
                Effects::new(crate::effects::Mode::Plan, false),
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
            let source = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                action: "read",
                path: path.display().to_string(),
                source,
            })?;
            files.push(StdlibFile {
                name: path.display().to_string(),
                source,
            });
        }
    }
    Ok(files)
}

/// Compiles the stdlib files into one AST of functions, recording which file defines each
/// function so errors inside a step point at the right file.
///
/// Only the files that define a function the script calls (directly, or through another
/// stdlib function) are compiled: compiling is most of what a run costs before the script
/// starts, and `pki.rhai` needs one file of seven.
pub(crate) fn compile_stdlib(
    engine: &Engine,
    files: &[StdlibFile],
    script: &str,
    sources: &mut Sources,
) -> Result<AST, Error> {
    let mut lib = AST::empty();
    for file in needed_files(files, script) {
        sources.add_file(&file.name, &file.source);
        let ast = engine
            .compile(&file.source)
            .map_err(|e| Error::from(sources.parse_error(&file.name, &e)))?;
        for f in ast.iter_functions() {
            sources.add_function(f.name, &file.name);
        }
        lib = lib.merge(&ast.clone_functions_only());
    }
    Ok(lib)
}

/// The stdlib files `script` needs, in load order.
fn needed_files<'a>(files: &'a [StdlibFile], script: &str) -> Vec<&'a StdlibFile> {
    // A function named at run time (`Fn("name")`, `call`) cannot be found by reading.
    if script.contains("Fn(") || script.contains("call(") {
        return files.iter().collect();
    }
    let defined: Vec<Vec<String>> = files.iter().map(|f| defined_functions(&f.source)).collect();
    let mut needed = vec![false; files.len()];
    let mut pending = called_names(script);
    let mut seen = std::collections::HashSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        for (i, names) in defined.iter().enumerate() {
            if !needed[i] && names.contains(&name) {
                needed[i] = true;
                pending.extend(called_names(&files[i].source));
            }
        }
    }
    files
        .iter()
        .zip(needed)
        .filter(|(_, n)| *n)
        .map(|(f, _)| f)
        .collect()
}

/// Names of the functions a Rhai text defines (`fn name(`).
fn defined_functions(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("private ").unwrap_or(l);
            let rest = l.strip_prefix("fn ")?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect()
}

/// Every identifier followed by `(` in a Rhai text: the functions it may call.
fn called_names(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            let mut next = Some(c);
            while next.is_some_and(char::is_whitespace) {
                next = chars.next();
            }
            if next == Some('(') {
                names.push(std::mem::take(&mut word));
            }
            word.clear();
        }
    }
    names
}

/// The stdlib steps with their doc comments, for `mtls functions`.
pub fn stdlib_docs(files: &[StdlibFile]) -> Vec<FunctionDoc> {
    let (engine, _) = new_engine(None, Rc::new(|_| {}));
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
    new_engine(None, Rc::new(|_| {})).1
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

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, source: &str) -> StdlibFile {
        StdlibFile {
            name: name.to_string(),
            source: source.to_string(),
        }
    }

    #[test]
    fn only_the_stdlib_files_a_script_reaches_are_compiled() {
        let files = [
            file("a", "fn step_a(x) { helper (x) }\nfn other() {}"),
            file("b", "fn helper(x) { x }"),
            file("c", "fn unused() { 1 }"),
            file("d", "/// override\nfn helper(x) { x + 1 }"),
        ];
        let names = |script: &str| -> Vec<String> {
            needed_files(&files, script)
                .iter()
                .map(|f| f.name.clone())
                .collect()
        };
        assert_eq!(names("let y = step_a(1);"), ["a", "b", "d"]);
        assert_eq!(names("print(1);"), Vec::<String>::new());
        assert_eq!(
            names("let f = Fn(\"unused\"); f.call();"),
            ["a", "b", "c", "d"]
        );
    }
}

//! `import "name"` in scripts: modules are `.rhai` files of the script's own folder (or
//! the `--stdlib` folder), under the same rules as every other file mtls reads: no
//! absolute paths, no `..`, no link out of the folder, regular files of bounded size.

use std::cell::RefCell;
use std::path::PathBuf;

use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

use super::error::fail;
use crate::error::Error;
use crate::workdir::Workdir;

/// How deep imports may nest (a module importing a module ...). Each level evaluates a
/// module inside the one importing it, on the same stack, and Rhai's call-depth limit does
/// not count them: a module importing itself overflowed the stack. Eight is far below that
/// and above any layout of helpers a flow needs.
pub(crate) const MAX_IMPORT_DEPTH: usize = 8;

/// Where `import` looks, in order, and the imports being loaded now.
pub(crate) struct Modules {
    folders: Vec<PathBuf>,
    /// The modules being loaded, outermost first, each with the line of its `import`: an
    /// import of one of them is a cycle.
    loading: RefCell<Vec<(String, Position)>>,
}

impl Modules {
    /// Modules of `script_dir` (none for a bundled script), then of `stdlib_dir`.
    pub(crate) fn new(script_dir: Option<PathBuf>, stdlib_dir: Option<PathBuf>) -> Self {
        Modules {
            folders: script_dir.into_iter().chain(stdlib_dir).collect(),
            loading: RefCell::new(Vec::new()),
        }
    }

    /// The chain of imports that leads to importing `name` at `pos`, for messages:
    /// `the script imports a.rhai (line 1), a.rhai imports b.rhai (line 3)`.
    fn chain(&self, name: &str, pos: Position) -> String {
        let loading = self.loading.borrow();
        let mut importer = "the script".to_string();
        let mut steps = Vec::new();
        for (module, at) in loading
            .iter()
            .map(|(m, p)| (m.as_str(), *p))
            .chain([(name, pos)])
        {
            let line = at.line().map_or(String::new(), |l| format!(" (line {l})"));
            steps.push(format!("{importer} imports {module}{line}"));
            importer = module.to_string();
        }
        steps.join(", ")
    }

    /// Refuses an import that closes a cycle or nests too deep, before anything is read.
    fn check_nesting(&self, name: &str, pos: Position) -> Result<(), Error> {
        let loading = self.loading.borrow();
        let problem = if loading.iter().any(|(m, _)| m == name) {
            "it imports a module that is still being loaded (an import cycle)".to_string()
        } else if loading.len() >= MAX_IMPORT_DEPTH {
            format!("imports nest more than {MAX_IMPORT_DEPTH} deep")
        } else {
            return Ok(());
        };
        drop(loading);
        Err(Error::ImportTooDeep {
            problem,
            chain: self.chain(name, pos),
        })
    }

    /// Loads `name` from the first folder that has it, with `name` marked as loading.
    fn load(
        &self,
        engine: &Engine,
        path: &str,
        name: &str,
        pos: Position,
    ) -> Result<Option<Shared<Module>>, Box<EvalAltResult>> {
        self.check_nesting(name, pos).map_err(fail)?;
        self.loading.borrow_mut().push((name.to_string(), pos));
        let loaded = self.load_first(engine, path, name, pos);
        self.loading.borrow_mut().pop();
        loaded
    }

    /// The module `name` from the first folder that has it, evaluated; `None` when none has.
    fn load_first(
        &self,
        engine: &Engine,
        path: &str,
        name: &str,
        pos: Position,
    ) -> Result<Option<Shared<Module>>, Box<EvalAltResult>> {
        for folder in &self.folders {
            let dir = Workdir::new(if folder.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                folder.clone()
            });
            if !dir.exists(name).map_err(fail)? {
                continue;
            }
            let text = dir.read_module(name).map_err(fail)?;
            let ast = engine.compile(&text).map_err(|e| {
                Box::new(EvalAltResult::ErrorInModule(
                    path.to_string(),
                    Box::new(EvalAltResult::ErrorParsing(*e.0, e.1)),
                    pos,
                ))
            })?;
            let module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
                .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos)))?;
            return Ok(Some(module.into()));
        }
        Ok(None)
    }
}

impl rhai::ModuleResolver for Modules {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let name = if path.ends_with(".rhai") {
            path.to_string()
        } else {
            format!("{path}.rhai")
        };
        if let Some(module) = self.load(engine, path, &name, pos)? {
            return Ok(module);
        }
        Err(fail(Error::ModuleNotFound {
            name: path.to_string(),
            folders: if self.folders.is_empty() {
                "(none: a bundled script has no folder; copy it with `mtls init DIR`)".into()
            } else {
                self.folders
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }))
    }
}

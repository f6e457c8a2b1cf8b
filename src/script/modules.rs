//! `import "name"` in scripts: modules are `.rhai` files of the script's own folder (or
//! the `--stdlib` folder), under the same rules as every other file mtls reads: no
//! absolute paths, no `..`, no link out of the folder, regular files of bounded size.

use std::path::PathBuf;

use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

use super::error::fail;
use crate::error::Error;
use crate::workdir::Workdir;

/// Where `import` looks, in order.
pub(crate) struct Modules {
    folders: Vec<PathBuf>,
}

impl Modules {
    /// Modules of `script_dir` (none for a bundled script), then of `stdlib_dir`.
    pub(crate) fn new(script_dir: Option<PathBuf>, stdlib_dir: Option<PathBuf>) -> Self {
        Modules {
            folders: script_dir.into_iter().chain(stdlib_dir).collect(),
        }
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
        for folder in &self.folders {
            let dir = Workdir::new(if folder.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                folder.clone()
            });
            if !dir.exists(&name).map_err(fail)? {
                continue;
            }
            let text = dir.read_module(&name).map_err(fail)?;
            let ast = engine.compile(&text).map_err(|e| {
                Box::new(EvalAltResult::ErrorInModule(
                    path.to_string(),
                    Box::new(EvalAltResult::ErrorParsing(*e.0, e.1)),
                    pos,
                ))
            })?;
            let module = Module::eval_ast_as_new(Scope::new(), &ast, engine)
                .map_err(|e| Box::new(EvalAltResult::ErrorInModule(path.to_string(), e, pos)))?;
            return Ok(module.into());
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

//! The stdlib of a run: the bundled steps, then a `stdlib/` folder next to the script,
//! then `--stdlib DIR`, compiled together; a user's function replaces a bundled one of
//! the same name, no two of the user's files define one function, and no file may
//! redefine a primitive.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rhai::{Engine, AST};

use super::{bundled, Sources};
use crate::error::Error;

/// One stdlib file: its display name and text.
#[derive(Debug, Clone)]
pub struct StdlibFile {
    /// Its display name: `(bundled) stdlib/pki.rhai` or the path.
    pub name: String,
    /// Its text.
    pub source: String,
    /// Shipped in the binary (not one of the user's files).
    pub bundled: bool,
}

/// The stdlib files of a run, in load order: bundled first, then a `stdlib/` folder next
/// to the script, then `--stdlib DIR`. A user's function replaces a bundled one of the
/// same name and arity, so a user overrides one step without copying the rest.
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
        // The folder next to the script, named again with --stdlib, is read once: its files
        // are not two definitions of each function.
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !dirs.iter().any(|known| same(known, d)) {
            dirs.push(d.to_path_buf());
        }
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
    // The user's file that defines each function (by name and arity, as Rhai looks them up).
    let mut defined_by: HashMap<(String, usize), &str> = HashMap::new();
    for file in files {
        sources.add_file(&file.name, &file.source);
        let ast = engine
            .compile(&file.source)
            .map_err(|e| Error::from(sources.parse_error(&file.name, &e)))?;
        refuse_primitive_names(&ast, &file.name, primitives)?;
        for f in ast.iter_functions() {
            if file.bundled {
                bundled.insert(f.name.to_string());
            } else {
                // Two of the user's files with one function: which wins would depend on
                // the order of file names, so neither does.
                let signature = (f.name.to_string(), f.params.len());
                if let Some(first) = defined_by.insert(signature, &file.name) {
                    return Err(Error::StdlibFunctionTwice {
                        name: f.name.to_string(),
                        first: first.to_string(),
                        second: file.name.clone(),
                    });
                }
                if bundled.contains(f.name) {
                    overrides.push(format!("{}() from {}", f.name, file.name));
                }
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

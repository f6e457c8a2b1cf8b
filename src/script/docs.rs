//! What `mtls functions` lists: the primitives' doc lines and the stdlib steps' `///`
//! comments.

use super::{new_engine, FunctionDoc, StdlibFile};

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

//! Script errors as miette diagnostics: the file, line and column, the source line, and
//! the chain of calls that led there.

use std::collections::HashMap;
use std::sync::Arc;

use miette::{NamedSource, SourceSpan};
use rhai::{EvalAltResult, ParseError, Position};

use crate::error::{CallSite, Error, ScriptError};

/// An error of a primitive, carried through Rhai as the value of a runtime error, so the
/// script can `catch` it and mtls can show its own message and help afterwards.
#[derive(Debug, Clone)]
pub struct Failure(pub Arc<Error>);

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Turns a library error into the Rhai error a primitive returns.
pub fn fail(err: Error) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorRuntime(
        rhai::Dynamic::from(Failure(Arc::new(err))),
        Position::NONE,
    ))
}

/// The text of every file a run compiled, by name, to show source lines in errors.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    files: HashMap<String, String>,
    /// Which file defines each script function (a user's stdlib overrides a bundled one).
    fn_files: HashMap<String, String>,
}

impl Sources {
    /// Keeps the text of a compiled file, to show its lines in errors.
    pub fn add_file(&mut self, name: &str, text: &str) {
        self.files.insert(name.to_string(), text.to_string());
    }

    /// Records which file defines `function`.
    pub fn add_function(&mut self, function: &str, file: &str) {
        self.fn_files.insert(function.to_string(), file.to_string());
    }

    fn text(&self, file: &str) -> String {
        self.files.get(file).cloned().unwrap_or_default()
    }

    fn located(
        &self,
        file: &str,
        pos: Position,
    ) -> (NamedSource<String>, Option<SourceSpan>, String) {
        let text = self.text(file);
        let span = offset(&text, pos).map(|o| SourceSpan::from((o, 1)));
        let location = match (pos.line(), pos.position()) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file.to_string(),
        };
        (
            NamedSource::new(file, text).with_language("rust"),
            span,
            location,
        )
    }

    /// A parse error in `file`.
    pub fn parse_error(&self, file: &str, err: &ParseError) -> ScriptError {
        let (src, span, location) = self.located(file, err.position());
        ScriptError {
            message: format!("{location}: syntax error: {}", err.err_type()),
            src,
            span,
            label: "here".to_string(),
            help: Some(
                "fix the script at this place; `mtls functions` lists what scripts can call"
                    .to_string(),
            ),
            called_from: Vec::new(),
            location,
        }
    }

    /// A runtime error of the script `file`, unwound through the functions it called.
    pub fn runtime_error(&self, file: &str, err: &EvalAltResult) -> ScriptError {
        let mut current_file = file.to_string();
        let mut calls = Vec::new();
        let mut err = err;
        // ErrorInFunctionCall(function, _, inner, call position) nests once per call level.
        while let EvalAltResult::ErrorInFunctionCall(function, _, inner, pos) = err {
            calls.push((function.clone(), current_file.clone(), *pos));
            current_file = self
                .fn_files
                .get(function.as_str())
                .cloned()
                .unwrap_or_else(|| current_file.clone());
            err = inner;
        }
        let (message, help) = describe(err);
        let (src, span, location) = self.located(&current_file, err.position());
        let called_from = calls
            .into_iter()
            .rev()
            .map(|(function, file, pos)| {
                let (src, span, location) = self.located(&file, pos);
                CallSite {
                    src,
                    span,
                    function,
                    location,
                }
            })
            .collect();
        ScriptError {
            message: format!("{location}: {message}"),
            src,
            span,
            label: "failed here".to_string(),
            help,
            called_from,
            location,
        }
    }
}

/// The value `on_progress` stops a script with when its data outgrows the memory limit.
pub(crate) const MEMORY_TOKEN: &str = "mtls: memory limit";

/// The message and the hint for the innermost error.
fn describe(err: &EvalAltResult) -> (String, Option<String>) {
    use EvalAltResult as E;
    let functions_hint = || {
        Some("`mtls functions` lists every function with the argument types it takes".to_string())
    };
    match err {
        E::ErrorRuntime(value, _) => {
            if let Some(failure) = value.read_lock::<Failure>() {
                let inner = &failure.0;
                let mut message = inner.to_string();
                let mut source = std::error::Error::source(inner.as_ref());
                while let Some(s) = source {
                    message.push_str(&format!(": {s}"));
                    source = s.source();
                }
                let help = miette::Diagnostic::help(inner.as_ref()).map(|h| h.to_string());
                (message, help)
            } else {
                (format!("script error: {value}"), None)
            }
        }
        E::ErrorFunctionNotFound(sig, _) => (
            format!("no function {sig}: unknown name, or wrong number or types of arguments"),
            functions_hint(),
        ),
        E::ErrorMismatchDataType(expected, actual, _) => (
            format!("wrong type: expected {expected}, got {actual}"),
            functions_hint(),
        ),
        E::ErrorVariableNotFound(name, _) => (
            format!("unknown variable `{name}`"),
            Some(
                "declare it with `let`, or read a command-line value with get_var(\"NAME\")"
                    .to_string(),
            ),
        ),
        E::ErrorTooManyOperations(_) => (
            "the script ran too many operations and was stopped".to_string(),
            Some(
                "is there an endless loop? The limit protects against runaway scripts".to_string(),
            ),
        ),
        E::ErrorStackOverflow(_) => (
            "calls nested too deeply and the script was stopped".to_string(),
            Some("is there runaway recursion?".to_string()),
        ),
        E::ErrorTerminated(token, _) if token.to_string() == MEMORY_TOKEN => (
            format!("the script's data grew past {} MiB and the script was stopped", super::limits::MAX_MEMORY_BYTES >> 20),
            Some("is a loop adding to a map, array or string without end? The limit protects this machine".to_string()),
        ),
        // Rhai knows no position when the stop came inside an index or property access.
        E::ErrorTerminated(_, pos) if pos.is_none() => (
            "interrupted (Ctrl-C)".to_string(),
            Some(crate::error::INTERRUPTED_HELP.to_string()),
        ),
        E::ErrorTerminated(..) => (
            "interrupted (Ctrl-C) while running this line".to_string(),
            Some(crate::error::INTERRUPTED_HELP.to_string()),
        ),
        // An error inside an imported module: its own words, and which module.
        E::ErrorInModule(module, inner, _) => {
            let (message, help) = describe(inner);
            (format!("in module {module}: {message}"), help)
        }
        E::ErrorDataTooLarge(what, _) if what.contains("string") => (
            format!(
                "{what} grew past the limit ({} bytes) and the script was stopped",
                super::limits::MAX_STRING_SIZE
            ),
            None,
        ),
        E::ErrorDataTooLarge(what, _) => (
            format!(
                "{what} grew past the limit ({} items, counting those of arrays and maps nested inside) and the script was stopped",
                if what.contains("map") {
                    super::limits::MAX_MAP_SIZE
                } else {
                    super::limits::MAX_ARRAY_SIZE
                }
            ),
            Some("is a loop adding to an array or map, or nesting one in itself, without end? The limit protects this machine".to_string()),
        ),
        other => {
            // Display appends " (line L, position C)"; the location is shown separately.
            let text = other.to_string();
            let text = text
                .rfind(" (line ")
                .map_or(text.as_str(), |i| &text[..i])
                .to_string();
            (text, None)
        }
    }
}

/// Byte offset of a 1-based line/column position in `text`.
fn offset(text: &str, pos: Position) -> Option<usize> {
    let line = pos.line()?;
    let col = pos.position().unwrap_or(1);
    let mut start = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let within: usize = l
                .chars()
                .take(col.saturating_sub(1))
                .map(char::len_utf8)
                .sum();
            return Some((start + within).min(text.len().saturating_sub(1)));
        }
        start += l.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stop with a position names its line; one without (inside an index or property
    /// access) does not claim a line it cannot show.
    #[test]
    fn an_interruption_names_a_line_only_when_rhai_gives_one() {
        let mut sources = Sources::default();
        sources.add_file("flow.rhai", "let a = 1;\nloop { a += 1; }\n");
        let at_line = EvalAltResult::ErrorTerminated("interrupted".into(), Position::new(2, 8));
        let e = sources.runtime_error("flow.rhai", &at_line);
        assert_eq!(e.location, "flow.rhai:2:8");
        assert!(
            e.message.contains("while running this line"),
            "{}",
            e.message
        );
        let nowhere = EvalAltResult::ErrorTerminated("interrupted".into(), Position::NONE);
        let e = sources.runtime_error("flow.rhai", &nowhere);
        assert_eq!(e.location, "flow.rhai");
        assert!(e.message.ends_with("interrupted (Ctrl-C)"), "{}", e.message);
        assert!(e.help.is_some());
    }
}

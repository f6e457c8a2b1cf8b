//! The placeholder for a value a plan cannot know (an ARN, a version id, a fingerprint).
//!
//! Rhai turns any value into text inside a string interpolation (`` `s3://${bucket}/x` ``)
//! without asking the value's type, so an unknown cannot stay an [`Unknown`] through every
//! expression. Instead it stays *recognisable*: as text it is [`Unknown::TEXT`] between two
//! invisible separators (U+2063), a mark no `--var`, file name or AWS answer carries. Any
//! string holding the mark is unknown to [`is_unknown`] (and so to `is_known()` and to every
//! primitive), and is shown with the marks removed ([`readable`]).

use std::borrow::Cow;

/// A value that only exists once the plan is applied. Scripts can print it, put it in
/// maps, build strings from it and pass it on; it reads as `(known after apply)` everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unknown;

/// U+2063 INVISIBLE SEPARATOR: brackets the placeholder inside a string.
const MARK: char = '\u{2063}';

impl Unknown {
    /// How an unknown value reads to a person.
    pub const TEXT: &'static str = "(known after apply)";
}

/// Text: the placeholder between its marks, so that a string built from it stays unknown.
impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{MARK}{}{MARK}", Self::TEXT)
    }
}

/// Whether `text` was built from an [`Unknown`] (`"s3://" + unknown`, `` `${unknown}/x` ``).
pub fn is_unknown(text: &str) -> bool {
    text.contains(&Unknown.to_string())
}

/// `text` as a person reads it: each marked placeholder shown as `(known after apply)`.
pub fn readable(text: &str) -> Cow<'_, str> {
    if text.contains(MARK) {
        Cow::Owned(text.replace(&Unknown.to_string(), Unknown::TEXT))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_built_from_an_unknown_stay_unknown_and_read_plainly() {
        let built = format!("s3://trust-store-{Unknown}/api.example.com/RootCA.pem");
        assert!(is_unknown(&built));
        assert_eq!(
            readable(&built),
            "s3://trust-store-(known after apply)/api.example.com/RootCA.pem"
        );
    }

    #[test]
    fn the_placeholder_typed_as_text_is_known() {
        // A user's own text that merely reads like the placeholder is a value like any other.
        assert!(!is_unknown("trust-store-(known after apply)"));
        assert_eq!(readable("plain"), "plain");
    }
}

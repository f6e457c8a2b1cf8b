//! The placeholder for a value a plan cannot know (an ARN, a version id, a fingerprint).

/// A value that only exists once the plan is applied. Scripts can print it, put it in
/// maps and pass it on; it reads as `(known after apply)` everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unknown;

impl Unknown {
    /// How an unknown value reads.
    pub const TEXT: &'static str = "(known after apply)";
}

impl std::fmt::Display for Unknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::TEXT)
    }
}

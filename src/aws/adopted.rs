//! Tags a run has decided to put on resources made outside mtls (adoption, issue 20).
//!
//! Adopting a resource means tagging it as mtls tags what it makes; every later step of the
//! run then finds it by those tags. In a plan the tags are not written, so the steps after
//! the adoption would not see them and would plan a second API or certificate. The reads of
//! this run therefore see the tags it decided on, as they will be once applied; in a live
//! run they are the tags just written.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::Tags;

/// Resource (a REST API id, a custom domain name, an ACM certificate ARN) -> its tags to be.
#[derive(Debug, Clone, Default)]
pub struct AdoptedTags(Arc<Mutex<BTreeMap<String, Tags>>>);

impl AdoptedTags {
    /// Records that `resource` gets `tags` in this run.
    pub fn add(&self, resource: &str, tags: &Tags) {
        if let Ok(mut all) = self.0.lock() {
            all.entry(resource.to_string())
                .or_default()
                .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    /// `tags` as read from AWS, with those this run puts on `resource` added.
    pub fn apply(&self, resource: &str, tags: &mut Tags) {
        if let Some(extra) = self
            .0
            .lock()
            .ok()
            .and_then(|all| all.get(resource).cloned())
        {
            tags.extend(extra);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_see_the_tags_a_run_adds_to_that_resource_only() {
        let adopted = AdoptedTags::default();
        let mut new = Tags::new();
        new.insert("mtls:domain".into(), "api.example.com".into());
        adopted.add("abc123", &new);
        let mut read = Tags::new();
        read.insert("team".into(), "x".into());
        adopted.apply("abc123", &mut read);
        assert_eq!(read.len(), 2);
        let mut other = Tags::new();
        adopted.apply("def456", &mut other);
        assert!(other.is_empty());
    }
}

//! Distinguished names as the walkthrough writes them: `/C=JP/ST=Tokyo/O=.../CN=...`.

use std::fmt;

use rcgen::{DistinguishedName, DnType};

/// The attributes a subject may have, in the order they are written.
pub const ATTRIBUTES: [&str; 6] = ["C", "ST", "L", "O", "OU", "CN"];

/// A subject: attribute short names with their values, in [`ATTRIBUTES`] order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subject {
    entries: Vec<(&'static str, String)>,
}

impl Subject {
    /// Builds a subject from `(attribute, value)` pairs. Unknown attributes and empty
    /// values are an error naming the attribute.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, String)>,
    ) -> Result<Self, String> {
        let mut entries = Vec::new();
        for (name, value) in pairs {
            let Some(attr) = ATTRIBUTES.iter().find(|a| a.eq_ignore_ascii_case(name)) else {
                return Err(format!(
                    "unknown subject attribute {name:?}; use {}",
                    ATTRIBUTES.join(", ")
                ));
            };
            if value.is_empty() {
                continue;
            }
            if value.chars().any(char::is_control) {
                return Err(format!(
                    "{attr} contains a control character (newline, tab, ...)"
                ));
            }
            // RFC 5280's upper bounds (ub-common-name and friends).
            let most = match *attr {
                "ST" | "L" => 128,
                _ => 64,
            };
            if value.chars().count() > most {
                return Err(format!(
                    "{attr} is {} characters long; the most RFC 5280 allows is {most}",
                    value.chars().count()
                ));
            }
            if *attr == "C" && value.len() != 2 {
                return Err(format!(
                    "C must be a two-letter country code, not {value:?}"
                ));
            }
            entries.push((*attr, value));
        }
        entries.sort_by_key(|(a, _)| ATTRIBUTES.iter().position(|x| x == a));
        if !entries.iter().any(|(a, _)| *a == "CN") {
            return Err("a subject needs a CN (common name)".to_string());
        }
        Ok(Subject { entries })
    }

    /// The common name.
    pub fn common_name(&self) -> &str {
        self.get("CN").unwrap_or_default()
    }

    /// The value of one attribute.
    pub fn get(&self, attr: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(a, _)| *a == attr)
            .map(|(_, v)| v.as_str())
    }

    /// The `(attribute, value)` pairs.
    pub fn entries(&self) -> &[(&'static str, String)] {
        &self.entries
    }

    pub(crate) fn to_rcgen(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        for (attr, value) in &self.entries {
            let ty = match *attr {
                "C" => DnType::CountryName,
                "ST" => DnType::StateOrProvinceName,
                "L" => DnType::LocalityName,
                "O" => DnType::OrganizationName,
                "OU" => DnType::OrganizationalUnitName,
                _ => DnType::CommonName,
            };
            dn.push(ty, value.as_str());
        }
        dn
    }
}

impl fmt::Display for Subject {
    /// `C=JP, ST=Tokyo, O=Example, CN=api.example.com`, as `openssl x509 -subject` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|(a, v)| format!("{a}={v}"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_attributes_and_requires_cn() {
        let s = Subject::from_pairs([("CN", "x".to_string()), ("c", "JP".to_string())]).unwrap();
        assert_eq!(s.to_string(), "C=JP, CN=x");
        assert!(Subject::from_pairs([("O", "x".to_string())]).is_err());
        assert!(Subject::from_pairs([("CN", "x".into()), ("C", "Japan".into())]).is_err());
        assert!(Subject::from_pairs([("XX", "x".into())])
            .unwrap_err()
            .contains("XX"));
    }

    #[test]
    fn refuses_control_characters_and_overlong_values() {
        let err = |cn: String| Subject::from_pairs([("CN", cn)]).unwrap_err();
        assert!(err("a\nb".into()).contains("control character"));
        assert!(err("x".repeat(65)).contains("the most RFC 5280 allows is 64"));
        assert!(Subject::from_pairs([("CN", "x".repeat(64))]).is_ok());
    }
}

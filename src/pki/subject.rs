//! Distinguished names as the walkthrough writes them: `/C=JP/ST=Tokyo/O=.../CN=...`.

use std::fmt;

use rcgen::string::PrintableString;
use rcgen::{DistinguishedName, DnType, DnValue};

/// The attributes a subject may have, in the order they are written.
pub const ATTRIBUTES: [&str; 6] = ["C", "ST", "L", "O", "OU", "CN"];

/// A subject: attribute short names with their values, in the order `ATTRIBUTES` gives
/// (C, ST, L, O, OU, CN).
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
            if let Some(c) = value
                .chars()
                .find(|c| crate::inputs::is_format_character(*c))
            {
                return Err(format!(
                    "{attr} contains the invisible format character U+{:04X} (a bidi control, a zero-width character, ...), so it would print as another name",
                    c as u32
                ));
            }
            if let Some(fake) = attribute_inside(&value) {
                return Err(format!(
                    "{attr} {value:?} holds {fake:?}, which reads as another attribute of the name: a subject printed as `{attr}={value}` would show a name it is not"
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
            if *attr == "C" && !(value.len() == 2 && value.bytes().all(|b| b.is_ascii_uppercase()))
            {
                return Err(format!(
                    "C must be a two-letter ISO 3166 country code in capitals (like JP), not {value:?}"
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
            // RFC 5280 (X520countryName) makes the country a two-letter PrintableString;
            // every other attribute is a DirectoryString, where UTF8String is the rule.
            let encoded = match ty {
                DnType::CountryName => PrintableString::try_from(value.as_str())
                    .map(DnValue::PrintableString)
                    .unwrap_or_else(|_| DnValue::Utf8String(value.clone())),
                _ => DnValue::Utf8String(value.clone()),
            };
            dn.push(ty, encoded);
        }
        dn
    }
}

/// The part of a value that reads as one more attribute of a distinguished name, if any:
/// `NAME=` after `,` `;` `+` (how openssl and mtls print a subject,
/// `CN=dev1, O=Root CA`) or `/` (how `-subj` writes one, `/CN=admin/O=Root CA`).
fn attribute_inside(value: &str) -> Option<&str> {
    value.match_indices('=').find_map(|(at, _)| {
        let before = value[..at].trim_end();
        let name_starts = before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .map_or(0, |i| i + 1);
        let name = &before[name_starts..];
        let lead = before[..name_starts].trim_end();
        let separated = lead.ends_with([',', ';', '+', '/']);
        (!name.is_empty() && separated)
            .then(|| value[name_starts..=at].trim_start_matches([',', ';', '+', '/', ' ']))
    })
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
        assert!(
            Subject::from_pairs([("CN", "x".into()), ("C", "jp".into())])
                .unwrap_err()
                .contains("like JP")
        );
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

    /// Names that print as other names: invisible or reordering characters, and text that
    /// reads as one more attribute.
    #[test]
    fn refuses_format_characters_and_attributes_inside_a_value() {
        let err = |cn: &str| Subject::from_pairs([("CN", cn.to_string())]).unwrap_err();
        for cn in [
            "dev\u{202E}1gpj.exe",
            "ad\u{200B}min",
            "\u{FEFF}admin",
            "a\u{00AD}b",
        ] {
            assert!(err(cn).contains("invisible format character"), "{cn:?}");
        }
        for (cn, fake) in [
            ("dev1, O=Root CA", "O="),
            ("admin/O=Root CA", "O="),
            ("x;OU =y", "OU ="),
            ("a + 2.5.4.3=b", "2.5.4.3="),
        ] {
            let e = err(cn);
            assert!(e.contains(&format!("holds {fake:?}")), "{cn:?}: {e}");
        }
        // A comma, or an equals sign, alone is not an attribute.
        for (attr, fine) in [
            ("O", "Example, Inc."),
            ("CN", "bücher"),
            ("CN", "a == b"),
            ("CN", "k=v"),
        ] {
            let pairs = [(attr, fine.to_string()), ("CN", "x".to_string())];
            assert!(Subject::from_pairs(pairs).is_ok(), "{fine:?}");
        }
    }

    /// RFC 5280: countryName is a PrintableString; the other attributes UTF8String.
    #[test]
    fn country_is_a_printable_string_and_the_rest_utf8() {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let subject = Subject::from_pairs([
            ("C", "JP".to_string()),
            ("O", "Example".to_string()),
            ("CN", "api.example.com".to_string()),
        ])
        .unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.distinguished_name = subject.to_rcgen();
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = params.self_signed(&key).unwrap();
        let (_, parsed) = X509Certificate::from_der(cert.der()).unwrap();
        let tags: Vec<(String, u32)> = parsed
            .subject()
            .iter_attributes()
            .map(|a| (a.attr_type().to_id_string(), a.attr_value().header.tag().0))
            .collect();
        // 19 = PrintableString, 12 = UTF8String.
        assert_eq!(
            tags,
            [
                ("2.5.4.6".to_string(), 19),
                ("2.5.4.10".to_string(), 12),
                ("2.5.4.3".to_string(), 12)
            ]
        );
    }
}

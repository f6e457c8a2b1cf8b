//! Checks of what a user types, made before the first file is written or the first AWS
//! call is made: DNS names, regions, bucket and stage names, and the well-known `--var`s
//! of the bundled scripts. Each check returns the problem in words and, where there is
//! one, the value the user probably meant.

use std::collections::BTreeMap;

use crate::error::Error;

/// Whether a DNS name may start with a `*.` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wildcard {
    /// A `*.` first label is allowed (a certificate SAN may ask for one).
    Allowed,
    /// No wildcard (a custom domain names one host).
    Refused,
}

/// The problem with a DNS name (RFC 1123 host names: lowercase ASCII labels of letters,
/// digits and inner hyphens, 1-63 characters each, 253 in all), or `None`.
pub fn dns_name_problem(name: &str, wildcard: Wildcard) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Some("it is an IP address; a custom domain is a DNS name".into());
    }
    // Before IDNA, which drops some of them silently (U+200B) and would suggest a name.
    if let Some(c) = name.chars().find(|c| is_format_character(*c)) {
        return Some(format!(
            "it contains the invisible format character U+{:04X} (a bidi control, a zero-width character, ...), so it would print as another name",
            c as u32
        ));
    }
    if !name.is_ascii() {
        return Some(match idna::domain_to_ascii(name) {
            Ok(ascii) if dns_name_problem(&ascii, wildcard).is_none() => {
                format!("it has non-ASCII characters; AWS takes the ASCII (punycode) form: {ascii}")
            }
            _ => "it has characters that are not allowed in a domain name".into(),
        });
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!(
            "it has capital letters; use {}",
            name.to_ascii_lowercase()
        ));
    }
    if let Some(trimmed) = name.strip_suffix('.') {
        if !trimmed.is_empty() && !trimmed.ends_with('.') {
            return Some(format!("drop the trailing dot: {trimmed}"));
        }
    }
    if name.len() > 253 {
        return Some(format!(
            "it is {} characters long; the most is 253",
            name.len()
        ));
    }
    let labels: Vec<&str> = name.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Some("it has an empty label (two dots in a row, or a dot at an end)".into());
        }
        if *label == "*" {
            if i == 0 && wildcard == Wildcard::Allowed && labels.len() > 2 {
                continue;
            }
            return Some(if wildcard == Wildcard::Refused {
                "wildcards are not allowed here; name one host, e.g. api.example.com".into()
            } else {
                "a wildcard may only be the first label, of a name with at least two more".into()
            });
        }
        if label.len() > 63 {
            return Some(format!(
                "the label {}... is {} characters long; the most is 63",
                &label[..12],
                label.len()
            ));
        }
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Some(format!(
                "it contains {bad:?}; only letters, digits, hyphens and dots are allowed"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("the label {label:?} starts or ends with a hyphen"));
        }
        if let Some(problem) = punycode_problem(label) {
            return Some(problem);
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some("its last label is all digits; a domain's top level is a name".into());
    }
    None
}

/// Unicode's format characters (general category Cf; Unicode 15.1, DerivedGeneralCategory.txt):
/// bidi controls (U+202A-202E, U+2066-2069), zero-width characters (U+200B-200D, U+2060,
/// U+FEFF), the soft hyphen, tags, ... They are invisible or reorder what follows, so a
/// value holding one prints as another value.
const FORMAT_CHARACTERS: [(char, char); 21] = [
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is a Unicode format character (category Cf).
pub(crate) fn is_format_character(c: char) -> bool {
    FORMAT_CHARACTERS
        .iter()
        .any(|(first, last)| (*first..=*last).contains(&c))
}

/// An `xn--` label stands for a Unicode label in punycode (RFC 3492): it must decode, and
/// the decoded label must encode back to the same letters (IDNA, RFC 5891 section 5.4),
/// or it names no domain at all; other labels are not punycode and pass.
fn punycode_problem(label: &str) -> Option<String> {
    if !label.starts_with("xn--") {
        return None;
    }
    let (unicode, decoded) = idna::domain_to_unicode(label);
    let again = decoded
        .ok()
        .and_then(|()| idna::domain_to_ascii(&unicode).ok());
    (again.as_deref() != Some(label)).then(|| {
        format!("the label {label:?} is not valid punycode (an xn-- label must decode to Unicode and encode back to itself); write the name in Unicode and mtls shows its punycode form")
    })
}

/// The problem with an AWS region name (`us-east-1`, `eu-central-2`, `us-gov-west-1`).
pub fn region_problem(region: &str) -> Option<String> {
    const AREAS: [&str; 10] = ["af", "ap", "ca", "cn", "eu", "il", "me", "mx", "sa", "us"];
    let parts: Vec<&str> = region.split('-').collect();
    let shaped = parts.len() >= 3
        && AREAS.contains(&parts[0])
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| (1..=2).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
    if shaped {
        None
    } else {
        Some(format!(
            "{region:?} is not an AWS region name; regions look like us-east-1 or ap-northeast-1"
        ))
    }
}

/// The first S3 bucket naming rule `name` breaks, if any.
pub fn bucket_name_problem(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if !(3..=63).contains(&bytes.len()) {
        return Some("it must be 3 to 63 characters long");
    }
    if !bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
    {
        return Some("only lowercase letters, digits, dots and hyphens are allowed");
    }
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Some("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("two dots may not be adjacent");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("it may not look like an IP address");
    }
    if RESERVED_BUCKET_PREFIXES.iter().any(|p| name.starts_with(p))
        || RESERVED_BUCKET_SUFFIXES.iter().any(|s| name.ends_with(s))
    {
        return Some("it uses a prefix or suffix S3 reserves (xn--, sthree-, amzn-s3-demo-; -s3alias, --ol-s3, .mrap, --x-s3, --table-s3)");
    }
    None
}

/// Prefixes S3 refuses in a general purpose bucket's name (Amazon S3 user guide, "General
/// purpose bucket naming rules": `sthree-configurator` is covered by `sthree-`).
const RESERVED_BUCKET_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
/// Suffixes S3 reserves for other kinds of names (same page): access point aliases
/// (`-s3alias`), Object Lambda access point aliases (`--ol-s3`), Multi-Region Access Points
/// (`.mrap`), directory buckets (`--x-s3`) and table buckets (`--table-s3`).
const RESERVED_BUCKET_SUFFIXES: [&str; 5] =
    ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// API Gateway's rule for stage names.
pub fn stage_name_problem(stage: &str) -> Option<&'static str> {
    let ok = (1..=128).contains(&stage.len())
        && stage
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (!ok).then_some("a stage name is 1-128 letters, digits, hyphens and underscores")
}

/// Splits `NAME=VALUE` (a `--var`): the name is trimmed and may not be empty or hold `=`.
/// A password is refused here, before anything else could echo it (see [`password_var`]).
pub fn parse_var(raw: &str) -> Result<(String, String), Error> {
    let name = raw.split_once('=').map_or(raw, |(n, _)| n).trim();
    password_var(name)?;
    raw.split_once('=')
        .map(|(n, v)| (n.trim(), v))
        .filter(|(n, _)| !n.is_empty() && !n.contains(char::is_whitespace))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .ok_or_else(|| Error::BadVar {
            raw: raw.to_string(),
        })
}

/// One well-known `--var` of the bundled scripts and the rule its value must follow.
struct VarRule {
    name: &'static str,
    check: fn(&str) -> Option<String>,
    example: &'static str,
}

const VAR_RULES: [VarRule; 12] = [
    VarRule {
        name: "domain",
        check: |v| dns_name_problem(v, Wildcard::Refused),
        example: "api.example.com",
    },
    VarRule {
        name: "zone",
        check: |v| dns_name_problem(v, Wildcard::Refused),
        example: "example.com",
    },
    VarRule {
        name: "bucket",
        check: |v| {
            bucket_name_problem(v).map(|p| {
                format!("{p} (bucket names are 3-63 lowercase letters, digits, dots and hyphens)")
            })
        },
        example: "trust-store-123456789012",
    },
    VarRule {
        name: "stage",
        check: |v| stage_name_problem(v).map(str::to_string),
        example: "prod",
    },
    VarRule {
        name: "validation_timeout",
        check: |v| match v.parse::<u32>() {
            Ok(1..=86_400) => None,
            _ => Some("it is a number of seconds from 1 to 86400".into()),
        },
        example: "1800",
    },
    VarRule {
        name: "expiry_warning_days",
        check: |v| match v.parse::<u32>() {
            Ok(0..=36_600) => None,
            _ => Some("it is a number of days from 0 (no warnings) to 36600".into()),
        },
        example: "30",
    },
    VarRule {
        name: "probe",
        check: boolean,
        example: "false",
    },
    VarRule {
        name: "delete_zone",
        check: boolean,
        example: "true",
    },
    VarRule {
        name: "p12",
        check: boolean,
        example: "true",
    },
    VarRule {
        name: "adopt",
        check: boolean,
        example: "true",
    },
    VarRule {
        name: "keep_existing_pki",
        check: boolean,
        example: "true",
    },
    VarRule {
        name: "listen",
        check: |v| {
            v.parse::<std::net::SocketAddr>()
                .err()
                .map(|_| "it is an IP:PORT address".to_string())
        },
        example: "127.0.0.1:8443",
    },
];

fn boolean(v: &str) -> Option<String> {
    (!matches!(v, "true" | "false")).then(|| "it is true or false".to_string())
}

/// Refuses a `--var` that carries a password (any name holding `password`, other than a
/// `..._file` naming where one is kept): a command line is visible to other users and kept
/// in shell histories. The error names the variable, never its value.
pub fn password_var(name: &str) -> Result<(), Error> {
    let lower = name.to_ascii_lowercase();
    if lower.contains("password") && !lower.ends_with("_file") {
        return Err(Error::PasswordOnCommandLine {
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Checks the well-known `--var`s (every problem at once), and that `domain` lies in
/// `zone` when both are given. Other names are the script's own business.
pub fn check_vars(vars: &BTreeMap<String, String>) -> Result<(), Error> {
    for name in vars.keys() {
        password_var(name)?;
    }
    let mut problems = Vec::new();
    for rule in &VAR_RULES {
        if let Some(value) = vars.get(rule.name) {
            if let Some(problem) = (rule.check)(value) {
                problems.push(format!(
                    "--var {}={value:?}: {problem} (for example --var {}={})",
                    rule.name, rule.name, rule.example
                ));
            }
        }
    }
    if let (Some(domain), Some(zone)) = (vars.get("domain"), vars.get("zone")) {
        if domain != zone && !domain.ends_with(&format!(".{zone}")) {
            problems.push(format!(
                "--var domain={domain} is not inside --var zone={zone}: the zone must be the domain or one of its parents"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            problems: problems.join("\n"),
        })
    }
}

/// Checks the region the run will use, wherever it is set (`--region`, the environment,
/// the profile), if any: its shape and that AWS publishes it ([`crate::aws::regions`]).
pub fn check_region(settings: &crate::aws::AwsSettings) -> Result<(), Error> {
    let Some((source, region)) = crate::aws::regions::configured_region(settings) else {
        return Ok(());
    };
    match crate::aws::regions::region_problem(&region) {
        None => Ok(()),
        Some(problem) => Err(Error::InvalidInput {
            problems: format!("{source}: {problem}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_var_is_refused_by_name_never_echoing_its_value() {
        // Embedders pass vars to the builder directly: check_vars refuses them too.
        let vars = BTreeMap::from([("db_Password".to_string(), "hunter2".to_string())]);
        let err = check_vars(&vars).unwrap_err();
        assert!(matches!(err, Error::PasswordOnCommandLine { .. }), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"));
        let err = parse_var("p12 password=hunter2").unwrap_err();
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        let file = BTreeMap::from([("p12_password_file".to_string(), "p.pass".to_string())]);
        assert!(check_vars(&file).is_ok());
    }

    #[test]
    fn dns_names() {
        let ok = |n: &str| assert_eq!(dns_name_problem(n, Wildcard::Refused), None, "{n}");
        let bad = |n: &str, expected: &str| {
            let p = dns_name_problem(n, Wildcard::Refused).unwrap_or_default();
            assert!(p.contains(expected), "{n:?}: {p:?}");
        };
        ok("api.example.com");
        ok("localhost");
        ok("xn--bcher-kva.example");
        ok(&format!("{}.com", "a".repeat(63)));
        bad("", "empty");
        bad("a..b", "empty label");
        bad(".example.com", "empty label");
        bad("*.example.com", "wildcards are not allowed");
        bad(&format!("{}.com", "a".repeat(64)), "the most is 63");
        bad(
            &format!("{}.com", "abcdefgh.".repeat(28)),
            "the most is 253",
        );
        bad("10.0.0.1", "IP address");
        bad("::1", "IP address");
        bad("API.Example.COM", "use api.example.com");
        bad("api.example.com.", "trailing dot: api.example.com");
        bad("exa mple.com", "contains ' '");
        bad("a/b.com", "contains '/'");
        bad("a\u{7}.com", "contains");
        bad("-api.example.com", "hyphen");
        bad("api.123", "all digits");
        bad("bücher.example", "xn--bcher-kva.example");
        // Invisible characters that make a name print as another one.
        bad(
            "ad\u{200B}min.example.com",
            "invisible format character U+200B",
        );
        bad(
            "api.example\u{202E}moc",
            "invisible format character U+202E",
        );
        // Punycode that does not decode, or does not encode back to itself.
        bad("xn--zz.example", "not valid punycode");
        bad("xn--abc-.example", "hyphen");
        bad("api.xn--a.example", "not valid punycode");
        assert_eq!(dns_name_problem("*.example.com", Wildcard::Allowed), None);
        assert!(dns_name_problem("a.*.example.com", Wildcard::Allowed).is_some());
        assert!(dns_name_problem("*.com", Wildcard::Allowed).is_some());
    }

    #[test]
    fn regions() {
        for ok in [
            "us-east-1",
            "ap-northeast-1",
            "us-gov-west-1",
            "eu-central-2",
            "cn-north-1",
        ] {
            assert_eq!(region_problem(ok), None, "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "moon-base-1",
            "us-east-1a",
            "us_east_1",
            "us--1",
        ] {
            assert!(region_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["trust-store-123456789012", "my.bucket-1", "abc"] {
            assert_eq!(bucket_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            "Not_A_Bucket",
            "-lead",
            "trail-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "sthree-configurator-x",
            "amzn-s3-demo-bucket",
            "mine-s3alias",
            "mine--ol-s3",
            "mine.mrap",
            "mine--x-s3",
            "mine--table-s3",
            &"a".repeat(64),
        ] {
            assert!(bucket_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn vars_are_parsed_and_checked() {
        assert_eq!(parse_var("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_var(" d =").unwrap(), ("d".into(), "".into()));
        for bad in ["novalue", "=x", " =x", "a b=c"] {
            assert!(parse_var(bad).is_err(), "{bad}");
        }
        let vars = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(check_vars(&vars(&[
            ("domain", "api.example.com"),
            ("zone", "example.com")
        ]))
        .is_ok());
        assert!(check_vars(&vars(&[("other", "a..b")])).is_ok());
        let Err(Error::InvalidInput { problems }) = check_vars(&vars(&[
            ("domain", "api.example.com"),
            ("zone", "example.org"),
            ("stage", "a b"),
        ])) else {
            panic!("expected an error")
        };
        assert!(
            problems.contains("not inside --var zone=example.org"),
            "{problems}"
        );
        assert!(problems.contains("--var stage=\"a b\""), "{problems}");
        // A zone that merely ends with the same letters is not a parent.
        assert!(check_vars(&vars(&[
            ("domain", "api.badexample.com"),
            ("zone", "example.com")
        ]))
        .is_err());
    }
}

/// Tests that kill what cargo-mutants found unchecked (tests/README.md, "Mutation testing").
#[cfg(test)]
mod mutants_tests {
    use super::*;

    #[test]
    fn a_unicode_name_is_shown_in_punycode_only_when_that_form_is_valid() {
        let problem = dns_name_problem("bücher.123", Wildcard::Refused).unwrap_or_default();
        assert!(
            problem.contains("not allowed in a domain name"),
            "{problem}"
        );
    }

    /// Only one trailing dot is "the root" to drop; the rest are empty labels.
    #[test]
    fn a_lone_dot_and_two_trailing_dots_are_empty_labels() {
        for name in [".", "a.."] {
            let problem = dns_name_problem(name, Wildcard::Refused).unwrap_or_default();
            assert!(problem.contains("empty label"), "{name:?}: {problem}");
        }
    }

    #[test]
    fn names_of_exactly_253_characters_and_labels_with_digits_are_valid() {
        let label = "a".repeat(63);
        let name = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        assert_eq!(name.len(), 253);
        assert_eq!(dns_name_problem(&name, Wildcard::Refused), None);
        assert_eq!(
            dns_name_problem("api2.example.com", Wildcard::Refused),
            None
        );
    }

    #[test]
    fn stage_names_follow_api_gateway_rules() {
        for ok in ["prod", "my-stage_2", &"s".repeat(128)] {
            assert_eq!(stage_name_problem(ok), None, "{ok}");
        }
        for bad in ["", "a b", "a.b", &"s".repeat(129)] {
            assert!(stage_name_problem(bad).is_some(), "{bad}");
        }
    }

    /// The well-known `--var`s with a value at each end of their range, then just outside.
    #[test]
    fn numbers_and_booleans_of_the_bundled_scripts_are_checked() {
        let check = |name: &str, value: &str| {
            check_vars(&BTreeMap::from([(name.to_string(), value.to_string())])).is_ok()
        };
        for (name, ok, bad) in [
            ("validation_timeout", ["1", "86400"], ["0", "86401"]),
            ("expiry_warning_days", ["0", "36600"], ["-1", "36601"]),
            ("probe", ["true", "false"], ["yes", "True"]),
            ("delete_zone", ["true", "false"], ["1", ""]),
            (
                "listen",
                ["127.0.0.1:8443", "[::1]:1"],
                ["127.0.0.1", "localhost:1"],
            ),
        ] {
            for value in ok {
                assert!(check(name, value), "{name}={value} should pass");
            }
            for value in bad {
                assert!(!check(name, value), "{name}={value} should fail");
            }
        }
    }

    #[test]
    fn a_domain_may_be_its_own_zone() {
        let vars = BTreeMap::from([
            ("domain".to_string(), "example.com".to_string()),
            ("zone".to_string(), "example.com".to_string()),
        ]);
        assert!(check_vars(&vars).is_ok());
    }

    /// `--region` is read first, so the environment of the test does not matter.
    #[test]
    fn a_region_given_with_the_flag_is_checked() {
        let settings = |region: &str| crate::aws::AwsSettings {
            region: Some(region.to_string()),
            ..Default::default()
        };
        let Err(Error::InvalidInput { problems }) = check_region(&settings("moon-base-1")) else {
            panic!("moon-base-1 passed")
        };
        assert!(problems.starts_with("--region: "), "{problems}");
        assert!(check_region(&settings("us-east-1")).is_ok());
    }
}

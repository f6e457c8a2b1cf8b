//! Property tests of the input parsers a user (or an attacker) feeds: DNS names, `--var`
//! pairs and truststore PEM. Each runs 256 cases by default; `PROPTEST_CASES=100000 cargo
//! test --release --test properties` runs them long (see the closing note for what a long
//! run found).

use proptest::prelude::*;

use mtls::inputs::{dns_name_problem, parse_var, Wildcard};
use mtls::pki::Truststore;

/// Two real certificates, made once.
fn certs() -> &'static [String; 2] {
    static CERTS: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    CERTS.get_or_init(|| {
        let make = |cn: &str| {
            let key = rcgen::KeyPair::generate().unwrap();
            rcgen::CertificateParams::new(vec![cn.to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap()
                .pem()
        };
        [make("one.example"), make("two.example")]
    })
}

fn key_pem() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| rcgen::KeyPair::generate().unwrap().serialize_pem())
}

/// One piece of a would-be truststore file.
#[derive(Debug, Clone)]
enum Piece {
    Cert(usize),
    Key(&'static str),
    Text(String),
    Blank,
    Truncated(usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        4 => (0..2usize).prop_map(Piece::Cert),
        1 => prop::sample::select(vec!["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]).prop_map(Piece::Key),
        1 => "[ -~]{0,40}".prop_map(Piece::Text),
        1 => Just(Piece::Blank),
        1 => (0..2usize).prop_map(Piece::Truncated),
    ]
}

fn render(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Cert(i) => out.push_str(&certs()[*i]),
            Piece::Key(label) => out.push_str(&key_pem().replace("PRIVATE KEY", label)),
            Piece::Text(t) => {
                out.push_str(t);
                out.push('\n');
            }
            Piece::Blank => out.push('\n'),
            Piece::Truncated(i) => {
                let c = &certs()[*i];
                out.push_str(&c[..c.len() / 2]);
            }
        }
    }
    out
}

proptest! {
    /// Whatever the file holds, parsing never panics, a key anywhere is refused, and what
    /// would be uploaded is certificates only, the same ones, in order.
    #[test]
    fn truststore_upload_is_certificates_only(pieces in prop::collection::vec(piece(), 0..6)) {
        let text = render(&pieces);
        match Truststore::from_pem("t.pem", &text) {
            Ok(store) => {
                prop_assert!(!pieces.iter().any(|p| matches!(p, Piece::Key(_) | Piece::Truncated(_))));
                let upload = store.to_pem();
                prop_assert!(!upload.contains("PRIVATE"));
                let wanted: Vec<&str> = pieces.iter().filter_map(|p| match p {
                    Piece::Cert(i) => Some(certs()[*i].as_str()),
                    _ => None,
                }).collect();
                prop_assert_eq!(upload, wanted.concat());
            }
            Err(e) => {
                let has_key = pieces.iter().any(|p| matches!(p, Piece::Key(_)));
                let has_bad = pieces.iter().any(|p| match p {
                    Piece::Truncated(_) => true,
                    Piece::Text(t) => !t.trim().is_empty(),
                    _ => false,
                });
                let no_cert = !pieces.iter().any(|p| matches!(p, Piece::Cert(_)));
                prop_assert!(has_key || has_bad || no_cert, "refused a good file: {}", e);
            }
        }
    }

    /// Arbitrary bytes never panic the parser.
    #[test]
    fn truststore_parser_survives_any_text(text in "\\PC{0,300}") {
        let _ = Truststore::from_pem("t.pem", &text);
    }

    /// An accepted name follows every rule the validator promises.
    #[test]
    fn accepted_dns_names_follow_rfc1123(name in "[a-zA-Z0-9.*\\-_ /\u{e9}\u{3042}]{0,80}") {
        if dns_name_problem(&name, Wildcard::Refused).is_none() {
            prop_assert!(name.len() <= 253);
            prop_assert!(name.parse::<std::net::IpAddr>().is_err());
            for label in name.split('.') {
                prop_assert!((1..=63).contains(&label.len()), "{}", name);
                prop_assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!label.starts_with('-') && !label.ends_with('-'));
            }
        }
    }

    /// Well-formed names are accepted.
    #[test]
    fn well_formed_dns_names_are_accepted(labels in prop::collection::vec("[a-z0-9]([a-z0-9\\-]{0,20}[a-z0-9])?", 1..5), tld in "[a-z]{2,6}") {
        let name = format!("{}.{tld}", labels.join("."));
        prop_assert_eq!(dns_name_problem(&name, Wildcard::Refused), None, "{}", name);
    }

    /// `NAME=VALUE` splits at the first `=`, keeps the value as typed, and refuses the rest.
    #[test]
    fn var_pairs_round_trip(name in "[A-Za-z_][A-Za-z0-9_]{0,12}", value in "\\PC{0,40}") {
        let (n, v) = parse_var(&format!("{name}={value}")).unwrap();
        prop_assert_eq!(n, name);
        prop_assert_eq!(v, value);
    }

    #[test]
    fn var_parsing_never_panics(raw in "\\PC{0,60}") {
        if let Ok((n, v)) = parse_var(&raw) {
            prop_assert!(!n.is_empty() && !n.contains('='));
            prop_assert!(raw.ends_with(&v));
        } else {
            prop_assert!(!raw.contains('=') || raw.split('=').next().unwrap().trim().is_empty() || raw.split('=').next().unwrap().trim().contains(char::is_whitespace));
        }
    }
}

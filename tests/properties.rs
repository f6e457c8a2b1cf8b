//! Property tests of the input parsers a user (or an attacker) feeds: DNS names, `--var`
//! pairs and truststore PEM. Each runs 256 cases by default; `PROPTEST_CASES=100000 cargo
//! test --release --test properties` runs them long (see the closing note for what a long
//! run found).
//!
//! A generator that the parser refuses almost always tests only the first check it meets.
//! The DNS names and the truststores are therefore built valid and then changed a little
//! (or not at all), and the tests that use them print the share accepted and assert it
//! stays between bounds, so a generator drifting back to "all refused" fails.

use std::cell::Cell;

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};

use mtls::inputs::{dns_name_problem, parse_var, Wildcard};
use mtls::pki::Truststore;

/// Runs `test` on `cases` values of `strategy` (proptest's configuration, so `PROPTEST_CASES`
/// applies), counting the values `accepted` says the parser took; prints the share and
/// asserts it lies in `bounds` (per cent), so that the generator keeps reaching both sides.
fn run_counting<S: Strategy>(
    what: &str,
    strategy: S,
    bounds: std::ops::RangeInclusive<usize>,
    test: impl Fn(&S::Value) -> Result<bool, TestCaseError>,
) {
    let accepted = Cell::new(0usize);
    let total = Cell::new(0usize);
    let mut runner = TestRunner::new(Config::default());
    let outcome = runner.run(&strategy, |value| -> TestCaseResult {
        total.set(total.get() + 1);
        if test(&value)? {
            accepted.set(accepted.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{what}: {e}");
    }
    let share = accepted.get() * 100 / total.get().max(1);
    eprintln!(
        "{what}: {} of {} accepted ({share} %)",
        accepted.get(),
        total.get()
    );
    assert!(
        bounds.contains(&share),
        "{what}: {share} % accepted, expected {bounds:?}: the generator no longer reaches both sides"
    );
}

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
    /// A real certificate's base64 wrapped at another width (openssl writes 64; 76 and one
    /// long line are common too).
    Rewrapped(usize, usize),
    /// A real certificate with one base64 character of its body replaced: the DER may still
    /// parse (a changed signature byte) or not.
    Flipped(usize, usize, char),
    /// Random bytes, valid base64, inside armour with this label.
    Armoured(&'static str, Vec<u8>),
    Key(&'static str),
    Text(String),
    Blank,
    Truncated(usize),
}

const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        12 => (0..2usize).prop_map(Piece::Cert),
        3 => (0..2usize, prop::sample::select(vec![1usize, 16, 76, 10_000])).prop_map(|(i, w)| Piece::Rewrapped(i, w)),
        1 => (0..2usize, any::<usize>(), prop::sample::select(BASE64.chars().collect::<Vec<_>>()))
            .prop_map(|(i, at, c)| Piece::Flipped(i, at, c)),
        1 => (prop::sample::select(vec!["CERTIFICATE", "CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CRL"]),
              prop::collection::vec(any::<u8>(), 0..600)).prop_map(|(l, b)| Piece::Armoured(l, b)),
        1 => prop::sample::select(vec!["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"]).prop_map(Piece::Key),
        1 => "[ -~]{0,40}".prop_map(Piece::Text),
        2 => Just(Piece::Blank),
        1 => (0..2usize).prop_map(Piece::Truncated),
    ]
}

/// The base64 body of a PEM block, on one line.
fn body_of(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

/// `label` armour around `body`, wrapped at `width` characters.
fn armour(label: &str, body: &str, width: usize) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(width) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Certificate `i` with the base64 character at `at` (modulo the body's length; never the
/// `=` padding) replaced by `c`.
fn flipped_body(i: usize, at: usize, c: char) -> String {
    let mut body: Vec<char> = body_of(&certs()[i]).chars().collect();
    let payload = body.iter().take_while(|c| **c != '=').count();
    body[at % payload] = c;
    body.into_iter().collect()
}

/// The DER a certificate piece carries, as the test decodes it (`None`: not a certificate
/// piece, or a body that is not base64).
fn der_of(piece: &Piece) -> Option<Vec<u8>> {
    let body = match piece {
        Piece::Cert(i) | Piece::Rewrapped(i, _) => body_of(&certs()[*i]),
        Piece::Flipped(i, at, c) => flipped_body(*i, *at, *c),
        Piece::Armoured("CERTIFICATE", bytes) => {
            base64::engine::general_purpose::STANDARD.encode(bytes)
        }
        _ => return None,
    };
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn render(pieces: &[Piece]) -> String {
    let mut out = String::new();
    for p in pieces {
        match p {
            Piece::Cert(i) => out.push_str(&certs()[*i]),
            Piece::Rewrapped(i, width) => {
                out.push_str(&armour("CERTIFICATE", &body_of(&certs()[*i]), *width))
            }
            Piece::Flipped(i, at, c) => {
                out.push_str(&armour("CERTIFICATE", &flipped_body(*i, *at, *c), 64))
            }
            Piece::Armoured(label, bytes) => {
                let body = base64::engine::general_purpose::STANDARD.encode(bytes);
                out.push_str(&armour(label, &body, 64));
            }
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

/// Whatever the file holds, parsing never panics, a key anywhere is refused, and what
/// would be uploaded is certificates only, the same ones (their DER), in order.
#[test]
fn truststore_upload_is_certificates_only() {
    let files = prop::collection::vec(piece(), 0..6);
    run_counting("truststore files", files, 20..=80, |pieces| {
        let text = render(pieces);
        match Truststore::from_pem("t.pem", &text) {
            Ok(store) => {
                prop_assert!(
                    !pieces.iter().any(|p| matches!(
                        p,
                        Piece::Key(_) | Piece::Truncated(_) | Piece::Armoured(_, _)
                    )),
                    "accepted {:?}",
                    pieces
                );
                let upload = store.to_pem();
                prop_assert!(!upload.contains("PRIVATE"));
                let wanted: Vec<String> = pieces
                    .iter()
                    .filter_map(der_of)
                    .map(|der| {
                        armour(
                            "CERTIFICATE",
                            &base64::engine::general_purpose::STANDARD.encode(der),
                            64,
                        )
                    })
                    .collect();
                prop_assert_eq!(upload, wanted.concat());
                Ok(true)
            }
            Err(e) => {
                let has_key = pieces.iter().any(|p| matches!(p, Piece::Key(_)));
                let has_bad = pieces.iter().any(|p| match p {
                    Piece::Truncated(_) | Piece::Flipped(..) | Piece::Armoured(..) => true,
                    Piece::Text(t) => !t.trim().is_empty(),
                    _ => false,
                });
                let no_cert = !pieces
                    .iter()
                    .any(|p| matches!(p, Piece::Cert(_) | Piece::Rewrapped(..)));
                prop_assert!(has_key || has_bad || no_cert, "refused a good file: {}", e);
                Ok(false)
            }
        }
    });
}

/// RFC 1123 host names as AWS takes them, restated independently of `dns_name_problem`: at
/// most 253 characters, labels of 1-63 lowercase letters, digits and inner hyphens, and a
/// top-level label that is not all digits (which also excludes IPv4 addresses).
fn is_host_name(name: &str) -> bool {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    name.len() <= 253
        && name.split('.').all(label_ok)
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// A valid label: its length is often at a limit (1, 62, 63), so that the 63- and
/// 253-character rules are reached; letters, digits and inner hyphens.
fn label() -> impl Strategy<Value = String> {
    let len = prop_oneof![
        2 => Just(1usize),
        2 => Just(62usize),
        3 => Just(63usize),
        6 => 1..=63usize
    ];
    (len, any::<u64>()).prop_map(|(len, seed)| {
        const INNER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
        let mut rng = seed;
        (0..len)
            .map(|i| {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let pick = (rng >> 33) as usize;
                // The ends are never a hyphen: INNER without its last byte.
                let pool = if i == 0 || i == len - 1 {
                    &INNER[..36]
                } else {
                    INNER
                };
                pool[pick % pool.len()] as char
            })
            .collect()
    })
}

/// One small change to a name: the kinds of slip a user makes, and the limits.
#[derive(Debug, Clone)]
enum Slip {
    Insert(usize, char),
    Replace(usize, char),
    Delete(usize),
    /// One more character in the label holding this position (63 becomes 64).
    Lengthen(usize),
    Uppercase(usize),
    TrailingDot,
}

fn slip() -> impl Strategy<Value = Slip> {
    let c = prop::sample::select(vec![
        '-', '.', '_', '*', ' ', 'A', 'z', '9', '/', '\u{e9}', '\u{3042}',
    ]);
    prop_oneof![
        (any::<usize>(), c.clone()).prop_map(|(i, c)| Slip::Insert(i, c)),
        (any::<usize>(), c).prop_map(|(i, c)| Slip::Replace(i, c)),
        any::<usize>().prop_map(Slip::Delete),
        any::<usize>().prop_map(Slip::Lengthen),
        any::<usize>().prop_map(Slip::Uppercase),
        Just(Slip::TrailingDot),
    ]
}

fn apply(name: &str, slip: &Slip) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let at = |i: usize, n: usize| if n == 0 { 0 } else { i % n };
    match *slip {
        Slip::Insert(i, c) => chars.insert(at(i, chars.len() + 1), c),
        Slip::Replace(i, c) if !chars.is_empty() => {
            let i = at(i, chars.len());
            chars[i] = c;
        }
        Slip::Delete(i) if !chars.is_empty() => {
            chars.remove(at(i, chars.len()));
        }
        Slip::Lengthen(i) => {
            // Before the next dot after position i (or at the end): the label grows by one.
            let start = at(i, chars.len() + 1);
            let end = chars[start..]
                .iter()
                .position(|c| *c == '.')
                .map_or(chars.len(), |p| start + p);
            chars.insert(end, 'x');
        }
        Slip::Uppercase(i) if !chars.is_empty() => {
            let i = at(i, chars.len());
            chars[i] = chars[i].to_ascii_uppercase();
        }
        Slip::TrailingDot => chars.push('.'),
        _ => {}
    }
    chars.into_iter().collect()
}

/// A name of 1-5 valid labels and a letters-only top level, then zero to two slips. One name
/// in four is four long labels (226-262 characters), so both sides of 253 come up often.
fn dns_name() -> impl Strategy<Value = String> {
    let long = prop::collection::vec(label(), 4).prop_map(|labels| {
        labels
            .into_iter()
            .map(|l| format!("{l:a<55}"))
            .collect::<Vec<_>>()
    });
    (
        prop_oneof![3 => prop::collection::vec(label(), 1..=5), 1 => long],
        "[a-z]{2,6}",
        prop::collection::vec(slip(), 0..=2),
    )
        .prop_map(|(labels, tld, slips)| {
            let name = format!("{}.{tld}", labels.join("."));
            slips.iter().fold(name, |name, s| apply(&name, s))
        })
}

/// The validator accepts exactly the RFC 1123 host names: every near miss is refused, with
/// a reason, and every valid name (long labels and long names included) is accepted.
#[test]
fn dns_names_are_accepted_exactly_when_valid() {
    // Each limit, reached from both sides: [63-character label accepted, 64 refused,
    // 240-253 characters accepted, 254 and more refused].
    let limits = [(); 4].map(|_| Cell::new(0usize));
    run_counting("DNS names", dns_name(), 25..=75, |name| {
        let problem = dns_name_problem(name, Wildcard::Refused);
        prop_assert_eq!(
            problem.is_none(),
            is_host_name(name),
            "{:?}: {:?}",
            name,
            problem
        );
        let longest = name.split('.').map(str::len).max().unwrap_or(0);
        let seen = [
            problem.is_none() && longest == 63,
            problem.is_some() && longest == 64,
            problem.is_none() && name.len() >= 240,
            problem.is_some() && name.len() > 253,
        ];
        for (count, hit) in limits.iter().zip(seen) {
            count.set(count.get() + usize::from(hit));
        }
        Ok(problem.is_none())
    });
    let limits = limits.map(Cell::into_inner);
    eprintln!("DNS names at the limits (63 ok, 64 refused, 240-253 ok, 254+ refused): {limits:?}");
    assert!(
        limits.iter().all(|n| *n > 0),
        "a limit was not reached: {limits:?}"
    );
}

/// With wildcards allowed, `*.` may start a name of at least two more labels, nothing else.
#[test]
fn wildcard_names_are_accepted_exactly_when_valid() {
    let names =
        (dns_name(), any::<bool>()).prop_map(|(n, star)| if star { format!("*.{n}") } else { n });
    run_counting("wildcard DNS names", names, 25..=75, |name| {
        let problem = dns_name_problem(name, Wildcard::Allowed);
        let valid = match name.strip_prefix("*.") {
            Some(rest) => name.len() <= 253 && rest.contains('.') && is_host_name(rest),
            None => is_host_name(name),
        };
        prop_assert_eq!(problem.is_none(), valid, "{:?}: {:?}", name, problem);
        Ok(problem.is_none())
    });
}

proptest! {
    /// Arbitrary bytes never panic the parser.
    #[test]
    fn truststore_parser_survives_any_text(text in "\\PC{0,300}") {
        let _ = Truststore::from_pem("t.pem", &text);
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

//! Finding private key material in bytes bound for AWS, for the guarantee that keys only ever
//! travel in ACM ImportCertificate's `PrivateKey` field (see [`super::moto::Moto`]'s drop).
//!
//! [`find_key_material`] looks for:
//! - a PEM private key marker, `PRIVATE KEY-----` (any label: RSA, EC, ENCRYPTED, OPENSSH...);
//! - private key DER: PKCS#8 (`02 01 00 30` then, within a few bytes, the OID of
//!   rsaEncryption or id-ecPublicKey; RSA-PSS, Ed25519/Ed448, X25519/X448 and DSA when the
//!   AlgorithmIdentifier is followed by the OCTET STRING of the key), PKCS#1 RSAPrivateKey
//!   (`30 82 ?? ?? 02 01 00 02 8[12]`), SEC1 ECPrivateKey (`30 ?? 02 01 01 04 20|30|42`, also
//!   with a two-byte length), encrypted PKCS#8 (`30 .. 30 .. 06` + PBES2 or a PKCS#12 PBE
//!   OID) and PKCS#12 key bags;
//! - both of those again inside every run of base64 text of at least [`MIN_RUN`] characters
//!   (line breaks, JSON-escaped `\n`/`\r` and indentation after a line break do not end a
//!   run; `\/` counts as `/`), decoded with the standard alphabet at each of the four
//!   alignments, recursively to [`MAX_DEPTH`] levels of base64 (a JSON blob field holding the
//!   base64 of a PEM file is two levels);
//! - at the top level, all of this again after percent-decoding (query strings, form bodies).
//!
//! Certificates (`30 82 ?? ?? 30 82 ...`) and the SubjectPublicKeyInfo in them match none of
//! the DER patterns. The description returned never contains key bytes.
#![allow(dead_code)]

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;

/// Shortest run of base64 characters (line breaks not counted) that is decoded.
pub const MIN_RUN: usize = 60;
/// How many levels of base64 inside base64 are decoded.
pub const MAX_DEPTH: usize = 3;

const PEM_MARKER: &[u8] = b"PRIVATE KEY-----";

/// What private key material `bytes` holds, described briefly (kind and where), or `None`.
pub fn find_key_material(bytes: &[u8]) -> Option<String> {
    if let Some(found) = scan(bytes, 0) {
        return Some(found);
    }
    if bytes.contains(&b'%') {
        let decoded = percent_decode(bytes);
        if decoded != bytes {
            return scan(&decoded, 0).map(|f| format!("{f}, after percent-decoding"));
        }
    }
    None
}

fn scan(bytes: &[u8], depth: usize) -> Option<String> {
    if let Some(found) = find_pem_marker(bytes) {
        return Some(found);
    }
    if let Some(found) = find_der_key(bytes) {
        return Some(found);
    }
    if depth >= MAX_DEPTH {
        return None;
    }
    for run in base64_runs(bytes) {
        for skip in 0..4 {
            let Some(decoded) = decode_base64(&run.text[skip.min(run.text.len())..]) else {
                continue;
            };
            if let Some(found) = scan(&decoded, depth + 1) {
                return Some(format!(
                    "{found}, in base64 text at byte {} ({} characters)",
                    run.start,
                    run.text.len()
                ));
            }
        }
    }
    None
}

/// `-----BEGIN <label>PRIVATE KEY-----` (or END, or the bare marker), with its label only.
fn find_pem_marker(bytes: &[u8]) -> Option<String> {
    let at = find(bytes, PEM_MARKER)?;
    let before = &bytes[at.saturating_sub(48)..at];
    let line = ["-----BEGIN ", "-----END "].iter().find_map(|start| {
        let from = rfind(before, start.as_bytes())?;
        let label = &before[from..];
        label
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b" -".contains(b))
            .then(|| format!("{}PRIVATE KEY-----", String::from_utf8_lossy(label)))
    });
    Some(format!(
        "PEM private key marker `{}` at byte {at}",
        line.unwrap_or_else(|| "PRIVATE KEY-----".to_string())
    ))
}

/// OIDs (DER, with tag and length) of key algorithms that PKCS#8 `02 01 00 30 ..` is matched
/// with as they are; signature algorithms with these OIDs cannot follow a serial number.
const PKCS8_OIDS: &[(&str, &[u8])] = &[
    (
        "rsaEncryption",
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ],
    ),
    (
        "id-ecPublicKey",
        &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01],
    ),
];

/// Key algorithms that are also signature algorithms (a certificate with serial number 0
/// signed with one reads `02 01 00 30 .. 06 ..` too): matched only when the
/// AlgorithmIdentifier is followed by an OCTET STRING (the key), not a Name (the issuer).
const PKCS8_OIDS_WITH_OCTET_STRING: &[(&str, &[u8])] = &[
    (
        "RSASSA-PSS",
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
        ],
    ),
    ("Ed25519", &[0x06, 0x03, 0x2b, 0x65, 0x70]),
    ("Ed448", &[0x06, 0x03, 0x2b, 0x65, 0x71]),
    ("X25519", &[0x06, 0x03, 0x2b, 0x65, 0x6e]),
    ("X448", &[0x06, 0x03, 0x2b, 0x65, 0x6f]),
    (
        "DSA",
        &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x01],
    ),
];

/// Password-based encryption OIDs of EncryptedPrivateKeyInfo: PBES2 and PKCS#12's PBEs.
const ENCRYPTED_PKCS8_OIDS: &[&[u8]] = &[
    &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d,
    ],
    &[
        0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01,
    ],
];

/// PKCS#12 keyBag and pkcs8ShroudedKeyBag.
const PKCS12_KEY_BAGS: &[&[u8]] = &[
    &[
        0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x01,
    ],
    &[
        0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
    ],
];

fn find_der_key(b: &[u8]) -> Option<String> {
    for i in 0..b.len() {
        let at = |k: usize| b.get(i + k).copied();
        let has = |k: usize, bytes: &[u8]| b.get(i + k..).is_some_and(|s| s.starts_with(bytes));
        // PKCS#8 PrivateKeyInfo: version 0 (or 1, OneAsymmetricKey), then AlgorithmIdentifier.
        if has(0, &[0x02, 0x01]) && matches!(at(2), Some(0 | 1)) && at(3) == Some(0x30) {
            for oid_at in 5..=7 {
                if let Some((name, _)) = PKCS8_OIDS.iter().find(|(_, oid)| has(oid_at, oid)) {
                    return Some(format!("PKCS#8 private key DER ({name}) at byte {i}"));
                }
            }
            if let Some(len) = at(4).filter(|l| *l < 0x80) {
                let after = 5 + len as usize;
                if let Some((name, _)) = PKCS8_OIDS_WITH_OCTET_STRING
                    .iter()
                    .find(|(_, oid)| has(5, oid) && at(after) == Some(0x04))
                {
                    return Some(format!("PKCS#8 private key DER ({name}) at byte {i}"));
                }
            }
        }
        // PKCS#1 RSAPrivateKey: SEQUENCE, version 0, modulus of 128+ bytes.
        if at(0) == Some(0x30)
            && at(1) == Some(0x82)
            && has(4, &[0x02, 0x01, 0x00, 0x02])
            && matches!(at(8), Some(0x81 | 0x82))
        {
            return Some(format!("PKCS#1 RSA private key DER at byte {i}"));
        }
        // SEC1 ECPrivateKey: SEQUENCE, version 1, a 32/48/66-byte private scalar.
        if at(0) == Some(0x30) {
            let body = match at(1) {
                Some(l) if l < 0x80 => 2,
                Some(0x81) => 3,
                _ => 0,
            };
            if body > 0
                && has(body, &[0x02, 0x01, 0x01, 0x04])
                && matches!(at(body + 4), Some(0x20 | 0x30 | 0x42))
            {
                return Some(format!("SEC1 EC private key DER at byte {i}"));
            }
        }
        // EncryptedPrivateKeyInfo: SEQUENCE { AlgorithmIdentifier { PBE OID, .. }, .. }.
        if at(0) == Some(0x30) {
            let inner = match at(1) {
                Some(l) if l < 0x80 => 2,
                Some(0x81) => 3,
                Some(0x82) => 4,
                _ => 0,
            };
            if inner > 0
                && at(inner) == Some(0x30)
                && ENCRYPTED_PKCS8_OIDS.iter().any(|oid| has(inner + 2, oid))
            {
                return Some(format!("encrypted PKCS#8 private key DER at byte {i}"));
            }
        }
        if PKCS12_KEY_BAGS.iter().any(|oid| has(0, oid)) {
            return Some(format!("PKCS#12 key bag at byte {i}"));
        }
    }
    None
}

/// A run of base64 text: its characters without line breaks, and where it starts.
struct Run {
    start: usize,
    text: Vec<u8>,
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Every run of at least [`MIN_RUN`] base64 characters: `[A-Za-z0-9+/]` then at most two
/// `=`. Inside a run, CR/LF and JSON's `\n`/`\r` are skipped, as are spaces and tabs right
/// after a line break (indented blocks); JSON's `\/` is a `/`.
fn base64_runs(bytes: &[u8]) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut current: Option<Run> = None;
    let mut padding = 0;
    let mut after_break = false;
    let mut i = 0;
    let finish = |run: Option<Run>, runs: &mut Vec<Run>| {
        if let Some(run) = run {
            let chars = run.text.iter().filter(|b| **b != b'=').count();
            if chars >= MIN_RUN {
                runs.push(run);
            }
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        let (char_here, width) = match (b, next) {
            (b'\\', Some(b'n' | b'r')) => (None, 2),
            (b'\\', Some(b'/')) => (Some(b'/'), 2),
            (b'\n' | b'\r', _) => (None, 1),
            _ => (Some(b), 1),
        };
        match char_here {
            // A line break: the run goes on.
            None => after_break = true,
            Some(b' ' | b'\t') if after_break && current.is_some() => {}
            Some(c) if is_base64(c) => {
                if padding > 0 {
                    finish(current.take(), &mut runs);
                    padding = 0;
                }
                current
                    .get_or_insert_with(|| Run {
                        start: i,
                        text: Vec::new(),
                    })
                    .text
                    .push(c);
                after_break = false;
            }
            Some(b'=') if current.is_some() && padding < 2 => {
                if let Some(run) = current.as_mut() {
                    run.text.push(b'=');
                }
                padding += 1;
                after_break = false;
            }
            Some(_) => {
                finish(current.take(), &mut runs);
                padding = 0;
                after_break = false;
            }
        }
        i += width;
    }
    finish(current.take(), &mut runs);
    runs
}

/// Standard-alphabet base64 without regard to padding or a dangling last character.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let mut end = text.iter().position(|b| *b == b'=').unwrap_or(text.len());
    if end % 4 == 1 {
        end -= 1;
    }
    LENIENT.decode(&text[..end]).ok()
}

/// `%XX` decoded (`+` left alone: it is more likely base64 than a form's space).
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

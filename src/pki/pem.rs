//! PEM text read strictly: which blocks a file holds, and on which line each starts.
//!
//! OpenSSL tolerates text between blocks; mtls does not where the bytes matter (a
//! truststore): anything but blocks and blank lines is an error that names its line.

/// One `-----BEGIN LABEL-----` ... `-----END LABEL-----` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub label: String,
    /// 1-based line of the BEGIN line.
    pub line: usize,
    pub der: Vec<u8>,
}

/// Every block of `text`, in order. Text outside a block, a block without its END line
/// and a body that is not base64 are errors saying where.
pub fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(label) = begin_label(line) else {
            return Err(format!("line {}: text outside a PEM block", i + 1));
        };
        let end = format!("-----END {label}-----");
        let mut block = format!("{line}\n");
        loop {
            let Some((_, next)) = lines.next() else {
                return Err(format!("line {}: the {label} block has no END line", i + 1));
            };
            let next = next.trim();
            block.push_str(next);
            block.push('\n');
            if next == end {
                break;
            }
            if begin_label(next).is_some() {
                return Err(format!("line {}: the {label} block has no END line", i + 1));
            }
        }
        let parsed = ::pem::parse(&block)
            .map_err(|e| format!("line {}: the {label} block is not valid PEM ({e})", i + 1))?;
        out.push(Block {
            label: label.to_string(),
            line: i + 1,
            der: parsed.into_contents(),
        });
    }
    Ok(out)
}

/// The labels of every BEGIN line, however malformed the rest.
pub fn labels(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| begin_label(l.trim()))
        .map(str::to_string)
        .collect()
}

/// Whether a label is private key material (`PRIVATE KEY`, `RSA PRIVATE KEY`,
/// `ENCRYPTED PRIVATE KEY`, `EC PRIVATE KEY`, ...).
pub fn is_private_key_label(label: &str) -> bool {
    label.contains("PRIVATE KEY")
}

/// Why bytes that should be PEM text are not, in words a user can act on; `None` when
/// they are text.
pub fn binary_problem(bytes: &[u8]) -> Option<&'static str> {
    if is_der(bytes) {
        return Some("it is binary DER, not PEM text; convert it first, e.g. `openssl x509 -inform der -in FILE -out FILE.pem` (for a key: `openssl pkey -inform der ...`)");
    }
    if std::str::from_utf8(bytes).is_err() || bytes.contains(&0) {
        return Some("it is binary, not PEM text (PEM starts with -----BEGIN ...)");
    }
    None
}

/// Whether bytes look like DER (certificates, keys and requests are all a SEQUENCE).
pub fn is_der(bytes: &[u8]) -> bool {
    // DER starts with a SEQUENCE tag and a long-form length.
    bytes.first() == Some(&0x30) && bytes.get(1).is_some_and(|b| *b >= 0x80)
}

/// A certificate as PEM text, with the LF line endings every tool of this kind writes.
pub fn encode_certificate(der: &[u8]) -> String {
    let config = ::pem::EncodeConfig::new().set_line_ending(::pem::LineEnding::LF);
    ::pem::encode_config(&::pem::Pem::new("CERTIFICATE", der.to_vec()), config)
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT_BODY: &str = "MAA=";

    fn block(label: &str) -> String {
        format!("-----BEGIN {label}-----\n{CERT_BODY}\n-----END {label}-----\n")
    }

    #[test]
    fn reads_blocks_and_their_lines() {
        let text = format!("\n{}{}", block("CERTIFICATE"), block("PRIVATE KEY"));
        let found = blocks(&text).unwrap();
        let seen: Vec<_> = found.iter().map(|b| (b.label.as_str(), b.line)).collect();
        assert_eq!(seen, [("CERTIFICATE", 2), ("PRIVATE KEY", 5)]);
        assert_eq!(found[0].der, [0x30, 0x00]);
    }

    #[test]
    fn refuses_what_is_not_a_block() {
        let case = |text: &str, expected: &str| {
            let err = blocks(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        };
        case("hello\n", "line 1: text outside a PEM block");
        case(
            &format!("{}Certificate:\n", block("CERTIFICATE")),
            "line 4: text outside",
        );
        case("-----BEGIN CERTIFICATE-----\nMAA=\n", "no END line");
        case(
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "not valid PEM",
        );
    }

    #[test]
    fn names_binary_input() {
        assert!(binary_problem(&[0x30, 0x82, 0x01, 0x0a])
            .unwrap()
            .contains("DER"));
        assert!(binary_problem(&[0xff, 0xfe, 0x00]).is_some());
        assert!(binary_problem(block("CERTIFICATE").as_bytes()).is_none());
    }
}

/// Tests that kill the mutants cargo-mutants found alive here (tests/README.md, "Mutation
/// testing").
#[cfg(test)]
mod mutants_tests {
    use super::*;

    #[test]
    fn each_error_names_the_line_of_its_block() {
        let text = "\n\n-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(blocks(text).unwrap_err().starts_with("line 3: "));
        let text = "\n-----BEGIN CERTIFICATE-----\nMAA=\n-----BEGIN CERTIFICATE-----\n";
        assert!(blocks(text).unwrap_err().starts_with("line 2: "));
    }

    #[test]
    fn labels_are_read_from_every_begin_line() {
        let text = "x\n -----BEGIN CERTIFICATE----- \n-----BEGIN EC PRIVATE KEY-----\n";
        assert_eq!(labels(text), ["CERTIFICATE", "EC PRIVATE KEY"]);
        assert!(is_private_key_label("ENCRYPTED PRIVATE KEY"));
        assert!(!is_private_key_label("CERTIFICATE"));
    }

    #[test]
    fn text_is_not_mistaken_for_binary() {
        // A text starting with "0" (the SEQUENCE tag's byte) is not DER.
        assert_eq!(binary_problem(b"0 = a text file\n"), None);
        // Valid UTF-8 with a NUL, and invalid UTF-8 without one, are both binary.
        assert!(binary_problem(b"text\0more").is_some_and(|p| !p.contains("DER")));
        assert!(binary_problem(&[0x41, 0xff, 0x41]).is_some_and(|p| !p.contains("DER")));
    }

    #[test]
    fn a_certificate_is_encoded_as_lf_pem() {
        let pem = encode_certificate(&[0x30, 0x00]);
        assert_eq!(
            pem,
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"
        );
        assert_eq!(blocks(&pem).unwrap()[0].der, [0x30, 0x00]);
    }
}

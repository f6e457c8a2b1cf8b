//! `revoke.rhai`: a CRL per issuing CA that openssl verifies, revocations that are kept,
//! the fleet manifest's revoked column, and the bad inputs that must change nothing (a
//! certificate of another CA, a tampered or foreign list, a CRL number going backwards).
//! `mtls check --crl` is tested here too, on the lists revoke makes.

use std::path::Path;

use crate::support;
use support::cli::{mtls, openssl, Run};

/// A folder with an ECDSA root (`RootCA`) and three devices it issued (`device-1..3`).
pub(crate) fn fleet_of_three() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    mtls(
        tmp.path(),
        &[
            "run",
            "issue_clients.rhai",
            "--var",
            "count=3",
            "--var",
            "ca_algorithm=ecdsa-p256",
        ],
    )
    .success();
    tmp
}

/// `mtls run revoke.rhai ARGS` (`--var` added before each argument).
pub(crate) fn revoke(dir: &Path, vars: &[&str]) -> Run {
    let mut args = vec!["run", "revoke.rhai"];
    for v in vars {
        args.extend(["--var", v]);
    }
    mtls(dir, &args)
}

/// The serial of a certificate, as `openssl x509 -serial` prints it (upper-case hex).
pub(crate) fn serial_of(dir: &Path, cert: &str) -> String {
    let out = openssl(dir, &["x509", "-in", cert, "-noout", "-serial"]).success();
    out.stdout.trim().trim_start_matches("serial=").to_string()
}

/// A CRL of `ca` that expired in 2020, made by `openssl ca -gencrl`.
pub(crate) fn expired_crl(dir: &Path, ca: &str, out: &str) {
    crl_between(dir, ca, out, "20200101000000Z", "20200102000000Z");
}

/// A CRL of `ca` issued at `last` and due again at `next`, made by `openssl ca -gencrl`.
fn crl_between(dir: &Path, ca: &str, out: &str, last: &str, next: &str) {
    std::fs::create_dir_all(dir.join("oca")).unwrap();
    std::fs::write(dir.join("oca/index.txt"), "").unwrap();
    std::fs::write(dir.join("oca/crlnumber"), "01\n").unwrap();
    std::fs::write(
        dir.join("oca/ca.cnf"),
        "[ca]\ndefault_ca = d\n[d]\ndatabase = oca/index.txt\ncrlnumber = oca/crlnumber\ndefault_md = sha256\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "ca",
            "-config",
            "oca/ca.cnf",
            "-gencrl",
            "-keyfile",
            &format!("{ca}.key"),
            "-cert",
            &format!("{ca}.pem"),
            "-crl_lastupdate",
            last,
            "-crl_nextupdate",
            next,
            "-out",
            out,
        ],
    )
    .success();
}

fn crl_text(dir: &Path) -> String {
    openssl(dir, &["crl", "-in", "RootCA.crl.pem", "-noout", "-text"])
        .success()
        .stdout
}

#[track_caller]
fn assert_openssl_verifies(dir: &Path, crl: &str, ca: &str) {
    let out = openssl(
        dir,
        &["crl", "-in", crl, "-noout", "-verify", "-CAfile", ca],
    );
    assert!(
        out.status.success() && out.stderr.contains("verify OK"),
        "openssl crl -verify refused {crl}:\n{}",
        out.all()
    );
}

#[test]
fn revoking_writes_a_list_openssl_verifies_and_a_second_time_changes_nothing() {
    let tmp = fleet_of_three();
    let dir = tmp.path();
    let (one, two) = (
        serial_of(dir, "device-1.pem"),
        serial_of(dir, "device-2.pem"),
    );

    // The plan shows the list as a local action and writes nothing.
    let plan = mtls(
        dir,
        &[
            "plan",
            "revoke.rhai",
            "--var",
            "cert=device-1.pem",
            "--var",
            "reason=keyCompromise",
        ],
    )
    .success();
    assert!(
        plan.stdout.contains("+ revocation list  RootCA.crl.pem"),
        "{}",
        plan.all()
    );
    assert!(
        plan.stdout.contains(&format!("serial      = \"{one}\"")),
        "{}",
        plan.all()
    );
    assert!(
        !dir.join("RootCA.crl.pem").exists(),
        "a plan wrote the list"
    );

    revoke(dir, &["cert=device-1.pem", "reason=keyCompromise"]).success();
    assert_openssl_verifies(dir, "RootCA.crl.pem", "RootCA.pem");
    let text = crl_text(dir);
    assert!(text.contains(&format!("Serial Number: {one}")), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert!(text.contains("Version 2"), "{text}");
    let number = |dir: &Path| {
        openssl(
            dir,
            &["crl", "-in", "RootCA.crl.pem", "-noout", "-crlnumber"],
        )
        .success()
        .stdout
        .trim()
        .to_string()
    };
    assert_eq!(number(dir), "crlNumber=0x01");

    // By serial, with the list's next update set: both entries, the next number.
    revoke(dir, &[&format!("serial={two}"), "crl_days=2"]).success();
    assert_openssl_verifies(dir, "RootCA.crl.pem", "RootCA.pem");
    let text = crl_text(dir);
    assert!(text.contains(&format!("Serial Number: {one}")), "{text}");
    assert!(text.contains(&format!("Serial Number: {two}")), "{text}");
    assert_eq!(number(dir), "crlNumber=0x02");

    // A second revocation of device-1: kept, the file untouched, the plan says keep.
    let before = std::fs::read(dir.join("RootCA.crl.pem")).unwrap();
    let again = revoke(dir, &["cert=device-1.pem"]).success();
    assert!(
        again.stdout.contains("= revocation list"),
        "{}",
        again.all()
    );
    assert!(again.stdout.contains("already revoked"), "{}", again.all());
    let plan = mtls(dir, &["plan", "revoke.rhai", "--var", "cert=device-1.pem"]).success();
    assert!(plan.stdout.contains("= revocation list"), "{}", plan.all());
    assert_eq!(std::fs::read(dir.join("RootCA.crl.pem")).unwrap(), before);
}

#[test]
fn the_list_says_when_its_next_update_is() {
    let tmp = fleet_of_three();
    let dir = tmp.path();
    revoke(dir, &["cert=device-3.pem", "crl_days=2"]).success();
    let text = std::fs::read_to_string(dir.join("RootCA.crl.pem")).unwrap();
    let crl = mtls::pki::Crl::from_pem("RootCA.crl.pem", &text).unwrap();
    assert_eq!(
        crl.next_update.map(|next| next - crl.this_update),
        Some(time::Duration::days(2))
    );
}

#[test]
fn the_fleet_manifest_marks_revoked_devices() {
    let tmp = fleet_of_three();
    let dir = tmp.path();
    revoke(dir, &["cert=device-2.pem", "reason=superseded"]).success();
    mtls(
        dir,
        &[
            "run",
            "issue_clients.rhai",
            "--var",
            "count=3",
            "--var",
            "ca_algorithm=ecdsa-p256",
        ],
    )
    .success();
    let csv = std::fs::read_to_string(dir.join("device-manifest.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("name,serial,sha256,not_after,revoked"));
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let revoked = cells[4];
        if cells[0] == "device-2" {
            assert!(
                revoked.starts_with("20") && revoked.ends_with('Z'),
                "{line}"
            );
        } else {
            assert_eq!(revoked, "", "{line}");
        }
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("device-manifest.json")).unwrap())
            .unwrap();
    let marked: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["revoked"] != "")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(marked, ["device-2"]);
}

/// Runs `revoke` expecting a refusal whose message holds `expected`, and checks that the
/// list's bytes did not change.
#[track_caller]
fn refused(dir: &Path, vars: &[&str], expected: &str) {
    let before = std::fs::read(dir.join("RootCA.crl.pem")).ok();
    let out = revoke(dir, vars).failure();
    assert!(
        out.stderr.contains(expected),
        "expected {expected:?} in:\n{}",
        out.all()
    );
    assert!(out.stderr.contains("help:"), "no advice:\n{}", out.all());
    assert_eq!(
        std::fs::read(dir.join("RootCA.crl.pem")).ok(),
        before,
        "the list changed"
    );
}

/// Another root with the same subject as the fleet's (`other/RootCA`) and a client it
/// issued; an intermediate under the fleet's root (`inca`) and a client it issued.
fn other_cas(dir: &Path) {
    std::fs::write(
        dir.join("impostor.rhai"),
        r#"let ca = gen_root_ca(#{ key: "other/RootCA.key", cert: "other/RootCA.pem", algorithm: "ecdsa-p256", subject: #{ CN: "mtls root CA" } });
           gen_client_cert(ca, #{ key: "other/client.key", cert: "other/client.pem", algorithm: "ecdsa-p256" });
           let inca = gen_intermediate_ca(#{ key: "RootCA.key", cert: "RootCA.pem" }, #{ algorithm: "ecdsa-p256" });
           gen_client_cert(inca, #{ key: "inca-client.key", cert: "inca-client.pem", algorithm: "ecdsa-p256" });"#,
    )
    .unwrap();
    mtls(dir, &["run", "impostor.rhai"]).success();
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    let tmp = fleet_of_three();
    let dir = tmp.path();
    other_cas(dir);
    revoke(dir, &["cert=device-1.pem"]).success();

    // A certificate of another CA: the same issuer name, another key (the signature).
    refused(dir, &["cert=other/client.pem"], "another key signed it");
    // A certificate of the root's intermediate named against the root: another issuer name.
    refused(dir, &["cert=inca-client.pem"], "its issuer is");

    // A CRL number going backwards, or standing still.
    refused(
        dir,
        &["cert=device-2.pem", "crl_number=1"],
        "is not above 1",
    );
    refused(
        dir,
        &["cert=device-2.pem", "crl_number=0"],
        "is not above 1",
    );

    // Options that are no reason, no serial, no number of days.
    refused(
        dir,
        &["cert=device-2.pem", "reason=stolen"],
        "unknown reason",
    );
    refused(
        dir,
        &["cert=device-2.pem", "reason=certificateHold"],
        "revokes for good",
    );
    refused(dir, &["serial=xyz"], "not a hexadecimal serial");
    refused(dir, &["cert=device-2.pem", "crl_days=0"], "out of range");

    // A tampered list: one byte of its signed part changed.
    let pem = std::fs::read_to_string(dir.join("RootCA.crl.pem")).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    use base64::Engine as _;
    let mut der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let serial = hex_bytes(&serial_of(dir, "device-1.pem"));
    let at = der
        .windows(serial.len())
        .position(|w| w == serial.as_slice())
        .expect("the serial is in the list");
    der[at + serial.len() - 1] ^= 0x01;
    let tampered = format!(
        "-----BEGIN X509 CRL-----\n{}\n-----END X509 CRL-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    );
    std::fs::write(dir.join("RootCA.crl.pem"), &tampered).unwrap();
    refused(
        dir,
        &["cert=device-2.pem"],
        "signature was not made by the key",
    );

    // A list of another CA with the same name, in the root's place.
    std::fs::remove_file(dir.join("RootCA.crl.pem")).unwrap();
    revoke(dir, &["ca=other/RootCA", "cert=other/client.pem"]).success();
    std::fs::rename(dir.join("other/RootCA.crl.pem"), dir.join("RootCA.crl.pem")).unwrap();
    refused(
        dir,
        &["cert=device-2.pem"],
        "signature was not made by the key",
    );

    // Not a list at all.
    std::fs::copy(dir.join("RootCA.pem"), dir.join("RootCA.crl.pem")).unwrap();
    refused(dir, &["cert=device-2.pem"], "CERTIFICATE block");
}

#[test]
fn an_expired_list_is_signed_again_with_a_higher_number() {
    let tmp = fleet_of_three();
    let dir = tmp.path();
    // openssl's list, number 1, expired in 2020: revoke keeps nothing that expired, and an
    // expired list is what a revocation must be able to replace.
    expired_crl(dir, "RootCA", "RootCA.crl.pem");
    let out = revoke(dir, &[]).success();
    assert!(out.stdout.contains("~ revocation list"), "{}", out.all());
    assert_openssl_verifies(dir, "RootCA.crl.pem", "RootCA.pem");
    let number = openssl(
        dir,
        &["crl", "-in", "RootCA.crl.pem", "-noout", "-crlnumber"],
    )
    .success();
    assert_eq!(number.stdout.trim(), "crlNumber=0x02");
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// `mtls check --crl CRL --cert CERT --truststore RootCA.pem` (`extra` after).
fn check_crl(dir: &Path, crl: &str, cert: &str, extra: &[&str]) -> Run {
    let mut args = vec!["check", "--crl", crl, "--cert", cert];
    args.extend_from_slice(extra);
    mtls(dir, &args)
}

#[test]
fn check_reports_a_revoked_certificate_with_its_serial_reason_and_date() {
    let tmp = fleet_of_three();
    let dir = tmp.path();
    let revoked = revoke(dir, &["cert=device-1.pem", "reason=keyCompromise"]).success();
    let serial = serial_of(dir, "device-1.pem");
    let out = check_crl(
        dir,
        "RootCA.crl.pem",
        "device-1.pem",
        &["--truststore", "RootCA.pem"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", out.all());
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("crl-revoked"))
        .unwrap_or_else(|| panic!("no crl-revoked finding:\n{}", out.all()));
    let date = revoked
        .stdout
        .split("revoked ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no date in {}", revoked.stdout));
    for part in [serial.as_str(), "keyCompromise", date] {
        assert!(line.contains(part), "{part:?} missing from {line}");
    }
    // Another device of the same CA passes.
    let clean = check_crl(
        dir,
        "RootCA.crl.pem",
        "device-2.pem",
        &["--truststore", "RootCA.pem"],
    );
    assert_eq!(clean.status.code(), Some(0), "{}", clean.all());
    assert!(!clean.stdout.contains("crl-"), "{}", clean.stdout);
}

#[test]
fn check_reports_a_list_that_is_expired_badly_signed_or_of_another_issuer() {
    let tmp = fleet_of_three();
    let dir = tmp.path();
    other_cas(dir);
    let finding = |crl: &str, cert: &str, extra: &[&str], rule: &str, text: &str| {
        let out = check_crl(dir, crl, cert, extra);
        assert_eq!(out.status.code(), Some(1), "{}", out.all());
        let line = out.stdout.lines().find(|l| l.contains(rule));
        assert!(
            line.is_some_and(|l| l.contains(text)),
            "expected {rule} with {text:?}:\n{}",
            out.all()
        );
    };
    let trusting = ["--truststore", "RootCA.pem"];

    expired_crl(dir, "RootCA", "expired.crl.pem");
    finding(
        "expired.crl.pem",
        "device-1.pem",
        &trusting,
        "crl-expired",
        "2020-01-02T00:00:00Z",
    );
    // Issued in the future (a clock set wrong where it was signed): not valid yet.
    crl_between(
        dir,
        "RootCA",
        "future.crl.pem",
        "20990101000000Z",
        "20990201000000Z",
    );
    finding(
        "future.crl.pem",
        "device-1.pem",
        &trusting,
        "crl-expired",
        "issued on 2099-01-01T00:00:00Z, in the future",
    );

    // Same issuer name, another key: badly signed for the fleet's root.
    revoke(dir, &["ca=other/RootCA", "cert=other/client.pem"]).success();
    finding(
        "other/RootCA.crl.pem",
        "device-1.pem",
        &trusting,
        "crl-signature",
        "signature was not made",
    );
    // With no CA given, the signature cannot be checked: that is an error too.
    revoke(dir, &["cert=device-1.pem"]).success();
    finding(
        "RootCA.crl.pem",
        "device-1.pem",
        &[],
        "crl-signature",
        "no CA given is its issuer",
    );

    // The intermediate's list for a certificate of the root.
    revoke(dir, &["ca=inca", "cert=inca-client.pem"]).success();
    finding(
        "inca.crl.pem",
        "device-2.pem",
        &trusting,
        "crl-issuer",
        "the certificate was issued by",
    );
}

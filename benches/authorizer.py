"""Benchmark of the revocation authorizer (authorizer/authorizer.py) against the same
decision made from `openssl crl -text`, the parse a user would write. Standard library and
the `openssl` command only:

    python3 benches/authorizer.py [--calls 100000] [--sizes 1000,100000]

For each list size N, a CA (ECDSA P-256) revokes N serials and `openssl ca -gencrl` signs the
CRL; then, in the same run:
- cold start: a fresh python3 process loads the list (timed inside it, after the interpreter
  started, which both pay alike; the authorizer module's import, mostly the standard
  library's HTTP client that any S3 read needs, is shown apart): mtls's index (the JSON mtls publishes beside the
  truststore) through `authorizer.parse_index`, versus `openssl crl -noout -text` run and its
  "Serial Number:" lines read into a list;
- decision: `authorizer.decide` on REQUEST events (half revoked, half not; serials in API
  Gateway's "a1:b2:..." form), each call timed, median and p99 over --calls calls, versus
  the user's `serial.replace(":", "").upper() in revoked` over the openssl list.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "authorizer"))
import authorizer  # noqa: E402

ISSUER = "C=JP,ST=Tokyo,O=Example,CN=mtls root CA"


def run(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_crl(folder, serials):
    """A CA and a CRL revoking `serials` (hex), made by `openssl ca -gencrl`."""
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30",
        "-subj", "/C=JP/ST=Tokyo/O=Example/CN=mtls root CA", cwd=folder)
    with open(os.path.join(folder, "index.txt"), "w") as db:
        for s in serials:
            db.write(f"R\t301231000000Z\t260101000000Z\t{s.upper()}\tunknown\t/CN=device-{s}\n")
    with open(os.path.join(folder, "ca.cnf"), "w") as cnf:
        cnf.write("[ca]\ndefault_ca=CA\n[CA]\ndatabase=index.txt\ncrlnumber=crlnumber\n"
                  "certificate=ca.pem\nprivate_key=ca.key\ndefault_md=sha256\n"
                  "default_crl_days=7\n")
    with open(os.path.join(folder, "crlnumber"), "w") as n:
        n.write("01\n")
    run("openssl", "ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem", cwd=folder)


def index_json(serials):
    """The index as mtls publishes it (src/script/primitives/aws/authorizer/publish.rs)."""
    return json.dumps({"format": authorizer.INDEX_FORMAT,
                       "issuers": {ISSUER: sorted(s.lstrip("0") or "0" for s in serials)}})


COLD_MTLS = """
import sys, time
sys.path.insert(0, {dir!r})
t = time.perf_counter()
import authorizer
loaded = time.perf_counter()
body = open({path!r}, "rb").read()
revoked = authorizer.parse_index(body)
print((time.perf_counter() - loaded) * 1000, (loaded - t) * 1000)
"""

COLD_OPENSSL = """
import subprocess, time
t = time.perf_counter()
text = subprocess.run(["openssl", "crl", "-in", {path!r}, "-noout", "-text"],
                      check=True, capture_output=True, text=True).stdout
revoked = [line.split(":", 1)[1].strip() for line in text.splitlines()
           if line.strip().startswith("Serial Number:")]
print((time.perf_counter() - t) * 1000)
"""


def cold(code, rounds):
    """Median of each number the fresh process printed (ms)."""
    runs = [[float(x) for x in subprocess.run([sys.executable, "-c", code], check=True,
                                              capture_output=True, text=True).stdout.split()]
            for _ in range(rounds)]
    return [statistics.median(column) for column in zip(*runs)]


def colons(hex_serial):
    h = hex_serial if len(hex_serial) % 2 == 0 else "0" + hex_serial
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def events(serials, calls):
    """REQUEST events: half of them revoked serials, half fresh ones."""
    rng = random.Random(7)
    out = []
    for i in range(calls):
        s = rng.choice(serials) if i % 2 == 0 else f"{rng.getrandbits(127) | 1 << 126:x}"
        out.append({"methodArn": "arn:aws:execute-api:us-east-1:123456789012:a/prod/GET/pets",
                    "requestContext": {"identity": {"clientCert": {
                        "issuerDN": ISSUER, "serialNumber": colons(s)}}}})
    return out


def timed(decide, inputs):
    times = []
    clock = time.perf_counter_ns
    for x in inputs:
        t = clock()
        decide(x)
        times.append(clock() - t)
    times.sort()
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {subprocess.run(['openssl', 'version'], capture_output=True, text=True).stdout.strip()}")
    print("| revoked | cold start: mtls index (+ import of the authorizer) | cold start: openssl crl -text | decision median / p99: mtls | decision median / p99: openssl list (calls) |")
    print("|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        rng = random.Random(size)
        serials = [f"{rng.getrandbits(127) | 1 << 126:x}" for _ in range(size)]
        with tempfile.TemporaryDirectory() as folder:
            make_crl(folder, serials)
            index = os.path.join(folder, "revoked.json")
            with open(index, "w") as f:
                f.write(index_json(serials))
            crl = os.path.join(folder, "crl.pem")
            mtls_cold, mtls_import = cold(COLD_MTLS.format(dir=os.path.dirname(authorizer.__file__), path=index), args.rounds)
            (openssl_cold,) = cold(COLD_OPENSSL.format(path=crl), args.rounds)

            with open(index, "rb") as f:
                body = f.read()
            revocations = authorizer.RevocationList(lambda etag: (200, '"e"', body), 1e9)
            inputs = events(serials, args.calls)
            m_med, m_p99 = timed(lambda e: authorizer.decide(revocations, e), inputs)
            assert authorizer.decide(revocations, inputs[0])["policyDocument"]["Statement"][0]["Effect"] == "Deny"
            assert authorizer.decide(revocations, inputs[1])["policyDocument"]["Statement"][0]["Effect"] == "Allow"

            text = subprocess.run(["openssl", "crl", "-in", crl, "-noout", "-text"],
                                  check=True, capture_output=True, text=True).stdout
            revoked = [line.split(":", 1)[1].strip() for line in text.splitlines()
                       if line.strip().startswith("Serial Number:")]
            assert len(revoked) == size, (len(revoked), size)

            def user_decide(e):
                serial = e["requestContext"]["identity"]["clientCert"]["serialNumber"]
                return serial.replace(":", "").upper() in revoked

            # A list scan: at 100,000 entries each call takes milliseconds, so fewer calls.
            user_calls = min(args.calls, max(1000, 100_000_000 // size // 100))
            u_med, u_p99 = timed(user_decide, inputs[:user_calls])
            assert user_decide(inputs[0]) and not user_decide(inputs[1])
        print(f"| {size:,} | {mtls_cold:.1f} ms (+ {mtls_import:.0f} ms) | {openssl_cold:.1f} ms | {m_med:.2f} / {m_p99:.2f} us "
              f"| {u_med:.1f} / {u_p99:.1f} us ({user_calls:,}) |")


if __name__ == "__main__":
    main()

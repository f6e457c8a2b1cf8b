#!/usr/bin/env bash
# Benchmark: revoke one certificate in a fleet of COUNT (default 100,000) revoked-list
# entries: the new CRL signed and written. In one run, ROUNDS times each, alternating:
#
#   mtls:     mtls run revoke.rhai --var serial=NEW    (reads the list of COUNT entries,
#             checks its signature, adds one, signs and writes the next: COUNT + 1 entries)
#   openssl:  openssl ca -gencrl with an index.txt of COUNT + 1 revoked certificates
#             (what `openssl ca -revoke` then `-gencrl` leaves a user to run)
#
# Both start from the same list: openssl's CRL of COUNT entries, signed by the same RSA 4096
# root (the walkthrough's), which mtls takes as the list on disk.
#
#   MTLS_BIN=path/to/mtls COUNT=100000 ROUNDS=5 bash benches/revoke.sh
set -euo pipefail
MTLS_BIN=${MTLS_BIN:-target/release/mtls}
MTLS_BIN=$(realpath "$MTLS_BIN")
COUNT=${COUNT:-100000}
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# The root CA (RSA 4096, the walkthrough's) and one client, made by mtls.
"$MTLS_BIN" run issue_clients.rhai --var count=1 >/dev/null

# An openssl CA database with COUNT revoked certificates (random 16-byte serials).
mkdir oca
python3 - "$COUNT" <<'PY'
import os, sys
count = int(sys.argv[1])
with open("oca/index.txt", "w") as f:
    for _ in range(count):
        serial = bytearray(os.urandom(16)); serial[0] = (serial[0] & 0x7f) | 0x01
        f.write(f"R\t361231000000Z\t261201000000Z,keyCompromise\t{serial.hex().upper()}\tunknown\t/CN=device\n")
PY
echo 1000 > oca/crlnumber
cat > oca/ca.cnf <<'CNF'
[ca]
default_ca = d
[d]
database = oca/index.txt
crlnumber = oca/crlnumber
default_md = sha256
default_crl_days = 30
CNF
openssl ca -config oca/ca.cnf -gencrl -keyfile RootCA.key -cert RootCA.pem -out base.crl.pem 2>/dev/null
cp oca/index.txt base.index.txt
echo "list of $(openssl crl -in base.crl.pem -noout -text | grep -c 'Serial Number') entries, $(stat -c %s base.crl.pem) bytes"

# Each command's wall-clock and CPU (user + system) seconds: on a shared machine the
# CPU time is the steadier figure.
TIMEFORMAT='%R %U %S'
timed() { { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{printf "%s %.3f\n", $1, $2 + $3}'; }
mtls_wall=(); mtls_cpu=(); openssl_wall=(); openssl_cpu=()
for round in $(seq "$ROUNDS"); do
  serial=$(openssl rand -hex 16 | tr a-f A-F | sed 's/^./1/')
  # mtls: the list on disk has COUNT entries; one more is revoked.
  cp base.crl.pem RootCA.crl.pem
  read -r wall cpu < <(timed "$MTLS_BIN" run revoke.rhai --var "serial=$serial")
  mtls_wall+=("$wall"); mtls_cpu+=("$cpu")
  # openssl: the database has COUNT + 1 revoked entries; the CRL is made from it.
  cp base.index.txt oca/index.txt
  printf 'R\t361231000000Z\t261202000000Z,keyCompromise\t%s\tunknown\t/CN=device\n' "$serial" >> oca/index.txt
  read -r wall cpu < <(timed openssl ca -config oca/ca.cnf -gencrl -keyfile RootCA.key -cert RootCA.pem -out openssl.crl.pem)
  openssl_wall+=("$wall"); openssl_cpu+=("$cpu")
  # Both lists verify against the root, and mtls's holds the new serial.
  for f in RootCA.crl.pem openssl.crl.pem; do
    openssl crl -in "$f" -noout -verify -CAfile RootCA.pem 2>&1 | grep -q 'verify OK'
  done
  openssl crl -in RootCA.crl.pem -noout -text | grep -q "Serial Number: $serial"
  echo "round $round: mtls ${mtls_wall[-1]} s (cpu ${mtls_cpu[-1]} s), openssl ${openssl_wall[-1]} s (cpu ${openssl_cpu[-1]} s)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${mtls_wall[@]}"); ow=$(median "${openssl_wall[@]}")
mc=$(median "${mtls_cpu[@]}"); oc=$(median "${openssl_cpu[@]}")
echo "median wall: mtls $mw s, openssl ca -gencrl $ow s, ratio mtls/openssl $(echo "scale=2; $mw / $ow" | bc)"
echo "median cpu:  mtls $mc s, openssl ca -gencrl $oc s, ratio mtls/openssl $(echo "scale=2; $mc / $oc" | bc)"

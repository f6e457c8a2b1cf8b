"""The revocation authorizer mtls deploys: an API Gateway Lambda REQUEST authorizer that
denies a client certificate its CA revoked.

API Gateway's mutual TLS only checks that a client certificate chains to the truststore; it
does not check revocation, and forwards the certificate to Lambda authorizers instead
(API Gateway developer guide, rest-api-mutual-tls: "API Gateway forwards the certificates
that clients provide to Lambda authorizers and to backend integrations"). A REQUEST
authorizer's event carries it as requestContext.identity.clientCert: clientCertPem,
subjectDN, issuerDN, serialNumber ("a1:a1:...", hex bytes) and validity (API Gateway
developer guide, api-gateway-lambda-authorizer-input, "REQUEST input format").

The list is the index mtls publishes beside the truststore (JSON:
{"format": "mtls-revocation-index/1", "issuers": {issuer DN: [serials in hex]}}), built from
the CAs' CRLs after mtls checked each CRL's signature. It is read at cold start and read
again with a conditional GET (If-None-Match: the ETag) at most every
MTLS_REVOCATION_TTL_SECONDS, so a revocation reaches a warm function within that time.

Standard library only (Python 3.12 runtime): the S3 read is signed here with the
function's role credentials (Signature Version 4), so the zip is this one file.
"""

import bisect
import datetime
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

INDEX_FORMAT = "mtls-revocation-index/1"


def canonical_issuer(dn):
    """An issuer DN in one spelling, whatever order and spacing its RDNs came in.

    API Gateway's documentation shows no grammar for issuerDN (its example is "Example
    issuer"), so the published index and the event are both brought to this form: the
    comma-separated attributes, trimmed and sorted.
    """
    return ",".join(sorted(p.strip() for p in dn.split(",") if p.strip()))


def canonical_serial(serial):
    """A serial number as lowercase hex without separators or leading zeros
    ("0a:1b" -> "a1b"), the form the index holds."""
    s = serial.replace(":", "").strip().lower().lstrip("0")
    return s or "0"


def parse_index(body):
    """The published index -> {canonical issuer: sorted list of canonical serials}.

    A sorted list, searched by bisection, rather than a set: building a set of 100,000
    strings costs twice the JSON parse at a cold start, and a bisection of 100,000 entries
    is 17 comparisons. mtls writes the serials sorted; sorting them again here costs one
    pass over a sorted list, and keeps a hand-edited list correct.
    """
    index = json.loads(body)
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise ValueError(f"not an {INDEX_FORMAT} document")
    by_issuer = {}
    for issuer, serials in index["issuers"].items():
        serials.sort()
        by_issuer[canonical_issuer(issuer)] = serials
    return by_issuer


def _contains(sorted_list, item):
    i = bisect.bisect_left(sorted_list, item)
    return i < len(sorted_list) and sorted_list[i] == item


class RevocationList:
    """The revoked serials by issuer, re-read when the S3 object changes.

    `fetch(etag)` returns (status, etag, body): 304 when the object still has `etag`.
    """

    def __init__(self, fetch, ttl_seconds, clock=time.monotonic):
        self._fetch = fetch
        self._ttl = ttl_seconds
        self._clock = clock
        self._by_issuer = None
        self._etag = None
        self._checked_at = None
        # issuerDN as API Gateway wrote it -> its canonical form (a handful of CAs).
        self._issuers = {}

    @property
    def loaded(self):
        return self._by_issuer is not None

    def refresh(self):
        """Reads the list when it is due (cold start, or the TTL passed)."""
        now = self._clock()
        if self._checked_at is not None and now - self._checked_at < self._ttl:
            return
        status, etag, body = self._fetch(self._etag if self.loaded else None)
        self._checked_at = now
        if status == 304 and self.loaded:
            return
        self._by_issuer = parse_index(body)
        self._etag = etag

    def is_revoked(self, issuer_dn, serial_number):
        issuer = self._issuers.get(issuer_dn)
        if issuer is None:
            issuer = self._issuers[issuer_dn] = canonical_issuer(issuer_dn)
        serials = self._by_issuer.get(issuer)
        return serials is not None and _contains(serials, canonical_serial(serial_number))


def _sign(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def signed_headers(host, path, region, environ, now, extra=None):
    """The headers of a GET of `path` on `host` (S3), signed with Signature Version 4
    (Amazon S3 API reference, "Authenticating Requests (AWS Signature Version 4)"), with
    the role's credentials from `environ`; `extra` headers are signed too."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    headers = {"host": host, "x-amz-content-sha256": EMPTY_SHA256, "x-amz-date": amz_date}
    headers.update(extra or {})
    token = environ.get("AWS_SESSION_TOKEN")
    if token:
        headers["x-amz-security-token"] = token
    names = sorted(headers)
    signed = ";".join(names)
    canonical = "\n".join(
        ["GET", path, ""] + [f"{k}:{headers[k]}" for k in names] + ["", signed, EMPTY_SHA256]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _sign(("AWS4" + environ["AWS_SECRET_ACCESS_KEY"]).encode(), day)
    for part in (region, "s3", "aws4_request"):
        key = _sign(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={environ['AWS_ACCESS_KEY_ID']}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    return headers


def s3_fetcher(bucket, key, region, environ=os.environ):
    """A conditional GET of s3://bucket/key (GetObject's If-None-Match answers 304 Not
    Modified while the ETag is the same: Amazon S3 API reference, GetObject)."""
    # Virtual-hosted style, except for bucket names with dots (their TLS names would not match).
    quoted = urllib.parse.quote(key, safe="/-_.~")
    if "." in bucket:
        host, path = f"s3.{region}.amazonaws.com", f"/{bucket}/{quoted}"
    else:
        host, path = f"{bucket}.s3.{region}.amazonaws.com", f"/{quoted}"

    def fetch(etag):
        now = datetime.datetime.now(datetime.timezone.utc)
        headers = signed_headers(host, path, region, environ, now)
        if etag:
            headers["if-none-match"] = etag
        request = urllib.request.Request(f"https://{host}{path}", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status, answer.headers.get("ETag"), answer.read()
        except urllib.error.HTTPError as e:
            if e.code == 304:
                return 304, etag, b""
            raise

    return fetch


def policy(principal, effect, method_arn, context):
    """The authorizer's answer (API Gateway developer guide,
    api-gateway-lambda-authorizer-output): Deny makes API Gateway answer 403."""
    return {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}
            ],
        },
        "context": context,
    }


def decide(revocations, event):
    """Allow a request whose client certificate is not revoked; deny every other."""
    method_arn = event.get("methodArn", "*")
    identity = (event.get("requestContext") or {}).get("identity") or {}
    cert = identity.get("clientCert") or {}
    issuer, serial = cert.get("issuerDN"), cert.get("serialNumber")
    if not issuer or not serial:
        return policy("anonymous", "Deny", method_arn, {"reason": "no client certificate"})
    try:
        revocations.refresh()
    except Exception as e:  # the list is unreadable: an old copy still decides
        print(f"mtls: could not read the revocation list: {e!r}")
    if not revocations.loaded:
        # Fail closed: without the list, no certificate can be shown not to be revoked.
        return policy(serial, "Deny", method_arn, {"reason": "revocation list unavailable"})
    if revocations.is_revoked(issuer, serial):
        return policy(serial, "Deny", method_arn, {"reason": "certificate revoked"})
    return policy(serial, "Allow", method_arn, {"serialNumber": serial})


_REVOCATIONS = None


def handler(event, context):
    """The Lambda entry point (authorizer.handler)."""
    global _REVOCATIONS
    if _REVOCATIONS is None:
        env = os.environ
        fetch = s3_fetcher(
            env["MTLS_REVOCATION_BUCKET"], env["MTLS_REVOCATION_KEY"], env["AWS_REGION"]
        )
        ttl = float(env.get("MTLS_REVOCATION_TTL_SECONDS", "30"))
        _REVOCATIONS = RevocationList(fetch, ttl)
    return decide(_REVOCATIONS, event)

"""Unit tests of the revocation authorizer with API Gateway REQUEST events (run by
tests/aws_revocation.rs: python3 -m unittest discover -s authorizer)."""

import json
import unittest

import authorizer

ROOT = "C=JP,ST=Tokyo,O=Example,CN=mtls root CA"
OTHER = "C=JP,ST=Tokyo,O=Example,CN=another CA"


def index(by_issuer):
    return json.dumps({"format": authorizer.INDEX_FORMAT, "issuers": by_issuer}).encode()


class StubS3:
    """The S3 object: a body and its ETag; answers 304 to its own ETag."""

    def __init__(self, body):
        self.put(body)
        self.reads = 0

    def put(self, body):
        self.body = body
        self.etag = f'"{hash(body)}"'

    def fetch(self, etag):
        self.reads += 1
        if etag == self.etag:
            return 304, etag, b""
        return 200, self.etag, self.body


def event(issuer=ROOT, serial="1a:2b:3c", cert=True):
    """A REQUEST authorizer event as API Gateway sends it for a mutual TLS domain (API
    Gateway developer guide, api-gateway-lambda-authorizer-input)."""
    identity = {"sourceIp": "203.0.113.1"}
    if cert:
        identity["clientCert"] = {
            "clientCertPem": "-----BEGIN CERTIFICATE-----\n...",
            "subjectDN": "C=JP,ST=Tokyo,O=Example,CN=mtls client",
            "issuerDN": issuer,
            "serialNumber": serial,
            "validity": {"notBefore": "May 28 12:30:02 2019 GMT", "notAfter": "Aug  5 09:36:04 2121 GMT"},
        }
    return {
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/pets",
        "resource": "/pets",
        "path": "/pets",
        "httpMethod": "GET",
        "headers": {},
        "requestContext": {"identity": identity, "stage": "prod"},
    }


def effect(answer):
    return answer["policyDocument"]["Statement"][0]["Effect"]


class Decisions(unittest.TestCase):
    def setUp(self):
        # Not sorted, as a hand-edited list might be.
        self.s3 = StubS3(index({ROOT: ["ff", "1a2b3c"]}))
        self.clock = [0.0]
        self.list = authorizer.RevocationList(self.s3.fetch, 30, clock=lambda: self.clock[0])

    def decide(self, e):
        return authorizer.decide(self.list, e)

    def test_a_certificate_not_revoked_is_allowed(self):
        answer = self.decide(event(serial="1a:2b:3d"))
        self.assertEqual(effect(answer), "Allow")
        self.assertEqual(
            answer["policyDocument"]["Statement"][0]["Resource"], event()["methodArn"]
        )

    def test_a_revoked_certificate_is_denied(self):
        self.assertEqual(effect(self.decide(event(serial="1a:2b:3c"))), "Deny")
        # Leading zero bytes and upper case are the same serial.
        self.assertEqual(effect(self.decide(event(serial="00:FF"))), "Deny")

    def test_the_same_serial_from_another_issuer_is_allowed(self):
        self.assertEqual(effect(self.decide(event(issuer=OTHER, serial="1a:2b:3c"))), "Allow")

    def test_the_issuer_matches_whatever_its_rdn_order_and_spacing(self):
        reversed_dn = "CN=mtls root CA, O=Example, ST=Tokyo, C=JP"
        self.assertEqual(effect(self.decide(event(issuer=reversed_dn))), "Deny")

    def test_no_client_certificate_is_denied(self):
        self.assertEqual(effect(self.decide(event(cert=False))), "Deny")
        self.assertEqual(self.s3.reads, 0)

    def test_a_list_changed_in_s3_is_used_by_the_next_decision_after_the_ttl(self):
        self.assertEqual(effect(self.decide(event(serial="07"))), "Allow")
        self.s3.put(index({ROOT: ["1a2b3c", "ff", "7"]}))
        # Within the TTL the cached list decides, without a read.
        self.clock[0] = 29.0
        self.assertEqual(effect(self.decide(event(serial="07"))), "Allow")
        self.assertEqual(self.s3.reads, 1)
        self.clock[0] = 30.0
        self.assertEqual(effect(self.decide(event(serial="07"))), "Deny")
        self.assertEqual(self.s3.reads, 2)

    def test_an_unchanged_list_is_not_read_again(self):
        self.decide(event())
        self.clock[0] = 100.0
        self.decide(event())
        self.assertEqual(self.s3.reads, 2)
        # The second read was conditional and answered 304: the list was kept.
        self.assertEqual(effect(self.decide(event(serial="1a:2b:3c"))), "Deny")

    def test_an_unreadable_list_denies_until_it_can_be_read(self):
        def broken(etag):
            raise OSError("S3 unreachable")

        fail_closed = authorizer.RevocationList(broken, 30)
        self.assertEqual(effect(authorizer.decide(fail_closed, event(serial="01"))), "Deny")

    def test_an_unreadable_refresh_keeps_the_list_it_has(self):
        self.decide(event())
        self.clock[0] = 100.0
        def broken(etag):
            raise OSError("S3 unreachable")

        self.list._fetch = broken
        self.assertEqual(effect(self.decide(event(serial="1a:2b:3c"))), "Deny")
        self.assertEqual(effect(self.decide(event(serial="01"))), "Allow")

    def test_a_document_of_another_format_is_refused(self):
        with self.assertRaises(ValueError):
            authorizer.parse_index(b'{"issuers": {}}')


class Signing(unittest.TestCase):
    def test_the_s3_signature_is_aws_s_own_example(self):
        # Amazon S3 API reference, "Signature Calculations for the Authorization Header:
        # Transferring Payload in a Single Chunk", Example: GET Object.
        import datetime

        headers = authorizer.signed_headers(
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            "us-east-1",
            {
                "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            },
            datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc),
            {"range": "bytes=0-9"},
        )
        self.assertEqual(
            headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        )


if __name__ == "__main__":
    unittest.main()

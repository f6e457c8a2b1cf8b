//! A `moto_server` on 127.0.0.1 for one test, installed on first use.
//!
//! The version is the one pinned in `.ci/moto-requirements.txt`; it is installed into a venv
//! at `$MTLS_MOTO_VENV`, or `target/moto-venv` under the crate, once (a lock directory keeps
//! parallel test processes from installing twice). Each [`Moto`] is a fresh server with empty
//! state, recording every request it gets to a file that [`Moto::recorded_requests`] reads.
//!
//! Every recording is checked for private key material (see [`super::key_scan`]): no key may
//! reach AWS except in ACM ImportCertificate's `PrivateKey` field. [`Moto`]'s drop panics when
//! one did (unless the test is already panicking), and so does [`Moto::reset_recording`] for
//! the requests it would forget; [`Moto::scan_for_key_material`] runs the check on demand.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use base64::Engine as _;

use super::key_scan::find_key_material;
use super::timing::secs;
use super::venv;

/// Dummy credentials and region that moto accepts.
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";
pub const REGION: &str = "us-east-1";
/// The account id moto uses by default.
pub const ACCOUNT_ID: &str = "123456789012";

/// Runs `moto_server` (its `main`, with the same arguments) after nine fixes to moto 5.2.5
/// (eight in API Gateway, one in ACM), so that it answers as AWS does for the calls mtls makes:
/// - `ImportRestApi` fails with HTTP 500 when an `x-amazon-apigateway-integration` has no
///   `uri` or `httpMethod`, which AWS does not require for MOCK integrations (PetStore's are
///   MOCK): empty values are supplied.
/// - `CreateDomainName` drops `mutualTlsAuthentication` and
///   `ownershipVerificationCertificateArn`: they are kept and returned by `GetDomainName`
///   (without this a second run could never see its domain as up to date).
/// - `CreateDomainName` of a name that exists overwrites it silently; AWS answers HTTP 409
///   ConflictException (API Gateway API reference, CreateDomainName, Errors), which is what
///   a create that took effect and was sent again must meet.
/// - `UpdateDomainName` is missing (HTTP 500): `replace` of the truststore uri/version, the
///   regional and the ownership verification certificate ARNs and the security policy is
///   implemented; any other path or op is refused with HTTP 400 BadRequestException, as AWS
///   refuses a patch path or op it does not support for the resource (API Gateway API
///   reference, PatchOperation and UpdateDomainName's Errors; the supported paths are in the
///   REST API reference's domainname:update table and the developer guide's
///   rest-api-mutual-tls). The paths AWS documents that no test needs (the edge certificate,
///   the names, the endpoint type) answer HTTP 500 "not modelled": never a pretend success.
/// - `UpdateRestApi` stores `bool(value)` for `/disableExecuteApiEndpoint`, so the string
///   "false" (what every SDK sends: patch values are strings) turns the endpoint *off*. AWS
///   reads "true"/"false" whatever their case (the developer guide's
///   rest-api-disable-default-endpoint sends `value='True'`); any other value is refused
///   with HTTP 400 here (what AWS does with one is not documented: no test may rely on it).
/// - `GetBasePathMappings` fails with HTTP 500 for a domain that never had a mapping: every
///   new domain gets its empty mapping table.
/// - ACM `ImportCertificate` over an existing ARN (a re-import) replaces the certificate
///   with one that has no tags; AWS keeps a re-imported certificate's tags (and refuses new
///   ones): they are carried over.
/// - `UpdateMethod` is missing (HTTP 500): `replace` of `/authorizationType` and
///   `/authorizerId` (how mtls attaches the revocation authorizer) is implemented, with
///   AWS's refusal of an authorizer id the API does not have (HTTP 400, "Invalid authorizer
///   ID specified"); any other path or op is refused with HTTP 400 (API Gateway API
///   reference, UpdateMethod and PatchOperation).
/// - API Gateway `TagResource` (and `GetTags`) work on stages only; AWS tags REST APIs and
///   custom domains by their ARNs too (adoption tags them): both are modelled.
///
/// Requests are still recorded as they arrived, before any of this runs.
const SERVER_SHIM: &str = r#"
import json
import sys
from urllib.parse import unquote

import moto.apigateway.models as models
import moto.apigateway.responses as responses

_build_integration_args = models.APIGatewayBackend._build_integration_args

def _with_mock_defaults(self, integration):
    args = _build_integration_args(self, integration)
    if args.get("uri") is None:
        args["uri"] = ""
    if args.get("integration_method") is None:
        args["integration_method"] = ""
    return args

models.APIGatewayBackend._build_integration_args = _with_mock_defaults

_domain_to_json = models.DomainName.to_json

def _domain_to_json_with_mtls(self):
    result = _domain_to_json(self)
    mtls = getattr(self, "mtls_mutual_tls", None)
    if mtls:
        result["mutualTlsAuthentication"] = dict(mtls)
    arn = getattr(self, "mtls_ownership_arn", None)
    if arn:
        result["ownershipVerificationCertificateArn"] = arn
    return result

models.DomainName.to_json = _domain_to_json_with_mtls

_create_domain_name = responses.APIGatewayResponse.create_domain_name

def _create_domain_name_with_mtls(self):
    status, headers, _ = _create_domain_name(self)
    domain = self.backend.get_domain_name(self._get_param("domainName"))
    mtls = self._get_param("mutualTlsAuthentication")
    if mtls:
        kept = {k: v for k, v in mtls.items() if k in ("truststoreUri", "truststoreVersion")}
        kept["truststoreWarnings"] = []
        domain.mtls_mutual_tls = kept
    domain.mtls_ownership_arn = self._get_param("ownershipVerificationCertificateArn")
    return status, headers, json.dumps(domain.to_json())

responses.APIGatewayResponse.create_domain_name = _create_domain_name_with_mtls

from moto.apigateway.exceptions import BadRequestException, ConflictException
from moto.core.exceptions import JsonRESTError

class _NotModelled(JsonRESTError):
    code = 500

# The DomainName paths UpdateDomainName replaces here; AWS supports only `replace` on them.
_DOMAIN_PATHS = (
    "/mutualTlsAuthentication/truststoreUri",
    "/mutualTlsAuthentication/truststoreVersion",
    "/regionalCertificateArn",
    "/ownershipVerificationCertificateArn",
    "/securityPolicy",
)
# Paths AWS documents for a domain that this shim does not model.
_DOMAIN_PATHS_NOT_MODELLED = (
    "/certificateName",
    "/certificateArn",
    "/regionalCertificateName",
    "/endpointConfiguration/types",
)

def _check_domain_patch(ops):
    """Every op must be a replace of a supported path, before any is applied."""
    for op in ops:
        path, kind = op.get("path", ""), op.get("op")
        if path in _DOMAIN_PATHS_NOT_MODELLED:
            raise _NotModelled(
                "InternalFailure",
                f"UpdateDomainName {kind} {path}: not modelled by the mtls test shim (tests/support/moto.rs)",
            )
        if path not in _DOMAIN_PATHS or kind != "replace":
            raise BadRequestException(
                f"Invalid patch path '{path}' specified for op '{kind}'. "
                f"Must be one of: [{', '.join(_DOMAIN_PATHS)}] with op 'replace'"
            )

def _update_domain_name(self):
    domain = self.backend.get_domain_name(unquote(self.path.split("/")[2]))
    ops = self._get_param("patchOperations") or []
    _check_domain_patch(ops)
    for op in ops:
        path, value = op.get("path", ""), op.get("value")
        if path in ("/mutualTlsAuthentication/truststoreUri", "/mutualTlsAuthentication/truststoreVersion"):
            mtls = getattr(domain, "mtls_mutual_tls", None) or {"truststoreWarnings": []}
            mtls[path.rsplit("/", 1)[1]] = value
            domain.mtls_mutual_tls = mtls
        elif path == "/regionalCertificateArn":
            domain.regional_certificate_arn = value
        elif path == "/ownershipVerificationCertificateArn":
            domain.mtls_ownership_arn = value
        elif path == "/securityPolicy":
            domain.security_policy = value
    return 200, {}, json.dumps(domain.to_json())

responses.APIGatewayResponse.update_domain_name = _update_domain_name

# moto 5.2.5 answers GetBasePathMappings (and GetBasePathMapping) with HTTP 500 for a domain
# that never had a mapping (a KeyError); AWS answers an empty list (or 404). Give every new
# domain its empty mapping table.
_backend_create_domain_name = models.APIGatewayBackend.create_domain_name

def _create_domain_name_with_mappings(self, domain_name, *args, **kwargs):
    # moto overwrites an existing domain; AWS refuses the create (HTTP 409).
    if domain_name in self.domain_names:
        raise ConflictException("The domain name you provided already exists.")
    domain = _backend_create_domain_name(self, domain_name, *args, **kwargs)
    self.base_path_mappings.setdefault(domain_name, {})
    return domain

models.APIGatewayBackend.create_domain_name = _create_domain_name_with_mappings

# moto 5.2.5 stores bool(value) for /disableExecuteApiEndpoint: the string "false" would
# turn the endpoint off. AWS reads "true"/"false" (any case); values are turned into booleans
# before moto sees them, and anything else is refused.
_apply_rest_api_patch = models.RestAPI.apply_patch_operations

def _endpoint_flag(value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        raise BadRequestException(
            f"Invalid value '{value}' for /disableExecuteApiEndpoint: must be true or false"
        )
    return text == "true"

def _apply_rest_api_patch_reading_booleans(self, patch_operations):
    ops = []
    for op in patch_operations:
        if op.get("path") == "/disableExecuteApiEndpoint" and op.get("op") == "replace":
            op = dict(op, value=_endpoint_flag(op.get("value")))
        ops.append(op)
    return _apply_rest_api_patch(self, ops)

models.RestAPI.apply_patch_operations = _apply_rest_api_patch_reading_booleans

# moto 5.2.5 replaces a re-imported certificate by a new, untagged one; AWS keeps the tags
# of a certificate re-imported over its ARN.
import moto.acm.models as acm_models

_import_certificate = acm_models.AWSCertificateManagerBackend.import_certificate

def _import_certificate_keeping_tags(self, certificate, private_key, chain, arn, tags):
    old = self._certificates.get(arn) if arn is not None else None
    new_arn = _import_certificate(self, certificate, private_key, chain, arn, tags)
    if old is not None:
        self._certificates[new_arn].tags = old.tags
    return new_arn

acm_models.AWSCertificateManagerBackend.import_certificate = _import_certificate_keeping_tags

# moto 5.2.5 has no UpdateMethod: the two paths that attach an authorizer are implemented.
_METHOD_PATHS = ("/authorizationType", "/authorizerId")

def _update_method(self):
    parts = self.path.split("/")
    api_id, resource_id, http_method = parts[2], parts[4], parts[6]
    method = self.backend.get_method(api_id, resource_id, http_method)
    ops = self._get_param("patchOperations") or []
    for op in ops:
        if op.get("path") not in _METHOD_PATHS or op.get("op") != "replace":
            raise BadRequestException(
                f"Invalid patch path '{op.get('path')}' specified for op '{op.get('op')}' "
                "(modelled by the mtls test shim: replace /authorizationType, /authorizerId)"
            )
        if op["path"] == "/authorizerId":
            ids = [a.id for a in self.backend.get_authorizers(api_id)]
            if op.get("value") not in ids:
                raise BadRequestException("Invalid authorizer ID specified")
    for op in ops:
        if op["path"] == "/authorizationType":
            method.authorization_type = op.get("value")
        else:
            method.authorizer_id = op.get("value")
    if method.authorization_type != "CUSTOM":
        method.authorizer_id = None
    return 200, {}, json.dumps(method.to_json())

responses.APIGatewayResponse.update_method = _update_method

# moto 5.2.5 tags only stages (TagResource takes the stage's ARN apart); AWS tags REST APIs
# and custom domains by their ARNs too (API Gateway API reference, TagResource; the ARN
# formats are in the developer guide's arn-format-reference), which adoption uses.
import moto.apigateway.urls as apigateway_urls

apigateway_urls.url_paths[
    "{0}/tags/arn:(?P<partition>[^/]+):apigateway:(?P<region_name>[^/]+)::/(?P<mtls_kind>restapis|domainnames)/(?P<mtls_id>[^/]+)$"
] = responses.APIGatewayResponse.dispatch

def _tagged_resource(self):
    arn = unquote(self.path.split("/tags/", 1)[1])
    path = arn.split("::", 1)[1] if "::" in arn else ""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "restapis":
        return self.backend.get_rest_api(parts[1])
    if len(parts) == 2 and parts[0] == "domainnames":
        return self.backend.get_domain_name(parts[1])
    return None

_tag_resource = responses.APIGatewayResponse.tag_resource
_get_tags = responses.APIGatewayResponse.get_tags

def _tag_resource_of_any_kind(self):
    resource = _tagged_resource(self)
    if resource is None:
        return _tag_resource(self)
    tags = self._get_param("tags") or {}
    resource.tags = dict(resource.tags or {}, **tags)
    return json.dumps({})

def _get_tags_of_any_kind(self):
    resource = _tagged_resource(self)
    if resource is None:
        return _get_tags(self)
    return json.dumps({"tags": resource.tags or {}})

responses.APIGatewayResponse.tag_resource = _tag_resource_of_any_kind
responses.APIGatewayResponse.get_tags = _get_tags_of_any_kind

from moto.server import main
sys.exit(main(sys.argv[1:]))
"#;

/// A running moto_server; killed on drop, after which its recording is checked for private
/// key material (a panic names the request; see [`Moto::scan_for_key_material`]).
pub struct Moto {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// How many recorded requests the test has had checked with
    /// [`Moto::scan_for_key_material`]: [`Moto::reset_recording`] leaves those to the test.
    scanned_by_test: AtomicUsize,
}

/// One request as moto recorded it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The URL path, still percent-encoded (`/domainnames/api.example.com`).
    pub path: String,
    /// The query string without `?` (empty when none).
    pub query: String,
    /// Headers, names lowercased.
    pub headers: BTreeMap<String, String>,
    /// The body, decoded from base64 when moto stored it so.
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON (REST-JSON and JSON-1.1 services: API Gateway, ACM).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The operation of an RPC-style request: the `X-Amz-Target` of JSON protocols
    /// (`CertificateManager.DescribeCertificate` -> `DescribeCertificate`) or the `Action` of
    /// query protocols (STS). `None` for REST-style services (S3, API Gateway, Route 53).
    pub fn rpc_action(&self) -> Option<String> {
        if let Some(target) = self.headers.get("x-amz-target") {
            return target.rsplit('.').next().map(str::to_string);
        }
        let form = if self.method == "POST" {
            self.body_text()
        } else {
            self.query.clone()
        };
        form.split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
            .map(str::to_string)
    }

    /// Whether this is ACM's ImportCertificate, whose `PrivateKey` field is the one place a
    /// private key may be sent.
    pub fn is_acm_import_certificate(&self) -> bool {
        self.rpc_action().as_deref() == Some("ImportCertificate")
            && self
                .headers
                .get("x-amz-target")
                .is_some_and(|t| t.starts_with("CertificateManager."))
    }

    /// Private key material in this request (path, query, headers or body), described without
    /// the key; ACM ImportCertificate's `PrivateKey` field is left out (its `Certificate` and
    /// `CertificateChain` are scanned: a key appended to a certificate file would hide there).
    pub fn key_material(&self) -> Option<String> {
        if let Some(found) = find_key_material(self.path.as_bytes()) {
            return Some(format!("in the URL path: {found}"));
        }
        if let Some(found) = find_key_material(self.query.as_bytes()) {
            return Some(format!("in the query string: {found}"));
        }
        for (name, value) in &self.headers {
            if let Some(found) = find_key_material(value.as_bytes()) {
                return Some(format!("in header {name}: {found}"));
            }
        }
        if self.is_acm_import_certificate() {
            if let Ok(serde_json::Value::Object(mut fields)) =
                serde_json::from_slice::<serde_json::Value>(&self.body)
            {
                fields.remove("PrivateKey");
                let rest = serde_json::to_vec(&fields).unwrap_or_default();
                return find_key_material(&rest)
                    .map(|found| format!("in the body besides PrivateKey: {found}"));
            }
            // Not a JSON object: nothing can be told apart, so the whole body is scanned.
        }
        if let Some(found) = find_key_material(&self.body) {
            return Some(format!("in the body: {found}"));
        }
        let chunked = self
            .headers
            .get("content-encoding")
            .is_some_and(|e| e.contains("aws-chunked"));
        if chunked {
            if let Some(found) = aws_chunked_payload(&self.body).and_then(|p| find_key_material(&p))
            {
                return Some(format!("in the aws-chunked body: {found}"));
            }
        }
        None
    }

    /// `METHOD path (Action)` for messages; the path is withheld when it holds key material,
    /// and the action is left out unless it looks like one (a name of letters and digits).
    pub fn describe(&self) -> String {
        let path = if find_key_material(self.path.as_bytes()).is_some() {
            "<path withheld>".to_string()
        } else if self.path.chars().count() > 120 {
            format!("{}...", self.path.chars().take(120).collect::<String>())
        } else {
            self.path.clone()
        };
        match self.rpc_action() {
            Some(action)
                if action.len() <= 64 && action.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                format!("{} {path} ({action})", self.method)
            }
            _ => format!("{} {path}", self.method),
        }
    }

    /// Whether the request changes state. REST-style calls are judged by method (anything but
    /// GET and HEAD); RPC-style ones (ACM, STS) are all POSTs, so they are judged by action
    /// name (`Describe*`, `List*`, `Get*` read).
    pub fn is_mutating(&self) -> bool {
        if self.method == "GET" || self.method == "HEAD" {
            return false;
        }
        match self.rpc_action() {
            Some(action) => !["Describe", "List", "Get"]
                .iter()
                .any(|p| action.starts_with(p)),
            None => true,
        }
    }
}

/// Whether `requests` turn REST API `api_id`'s default endpoint off (UpdateRestApi
/// `replace /disableExecuteApiEndpoint` "true") and deploy a stage of it afterwards: the
/// setting takes effect only with a deployment (API Gateway developer guide,
/// rest-api-disable-default-endpoint). `Err` says which half is missing.
pub fn endpoint_turned_off_then_deployed(
    requests: &[RecordedRequest],
    api_id: &str,
) -> Result<(), String> {
    let api_path = format!("/restapis/{api_id}");
    let turns_off = |r: &RecordedRequest| {
        r.method == "PATCH"
            && r.path == api_path
            && r.body_json()["patchOperations"]
                .as_array()
                .is_some_and(|ops| {
                    ops.iter().any(|o| {
                        o["op"] == "replace"
                            && o["path"] == "/disableExecuteApiEndpoint"
                            && o["value"] == "true"
                    })
                })
    };
    let Some(off) = requests.iter().rposition(turns_off) else {
        return Err(format!(
            "no UpdateRestApi turned {api_id}'s default endpoint off"
        ));
    };
    let deployments = format!("{api_path}/deployments");
    if requests[off..]
        .iter()
        .any(|r| r.method == "POST" && r.path == deployments)
    {
        Ok(())
    } else {
        Err(format!(
            "no CreateDeployment of {api_id} after its default endpoint was turned off"
        ))
    }
}

impl Moto {
    /// Installs moto when needed, starts a server on a free loopback port and waits until it
    /// answers. Panics with the reason (no python3, no network for pip, ...) when it cannot.
    pub fn start() -> Moto {
        Self::start_with(&[])
    }

    /// [`Moto::start`] with extra environment for the server, e.g.
    /// `INITIAL_NO_AUTH_ACTION_COUNT=0` to make moto check credentials like AWS does.
    pub fn start_with(server_env: &[(&str, &str)]) -> Moto {
        set_process_env();
        let server = ensure_installed();
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::spawn(&server, server_env) {
                Ok(moto) => return moto,
                Err(e) => last_error = e,
            }
        }
        panic!("moto_server did not start: {last_error}");
    }

    fn spawn(server: &Path, server_env: &[(&str, &str)]) -> Result<Moto, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let recording = dir.path().join("recording.jsonl");
        fs::write(&recording, "").map_err(|e| e.to_string())?;
        let log = fs::File::create(dir.path().join("moto.log")).map_err(|e| e.to_string())?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(server.with_file_name("python"))
            .args([
                "-c",
                &with_s3_versioning_patch(SERVER_SHIM),
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("MOTO_ACM_VALIDATION_WAIT", "1")
            .env("MOTO_ENABLE_RECORDING", "true")
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_DEFAULT_REGION", REGION)
            .envs(server_env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", server.display()))?;
        let mut moto = Moto {
            child,
            port,
            dir,
            scanned_by_test: AtomicUsize::new(0),
        };
        let deadline = Instant::now() + secs(60.0);
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("it exited with {status}; log:\n{}", moto.log()));
            }
            if moto.answers() {
                return Ok(moto);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer on port {port} within {:?}; log:\n{}",
                    secs(60.0),
                    moto.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the server answers HTTP (a recorder URL, which moto does not record).
    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(secs(5.0)));
        let request = format!(
            "GET /moto-api/recorder/download-recording HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            self.port
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Settings for `Aws::connect` in this process (credentials come from the environment,
    /// which [`Moto::start`] sets).
    pub fn settings(&self) -> mtls::aws::AwsSettings {
        mtls::aws::AwsSettings {
            profile: None,
            region: Some(REGION.to_string()),
            endpoint_url: Some(self.endpoint_url()),
        }
    }

    /// Environment for running the `mtls` binary against this server.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = isolation_env()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.push(("AWS_ENDPOINT_URL".to_string(), self.endpoint_url()));
        env
    }

    /// Every request recorded so far, in order.
    pub fn recorded_requests(&self) -> Vec<RecordedRequest> {
        let text = fs::read_to_string(self.dir.path().join("recording.jsonl")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(parse_recorded)
            .collect()
    }

    /// Forgets what was recorded so far (e.g. after a test's setup).
    ///
    /// The requests it forgets are checked for private key material first, as the drop would
    /// have checked them, and it panics when one holds some — except for the requests that
    /// the test already had checked with [`Moto::scan_for_key_material`]: a test that means
    /// to send a key (to prove the check works) scans, asserts, then resets.
    #[track_caller]
    pub fn reset_recording(&self) {
        let requests = self.recorded_requests();
        let scanned = self.scanned_by_test.swap(0, Ordering::SeqCst);
        let findings = scan_requests(&requests, scanned.min(requests.len()));
        let _ = fs::write(self.dir.path().join("recording.jsonl"), "");
        if !findings.is_empty() && !std::thread::panicking() {
            panic!("{}", key_material_message(&findings));
        }
    }

    /// Private key material in the requests recorded so far, one description per request
    /// that holds some (`#index METHOD path (Action): where and what`, never the key);
    /// empty when the recording is clean. The rules are [`RecordedRequest::key_material`]'s.
    pub fn scan_for_key_material(&self) -> Vec<String> {
        let requests = self.recorded_requests();
        self.scanned_by_test.store(requests.len(), Ordering::SeqCst);
        scan_requests(&requests, 0)
    }

    /// The recorded requests with this method and path.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        self.recorded_requests()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    /// What the server printed.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("moto.log")).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            return;
        }
        let findings = scan_requests(&self.recorded_requests(), 0);
        if !findings.is_empty() {
            panic!("{}", key_material_message(&findings));
        }
    }
}

/// [`RecordedRequest::key_material`] for `requests[from..]`, as `#index description: what`.
fn scan_requests(requests: &[RecordedRequest], from: usize) -> Vec<String> {
    requests
        .iter()
        .enumerate()
        .skip(from)
        .filter_map(|(i, r)| {
            r.key_material()
                .map(|found| format!("#{i} {}: {found}", r.describe()))
        })
        .collect()
}

fn key_material_message(findings: &[String]) -> String {
    format!(
        "private key material was sent to AWS (moto) outside ACM ImportCertificate's \
         PrivateKey field, in {} request(s):\n  {}",
        findings.len(),
        findings.join("\n  ")
    )
}

/// The payload of an `aws-chunked` body (`<hex size>[;chunk-signature=..]\r\n<data>\r\n`
/// ... `0`, then trailers), or `None` when it is not one.
fn aws_chunked_payload(body: &[u8]) -> Option<Vec<u8>> {
    let mut payload = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(payload);
        }
        payload.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size..)?;
        rest = rest.strip_prefix(b"\r\n").unwrap_or(rest);
    }
}

/// One line of moto's recording: `{"headers": {...}, "method": "POST", "url": "http://...",
/// "body": "...", "body_encoded": true}`; `body_encoded` means the body is base64.
fn parse_recorded(line: &str) -> RecordedRequest {
    let v: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad recording line ({e}): {line}"));
    let url = v["url"].as_str().unwrap_or_default();
    let after_scheme = url.split_once("://").map(|(_, rest)| rest).unwrap_or(url);
    let path_and_query = after_scheme
        .find('/')
        .map(|i| &after_scheme[i..])
        .unwrap_or("/");
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let body = match (v["body"].as_str(), v["body_encoded"].as_bool()) {
        (Some(b), Some(true)) => base64::engine::general_purpose::STANDARD
            .decode(b)
            .unwrap_or_else(|e| panic!("bad base64 body in recording: {e}")),
        (Some(b), _) => b.as_bytes().to_vec(),
        (None, _) => Vec::new(),
    };
    let headers = v["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    (
                        k.to_ascii_lowercase(),
                        v.as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    RecordedRequest {
        method: v["method"].as_str().unwrap_or_default().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    }
}

/// The environment that points the AWS SDK at dummy credentials only: no profile, no shared
/// files, no instance metadata (which would be a network call off this machine).
fn isolation_env() -> [(&'static str, &'static str); 7] {
    [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ("AWS_REGION", REGION),
        ("AWS_CONFIG_FILE", "/nonexistent/mtls-test/config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/mtls-test/credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_MAX_ATTEMPTS", "1"),
    ]
}

/// Sets [`isolation_env`] in this test process, once, before any client reads it
/// ([`Moto::start`] calls it; a test that needs no server calls it itself).
pub fn set_process_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for key in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL",
            "AWS_DEFAULT_PROFILE",
        ] {
            std::env::remove_var(key);
        }
        for (k, v) in isolation_env() {
            std::env::set_var(k, v);
        }
    });
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// moto, pinned in `.ci/moto-requirements.txt`, in `$MTLS_MOTO_VENV` or `target/moto-venv`.
const MOTO: venv::PinnedTool = venv::PinnedTool {
    name: "moto",
    venv_var: "MTLS_MOTO_VENV",
    default_venv: "moto-venv",
    requirements: "moto-requirements.txt",
    program: "moto_server",
};

/// The venv holding moto, from `MTLS_MOTO_VENV` or `target/moto-venv` under the crate.
pub fn venv_dir() -> PathBuf {
    MOTO.venv_dir()
}

/// Installs the pinned moto into the venv unless it is there; returns `moto_server`'s path.
fn ensure_installed() -> PathBuf {
    MOTO.ensure_installed()
}

/// `shim` with moto's GetBucketVersioning answer patched: moto 5.2.5 names the root
/// element `GetBucketVersioningResponse`, which the SDK refuses to parse; S3 answers
/// `<VersioningConfiguration>` with an optional `<Status>` (S3 API reference,
/// GetBucketVersioning). Patched here, so src reads S3's documented answer only.
fn with_s3_versioning_patch(shim: &str) -> String {
    const PATCH: &str = r#"
import moto.s3.responses as s3_responses

def _get_bucket_versioning_as_s3(self):
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            + inner + "</VersioningConfiguration>")
    return 200, {"Content-Type": "application/xml"}, body

s3_responses.S3Response.get_bucket_versioning = _get_bucket_versioning_as_s3
"#;
    format!("{PATCH}{shim}")
}

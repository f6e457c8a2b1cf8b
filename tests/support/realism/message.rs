//! Requests and answers as the rules see them: which AWS service and operation a request
//! is (by method and path, or `X-Amz-Target`), and AWS's error answers, shaped as each
//! service sends them.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};

/// A request as the client sent it (hyper decoded a chunked body).
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    /// The path, percent-encoded as sent.
    pub path: String,
    /// The query without `?`.
    pub query: String,
    /// Headers in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header, by name without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A field of a form body (IAM's and STS's query protocol), percent-decoded.
    pub fn form(&self, field: &str) -> Option<String> {
        String::from_utf8_lossy(&self.body)
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{field}=")).map(str::to_string))
            .map(|v| percent_decode(&v.replace('+', " ")))
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A string field of the JSON body.
    pub fn json_str(&self, field: &str) -> String {
        self.json()[field].as_str().unwrap_or_default().to_string()
    }

    /// The path's segments, percent-decoded.
    pub fn segments(&self) -> Vec<String> {
        self.path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect()
    }

    /// The service, from the SigV4 credential scope (`.../us-east-1/acm/aws4_request`).
    pub fn service(&self) -> String {
        self.header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .map(str::to_string)
            .unwrap_or_else(|| {
                if self.path.starts_with("/2013-04-01/") {
                    "route53".into()
                } else if self.header("x-amz-target").is_some() {
                    "acm".into()
                } else {
                    "unknown".into()
                }
            })
    }

    fn query_has(&self, key: &str) -> bool {
        self.query
            .split('&')
            .any(|p| p == key || p.starts_with(&format!("{key}=")))
    }

    /// The API operation, as AWS names it.
    pub fn operation(&self) -> String {
        if let Some(target) = self.header("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_string();
        }
        let service = self.service();
        if service == "sts" || service == "iam" {
            let form = if self.method == "POST" {
                String::from_utf8_lossy(&self.body).into_owned()
            } else {
                self.query.clone()
            };
            if let Some(a) = form.split('&').find_map(|p| p.strip_prefix("Action=")) {
                return a.to_string();
            }
        }
        let segs = self.segments();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = self.method.as_str();
        let name = match (service.as_str(), m, s.as_slice()) {
            ("apigateway", "POST", ["restapis"]) => "CreateRestApi",
            ("apigateway", "GET", ["restapis"]) => "GetRestApis",
            ("apigateway", "GET", ["restapis", _]) => "GetRestApi",
            ("apigateway", "PUT", ["restapis", _]) => "PutRestApi",
            ("apigateway", "PATCH", ["restapis", _]) => "UpdateRestApi",
            ("apigateway", "DELETE", ["restapis", _]) => "DeleteRestApi",
            ("apigateway", "POST", ["restapis", _, "deployments"]) => "CreateDeployment",
            ("apigateway", "GET", ["restapis", _, "stages"]) => "GetStages",
            ("apigateway", "GET", ["restapis", _, "stages", _]) => "GetStage",
            ("apigateway", "GET", ["restapis", _, "resources"]) => "GetResources",
            ("apigateway", "POST", ["domainnames"]) => "CreateDomainName",
            ("apigateway", "PUT" | "POST", ["tags", _]) => "TagResource",
            ("apigateway", "DELETE", ["tags", _]) => "UntagResource",
            ("apigateway", "GET", ["domainnames"]) => "GetDomainNames",
            ("apigateway", "GET", ["domainnames", _]) => "GetDomainName",
            ("apigateway", "PATCH", ["domainnames", _]) => "UpdateDomainName",
            ("apigateway", "DELETE", ["domainnames", _]) => "DeleteDomainName",
            ("apigateway", "POST", ["domainnames", _, "basepathmappings"]) => {
                "CreateBasePathMapping"
            }
            ("apigateway", "GET", ["domainnames", _, "basepathmappings"]) => "GetBasePathMappings",
            ("apigateway", "DELETE", ["domainnames", _, "basepathmappings", ..]) => {
                "DeleteBasePathMapping"
            }
            ("route53", "POST", ["2013-04-01", "hostedzone"]) => "CreateHostedZone",
            ("route53", "GET", ["2013-04-01", "hostedzone"]) => "ListHostedZones",
            ("route53", "GET", ["2013-04-01", "hostedzonesbyname"]) => "ListHostedZonesByName",
            ("route53", "GET", ["2013-04-01", "hostedzone", _]) => "GetHostedZone",
            ("route53", "DELETE", ["2013-04-01", "hostedzone", _]) => "DeleteHostedZone",
            ("route53", "POST", ["2013-04-01", "hostedzone", _, "rrset"]) => {
                "ChangeResourceRecordSets"
            }
            ("route53", "GET", ["2013-04-01", "hostedzone", _, "rrset"]) => {
                "ListResourceRecordSets"
            }
            ("route53", "GET", ["2013-04-01", "change", _]) => "GetChange",
            ("lambda", "POST", [_, "functions"]) => "CreateFunction",
            ("lambda", "GET", [_, "functions", _]) => "GetFunction",
            ("lambda", "DELETE", [_, "functions", _]) => "DeleteFunction",
            ("lambda", "GET", [_, "functions", _, "configuration"]) => "GetFunctionConfiguration",
            ("lambda", "PUT", [_, "functions", _, "configuration"]) => {
                "UpdateFunctionConfiguration"
            }
            ("lambda", "PUT", [_, "functions", _, "code"]) => "UpdateFunctionCode",
            ("lambda", "POST", [_, "functions", _, "versions"]) => "PublishVersion",
            ("lambda", "GET", [_, "functions", _, "policy"]) => "GetPolicy",
            ("lambda", "POST", [_, "functions", _, "policy"]) => "AddPermission",
            ("s3", _, [_]) if self.query_has("versioning") => match m {
                "PUT" => "PutBucketVersioning",
                _ => "GetBucketVersioning",
            },
            ("s3", "GET", [_]) if self.query_has("versions") => "ListObjectVersions",
            ("s3", "PUT", [_]) => "CreateBucket",
            ("s3", "HEAD", [_]) => "HeadBucket",
            ("s3", "DELETE", [_]) => "DeleteBucket",
            ("s3", "GET", [_]) => "ListObjects",
            ("s3", "PUT", [_, _, ..]) => "PutObject",
            ("s3", "HEAD", [_, _, ..]) => "HeadObject",
            ("s3", "GET", [_, _, ..]) => "GetObject",
            ("s3", "DELETE", [_, _, ..]) => "DeleteObject",
            _ => return format!("{m} {}", self.path),
        };
        name.to_string()
    }

    /// Whether it changes state, as [`super::moto::RecordedRequest::is_mutating`] judges:
    /// REST calls by method, RPC calls (ACM, STS, IAM) by action name.
    pub fn is_mutating(&self) -> bool {
        if self.method == "GET" || self.method == "HEAD" {
            return false;
        }
        let rpc = self.header("x-amz-target").is_some()
            || matches!(self.service().as_str(), "sts" | "iam");
        if rpc {
            let action = self.operation();
            return !["Describe", "List", "Get"]
                .iter()
                .any(|p| action.starts_with(p));
        }
        true
    }

    /// `s3://bucket/key` of an S3 object request, `bucket` of a bucket request.
    pub fn s3_target(&self) -> (String, String) {
        let segs = self.segments();
        (
            segs.first().cloned().unwrap_or_default(),
            segs.get(1..).map(|k| k.join("/")).unwrap_or_default(),
        )
    }
}

/// An answer, moto's or a rule's.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (hyper decoded it when moto sent it chunked).
    pub body: Vec<u8>,
}

impl Response {
    pub(super) fn empty() -> Response {
        Response {
            status: 200,
            reason: "OK".into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Whether it is a 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A header, by name without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Removes a header; whether it was there.
    pub fn remove_header(&mut self, name: &str) -> bool {
        let before = self.headers.len();
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        before != self.headers.len()
    }

    /// The body as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// Replaces the body with `value`.
    pub fn set_json(&mut self, value: &Value) {
        self.body = serde_json::to_vec(value).unwrap();
    }
}

pub(super) fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

fn request_id() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (t >> 32) as u32,
        n & 0xffff,
        (t & 0xfff) as u32,
        n & 0xfff,
        t & 0xffff_ffff_ffff
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An error answer shaped as `service` sends it: JSON with `x-amzn-ErrorType` (ACM's JSON
/// 1.1, API Gateway's REST-JSON), XML `<Error>` (S3), XML `<ErrorResponse>` (Route 53, STS).
pub fn aws_error(service: &str, status: u16, code: &str, message: &str) -> Response {
    let id = request_id();
    let (content_type, body, mut headers) = match service {
        "s3" => (
            "application/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{id}</RequestId><HostId>{id}</HostId></Error>",
                xml_escape(message)
            ),
            vec![("x-amz-request-id".to_string(), id.clone())],
        ),
        "route53" | "sts" => (
            "text/xml",
            format!(
                "<?xml version=\"1.0\"?>\n<ErrorResponse xmlns=\"https://{service}.amazonaws.com/doc/\"><Error><Type>{}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{id}</RequestId></ErrorResponse>",
                if status >= 500 { "Receiver" } else { "Sender" },
                xml_escape(message)
            ),
            vec![("x-amzn-RequestId".to_string(), id.clone())],
        ),
        "acm" => (
            "application/x-amz-json-1.1",
            json!({ "__type": code, "message": message }).to_string(),
            vec![
                ("x-amzn-RequestId".to_string(), id.clone()),
                ("x-amzn-ErrorType".to_string(), code.to_string()),
            ],
        ),
        _ => (
            "application/json",
            json!({ "__type": code, "message": message }).to_string(),
            vec![
                ("x-amzn-RequestId".to_string(), id.clone()),
                ("x-amzn-ErrorType".to_string(), code.to_string()),
            ],
        ),
    };
    headers.push(("Content-Type".to_string(), content_type.to_string()));
    headers.push(("Date".to_string(), http_date()));
    Response {
        status,
        reason: reason_phrase(status).to_string(),
        headers,
        body: body.into_bytes(),
    }
}

fn http_date() -> String {
    // Not parsed by the SDK for errors; a fixed, well-formed value is enough.
    "Mon, 01 Jan 2024 00:00:00 GMT".to_string()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

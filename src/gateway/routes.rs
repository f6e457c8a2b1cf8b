//! The PetStore API as the rehearsal gateway answers it.
//!
//! Bodies come from [`crate::petstore`], the same data the deployed API is built from, so
//! that a script which passes against `mtls serve` passes against API Gateway.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

use super::revocation::EXPLICIT_DENY;
use crate::petstore;

const NOT_FOUND: &str = r#"{"message":"Not Found"}"#;
const METHOD_NOT_ALLOWED: &str = r#"{"message":"Method Not Allowed"}"#;

/// Answers one request; `client` is the subject of the certificate the connection was
/// authenticated with, for the access log; a `revoked` client is denied every request, as
/// the authorizer denies it on API Gateway ([`super::revocation`]).
pub(crate) async fn handle(
    req: Request<Incoming>,
    client: Arc<str>,
    revoked: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if revoked {
        json(StatusCode::FORBIDDEN, EXPLICIT_DENY.to_string())
    } else {
        route(req.method(), req.uri().path())
    };
    tracing::info!(
        client = %client,
        method = %req.method(),
        path = %req.uri().path(),
        status = response.status().as_u16(),
        "request"
    );
    Ok(response)
}

fn route(method: &Method, path: &str) -> Response<Full<Bytes>> {
    let body = match path.strip_prefix("/pets") {
        Some("") => Some(petstore::pets_json()),
        Some(rest) => match rest.strip_prefix('/') {
            Some(id) if !id.is_empty() && !id.contains('/') => {
                match petstore::pet_json(id) {
                    Some(pet) => Some(pet),
                    // A well-formed path to a pet that does not exist: only GET can reach
                    // the 404, other methods are still told the method is wrong.
                    None if method == Method::GET => {
                        return json(StatusCode::NOT_FOUND, NOT_FOUND.to_string())
                    }
                    None => None,
                }
            }
            _ => return json(StatusCode::NOT_FOUND, NOT_FOUND.to_string()),
        },
        None => return json(StatusCode::NOT_FOUND, NOT_FOUND.to_string()),
    };
    if method != Method::GET {
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            METHOD_NOT_ALLOWED.to_string(),
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    match body {
        Some(body) => json(StatusCode::OK, body),
        None => json(StatusCode::NOT_FOUND, NOT_FOUND.to_string()),
    }
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(method: Method, path: &str, status: u16) {
        let response = route(&method, path);
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert_eq!(
            response.headers().get(CONTENT_TYPE).map(|v| v.as_bytes()),
            Some(&b"application/json"[..]),
            "{method} {path}"
        );
    }

    #[test]
    fn routes() {
        case(Method::GET, "/pets", 200);
        case(Method::GET, "/pets/1", 200);
        case(Method::GET, "/pets/3", 200);
        case(Method::GET, "/pets/4", 404);
        case(Method::GET, "/pets/dog", 404);
        case(Method::GET, "/pets/", 404);
        case(Method::GET, "/pets/1/toys", 404);
        case(Method::GET, "/petsx", 404);
        case(Method::GET, "/", 404);
        case(Method::POST, "/pets", 405);
        case(Method::DELETE, "/pets/1", 405);
        case(Method::PUT, "/pets/9", 405);
        case(Method::POST, "/nothing", 404);
    }
}

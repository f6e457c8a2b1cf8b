//! AWS as it behaves, in front of a [`Moto`](crate::support::moto::Moto): a small HTTP/1.1
//! proxy on 127.0.0.1 that mtls is pointed at (`AWS_ENDPOINT_URL`), forwarding each request
//! to moto and applying the documented behaviours moto does not have, one small [`Rule`]
//! each, with delays of seconds instead of minutes.
//!
//! - `proxy.rs`: the proxy (hyper's server), what it records ([`Realism::calls`],
//!   [`Realism::events`]), and the [`Rule`] trait the rules implement;
//! - `message.rs`: [`Request`] and [`Response`] as rules see them (which AWS operation a
//!   request is), and [`aws_error`], AWS's error answers as each service shapes them;
//! - `moto_client.rs`: forwarding to moto (hyper's client), [`moto_call`] straight to moto,
//!   Route 53's zones and records as moto holds them;
//! - `rules/`: the rules, one file per service (the table in `rules/mod.rs`, and
//!   tests/README.md for every AWS operation mtls calls and the rule that models it);
//! - `fixtures.rs`: a PKI made once, [`Inventory`] of what exists in moto, the "one of each
//!   resource" checks.
//!
//! Errors are shaped as AWS sends them: JSON `{"__type", "message"}` with
//! `x-amzn-ErrorType` for ACM, API Gateway and Lambda, XML for S3 and Route 53. Operations
//! are told apart by method and path (S3, API Gateway, Route 53, Lambda), `X-Amz-Target`
//! (ACM) or the form's `Action` (IAM, STS). Requests
//! are handled one at a time (rules see a consistent world); a stalled answer leaves the
//! queue.

mod fixtures;
mod message;
mod moto_client;
mod proxy;
mod rules;

pub use fixtures::{
    assert_converged, assert_took_turns, run_parallel, workdir_with_pki, workers, Inventory,
};
pub use message::{aws_error, Request, Response};
pub use moto_client::{moto_call, moto_request};
pub use proxy::{After, Call, Cx, Event, Realism, Rule, Verdict};
pub use rules::*;

/// Seconds, for rule parameters: stretched by `MTLS_TEST_SLOWDOWN` (one function for every
/// window and timeout of the tests, see [`super::timing`]).
pub use super::timing::secs;

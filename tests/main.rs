//! The integration tests: one module per behaviour, linked into one test binary (the crate
//! and the AWS SDK are linked once, not once per file). `gateway_serve.rs` is a binary of its
//! own because it sends SIGINT to its own process.

mod support;

mod adopt;
mod aws_acm;
mod aws_apigateway;
mod aws_errors;
mod aws_errors_in_scripts;
mod aws_faults;
mod aws_interrupts;
mod aws_realism;
mod aws_region;
mod aws_revocation;
mod aws_route53;
mod aws_s3;
mod aws_setup;
mod bad_inputs;
mod check;
mod cli_commands;
mod cli_conventions;
mod code_rules;
mod completions;
mod doc_examples;
mod drift;
mod embed;
mod example_embed;
mod expiry;
mod fleet;
mod gateway_chain_length;
mod gateway_crl;
mod gateway_curl;
mod gateway_errors;
mod gateway_openssl;
mod gateway_probe;
mod gateway_shutdown;
mod gateway_strict;
mod interrupt;
mod key_pool;
mod locks;
mod p12;
mod pki_cli;
mod properties;
mod realism_proxy;
mod recording_scan;
mod rehearse_cli;
mod revoke;
mod rfc5280;
mod rollover;
mod script_errors;
mod timing;
mod unknowns;

//! mtls: mutual TLS in front of Amazon API Gateway, as editable Rhai scripts.
pub mod aws;
pub mod petstore;

//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod key_scan;
pub mod locks;
pub mod moto;
pub mod pki;
pub mod pkilint;
pub mod realism;
pub mod realism_acm;
pub mod realism_domain;
pub mod realism_quota;
pub mod timing;
pub mod venv;

//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod key_scan;
pub mod moto;
pub mod realism;
pub mod realism_quota;
pub mod venv;

//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod cli;
pub mod key_scan;
pub mod locks;
pub mod moto;
pub mod pki;
pub mod pkilint;
pub mod realism;
pub mod timing;
pub mod venv;

/// The rules' paths before they moved to `realism::rules` (tests written against them still
/// compile; new tests name `support::realism`).
pub mod realism_quota {
    pub use super::realism::{ChangePending, Quota, VersioningNotFound};
}

/// See [`realism_quota`].
pub mod realism_domain {
    pub use super::realism::{OwnershipExpired, ReimportAcrossIssuers};
}

/// See [`realism_quota`].
pub mod realism_acm {
    pub use super::realism::{CertificateDeadEnd, DeadEnd};
}

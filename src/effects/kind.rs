//! What sort of thing an [`super::Action`] is about, and where it lives.

use serde::{Serialize, Serializer};

/// The sort of resource an action creates, changes, keeps, deletes or checks.
///
/// Every kind says where it lives ([`Kind::on_aws`]): `mtls run` at a terminal asks before
/// AWS changes only, so a run that writes local files never asks. The match in `on_aws` is
/// exhaustive: a new kind cannot be added without deciding where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A private key file in the working folder.
    PrivateKey,
    /// A certificate file in the working folder.
    Certificate,
    /// A fleet of client key + certificate pairs in the working folder (`issue_clients`).
    ClientCertificates,
    /// A fleet's manifest file (CSV or JSON) in the working folder.
    Manifest,
    /// A truststore bundle file in the working folder (rollover).
    TruststoreBundle,
    /// A CA's certificate revocation list file in the working folder (`revoke`).
    RevocationList,
    /// A PKCS#12 client bundle (key, certificate, chain; 0600) in the working folder.
    Pkcs12Bundle,
    /// A gateway `serve` runs on this machine, for the length of the script.
    LocalGateway,
    /// A read-only HTTPS request (`probe`): it changes nothing anywhere.
    HttpsProbe,
    /// A certificate in ACM (imported or requested).
    AcmCertificate,
    /// An API Gateway custom domain name.
    ApiCustomDomain,
    /// An API Gateway base path mapping.
    ApiMapping,
    /// An API Gateway stage (and its deployment).
    ApiStage,
    /// An API Gateway REST API.
    RestApi,
    /// A setting of a REST API (its default endpoint, its routes).
    RestApiSetting,
    /// A Route 53 hosted zone.
    Route53HostedZone,
    /// A Route 53 record set.
    Route53Record,
    /// An S3 bucket.
    S3Bucket,
    /// The versioning setting of an S3 bucket.
    S3Versioning,
    /// An S3 object.
    S3Object,
    /// An IAM role (the revocation authorizer's execution role).
    IamRole,
    /// An inline policy of an IAM role.
    IamRolePolicy,
    /// A Lambda function (the revocation authorizer).
    LambdaFunction,
    /// A statement of a Lambda function's resource-based policy (who may invoke it).
    LambdaPermission,
    /// An API Gateway authorizer.
    ApiAuthorizer,
    /// Which authorizer guards an API Gateway method.
    ApiMethodAuthorization,
}

impl Kind {
    /// How plans and progress lines name it (and the `kind` of a JSON plan).
    pub fn name(self) -> &'static str {
        match self {
            Kind::PrivateKey => "private key",
            Kind::Certificate => "certificate",
            Kind::ClientCertificates => "client certificates",
            Kind::Manifest => "manifest",
            Kind::TruststoreBundle => "truststore bundle",
            Kind::RevocationList => "revocation list",
            Kind::Pkcs12Bundle => "pkcs12 bundle",
            Kind::LocalGateway => "local gateway",
            Kind::HttpsProbe => "https probe",
            Kind::AcmCertificate => "acm certificate",
            Kind::ApiCustomDomain => "api custom domain",
            Kind::ApiMapping => "api mapping",
            Kind::ApiStage => "api stage",
            Kind::RestApi => "rest api",
            Kind::RestApiSetting => "rest api setting",
            Kind::Route53HostedZone => "route53 hosted zone",
            Kind::Route53Record => "route53 record",
            Kind::S3Bucket => "s3 bucket",
            Kind::S3Versioning => "s3 versioning",
            Kind::S3Object => "s3 object",
            Kind::IamRole => "iam role",
            Kind::IamRolePolicy => "iam role policy",
            Kind::LambdaFunction => "lambda function",
            Kind::LambdaPermission => "lambda permission",
            Kind::ApiAuthorizer => "api authorizer",
            Kind::ApiMethodAuthorization => "api method authorization",
        }
    }

    /// Whether a change to it is a change on AWS (what `mtls run` asks about at a terminal).
    pub fn on_aws(self) -> bool {
        match self {
            Kind::PrivateKey
            | Kind::Certificate
            | Kind::ClientCertificates
            | Kind::Manifest
            | Kind::TruststoreBundle
            | Kind::RevocationList
            | Kind::Pkcs12Bundle
            | Kind::LocalGateway
            | Kind::HttpsProbe => false,
            Kind::AcmCertificate
            | Kind::ApiCustomDomain
            | Kind::ApiMapping
            | Kind::ApiStage
            | Kind::RestApi
            | Kind::RestApiSetting
            | Kind::Route53HostedZone
            | Kind::Route53Record
            | Kind::S3Bucket
            | Kind::S3Versioning
            | Kind::S3Object
            | Kind::IamRole
            | Kind::IamRolePolicy
            | Kind::LambdaFunction
            | Kind::LambdaPermission
            | Kind::ApiAuthorizer
            | Kind::ApiMethodAuthorization => true,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, not `write_str`: plans align kinds with `{:<width$}`.
        f.pad(self.name())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

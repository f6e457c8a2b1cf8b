//! The API Gateway wrappers against moto: PetStore (ARTICLE.md steps 9-11), the mTLS custom
//! domain (step 12) and its mapping (step 13), then teardown.
use crate::support;

use mtls::aws::apigateway::{DomainPatch, MtlsDomainSpec, ROOT_BASE_PATH};
use mtls::aws::{Aws, Tags};
use mtls::petstore::{pet_json, pets_json};
use support::moto::Moto;

const DOMAIN: &str = "api.example.com";

#[test]
fn the_openapi_body_is_generated_from_the_petstore_data() {
    let doc = mtls::petstore::openapi();
    let list = &doc["paths"]["/pets"]["get"]["x-amazon-apigateway-integration"];
    assert_eq!(list["type"], "mock");
    assert_eq!(
        list["requestTemplates"]["application/json"],
        "{\"statusCode\": 200}"
    );
    assert_eq!(
        list["responses"]["default"]["responseTemplates"]["application/json"],
        pets_json()
    );
    let one = &doc["paths"]["/pets/{petId}"]["get"]["x-amazon-apigateway-integration"];
    let template = one["responses"]["default"]["responseTemplates"]["application/json"]
        .as_str()
        .expect("template");
    for id in ["1", "2", "3"] {
        assert!(
            template.contains(&pet_json(id).expect("pet")),
            "pet {id} in {template}"
        );
    }
    assert_eq!(one["responses"]["404"]["statusCode"], "404");
}

#[tokio::test]
async fn petstore_domain_with_mtls_mapping_and_teardown() {
    let moto = Moto::start();
    let aws = Aws::connect(&moto.settings()).await.expect("connect");
    let api = aws.apigateway();

    assert_eq!(api.find_rest_api("PetStore").await.expect("find"), None);
    let created = api
        .import_rest_api(&mtls::petstore::openapi_json("PetStore"), true)
        .await
        .expect("import");
    assert_eq!(created.name, "PetStore");
    assert!(!created.disable_execute_api_endpoint);
    let import = moto.requests_to("POST", "/restapis");
    assert_eq!(import.len(), 1);
    assert!(
        import[0].query.contains("mode=import"),
        "{}",
        import[0].query
    );
    assert!(
        import[0].query.contains("failonwarnings=true"),
        "{}",
        import[0].query
    );
    assert!(
        import[0]
            .query
            .contains("endpointConfigurationTypes=REGIONAL"),
        "{}",
        import[0].query
    );
    assert_eq!(import[0].body_json(), mtls::petstore::openapi());

    let found = api
        .find_rest_api("PetStore")
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.id, created.id);

    let updated = api
        .set_execute_api_endpoint_disabled(&created.id, true)
        .await
        .expect("disable");
    assert!(updated.disable_execute_api_endpoint);
    let patch = moto.requests_to("PATCH", &format!("/restapis/{}", created.id));
    assert_eq!(
        patch[0].body_json()["patchOperations"][0],
        serde_json::json!({"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"})
    );

    assert_eq!(api.stage(&created.id, "prod").await.expect("stage"), None);
    let deployment = api
        .create_deployment(&created.id, "prod", Some("mtls"))
        .await
        .expect("deploy");
    let stage = api
        .stage(&created.id, "prod")
        .await
        .expect("stage")
        .expect("prod exists");
    assert_eq!(stage.deployment_id.as_deref(), Some(deployment.as_str()));

    assert_eq!(api.domain_name(DOMAIN).await.expect("get domain"), None);
    let certificate = "arn:aws:acm:us-east-1:123456789012:certificate/server";
    let ownership = "arn:aws:acm:us-east-1:123456789012:certificate/ownership";
    let tags: Tags = [("mtls:domain".to_string(), DOMAIN.to_string())]
        .into_iter()
        .collect();
    let domain = api
        .create_domain_name(&MtlsDomainSpec {
            domain_name: DOMAIN,
            regional_certificate_arn: certificate,
            truststore_uri: "s3://trust-store-123456789012/RootCA.pem",
            truststore_version: Some("v-1"),
            ownership_verification_certificate_arn: Some(ownership),
            tags: &tags,
        })
        .await
        .expect("create domain");
    assert_eq!(domain.name, DOMAIN);
    assert!(domain
        .regional_domain_name
        .as_deref()
        .is_some_and(|d| d.contains(".execute-api.")));
    assert!(domain.regional_hosted_zone_id.is_some());
    assert_eq!(
        domain.regional_certificate_arn.as_deref(),
        Some(certificate)
    );

    // moto drops mutualTlsAuthentication and ownershipVerificationCertificateArn, so the
    // request body is where they can be checked.
    let create = moto.requests_to("POST", "/domainnames");
    assert_eq!(create.len(), 1);
    assert!(create[0].is_mutating());
    let body = create[0].body_json();
    assert_eq!(body["domainName"], DOMAIN);
    assert_eq!(body["regionalCertificateArn"], certificate);
    assert_eq!(
        body["endpointConfiguration"]["types"],
        serde_json::json!(["REGIONAL"])
    );
    assert_eq!(body["securityPolicy"], "TLS_1_2");
    assert_eq!(
        body["mutualTlsAuthentication"],
        serde_json::json!({"truststoreUri": "s3://trust-store-123456789012/RootCA.pem", "truststoreVersion": "v-1"})
    );
    assert_eq!(body["ownershipVerificationCertificateArn"], ownership);
    assert_eq!(body["tags"]["mtls:domain"], DOMAIN);

    // The harness makes moto keep the mTLS fields (tests/support/moto.rs), as AWS does.
    assert_eq!(
        domain.truststore_uri.as_deref(),
        Some("s3://trust-store-123456789012/RootCA.pem")
    );
    assert_eq!(domain.truststore_version.as_deref(), Some("v-1"));
    assert_eq!(
        domain.ownership_verification_certificate_arn.as_deref(),
        Some(ownership)
    );

    // A new truststore upload only takes effect once the domain names its version.
    let updated = api
        .update_domain_name(DOMAIN, &[DomainPatch::TruststoreVersion("v-2".to_string())])
        .await
        .expect("update domain");
    assert_eq!(updated.truststore_version.as_deref(), Some("v-2"));
    let patch = moto.requests_to("PATCH", &format!("/domainnames/{DOMAIN}"));
    assert_eq!(
        patch[0].body_json()["patchOperations"],
        serde_json::json!([{"op": "replace", "path": "/mutualTlsAuthentication/truststoreVersion", "value": "v-2"}])
    );
    let got = api
        .domain_name(DOMAIN)
        .await
        .expect("get domain")
        .expect("exists");
    assert_eq!(got.regional_domain_name, domain.regional_domain_name);
    assert_eq!(got.truststore_version.as_deref(), Some("v-2"));
    assert_eq!(got.security_policy.as_deref(), Some("TLS_1_2"));
    assert_eq!(got.endpoint_types, vec!["REGIONAL".to_string()]);

    let mapping = api
        .create_base_path_mapping(DOMAIN, &created.id, "prod", None)
        .await
        .expect("map");
    assert_eq!(mapping.base_path, ROOT_BASE_PATH);
    assert_eq!(mapping.rest_api_id, created.id);
    let got = api
        .base_path_mapping(DOMAIN, None)
        .await
        .expect("get mapping")
        .expect("mapped");
    assert_eq!(got.rest_api_id, created.id);
    assert_eq!(got.stage.as_deref(), Some("prod"));
    assert_eq!(
        api.base_path_mapping(DOMAIN, Some("v2"))
            .await
            .expect("get mapping"),
        None
    );

    api.delete_base_path_mapping(DOMAIN, None)
        .await
        .expect("unmap");
    assert_eq!(
        api.base_path_mapping(DOMAIN, None)
            .await
            .expect("get mapping"),
        None
    );
    api.delete_domain_name(DOMAIN).await.expect("delete domain");
    assert_eq!(api.domain_name(DOMAIN).await.expect("get domain"), None);
    api.delete_rest_api(&created.id).await.expect("delete api");
    assert_eq!(api.find_rest_api("PetStore").await.expect("find"), None);
    assert_eq!(api.rest_api(&created.id).await.expect("get api"), None);
}

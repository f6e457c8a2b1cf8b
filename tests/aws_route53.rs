//! The Route 53 wrappers against moto: the public zone (ARTICLE.md step 1), the validation
//! CNAME (step 8) and the alias record to API Gateway (step 14).
use crate::support;

use std::time::Duration;

use mtls::aws::route53::AliasTarget;
use mtls::aws::{Aws, Wait};
use support::moto::Moto;

#[tokio::test]
async fn zone_records_and_teardown() {
    let moto = Moto::start();
    let aws = Aws::connect(&moto.settings()).await.expect("connect");
    let r53 = aws.route53();

    assert_eq!(
        r53.find_public_zone("example.com").await.expect("find"),
        None
    );
    // A zone whose name merely starts the same must not match.
    r53.create_zone("example.com.au")
        .await
        .expect("create decoy");
    assert_eq!(
        r53.find_public_zone("example.com").await.expect("find"),
        None
    );

    let zone = r53.create_zone("example.com").await.expect("create zone");
    assert_eq!(zone.name, "example.com.");
    assert!(!zone.id.contains('/'), "bare zone id, got {}", zone.id);
    assert_eq!(zone.name_servers.len(), 4, "{:?}", zone.name_servers);
    let found = r53
        .find_public_zone("example.com.")
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found, zone);
    assert_eq!(r53.zone(&zone.id).await.expect("get zone"), zone);

    let quick = Wait::new(Duration::from_secs(10), Duration::from_millis(200));
    let change = r53
        .upsert_cname(
            &zone.id,
            "_abc.api.example.com.",
            "_def.acm-validations.aws.",
            300,
        )
        .await
        .expect("cname");
    r53.wait_insync(&change, &quick).await.expect("insync");
    // UPSERT twice is harmless.
    r53.upsert_cname(
        &zone.id,
        "_abc.api.example.com",
        "_def.acm-validations.aws.",
        300,
    )
    .await
    .expect("cname again");

    let target = AliasTarget {
        dns_name: "d-abc123.execute-api.us-east-1.amazonaws.com".to_string(),
        hosted_zone_id: "Z1UJRXOUMOOFQ8".to_string(),
        evaluate_target_health: false,
    };
    let change = r53
        .upsert_alias_a(&zone.id, "api.example.com", &target)
        .await
        .expect("alias");
    r53.wait_insync(&change, &quick).await.expect("insync");

    let records = r53.records(&zone.id).await.expect("records");
    let cnames: Vec<_> = records
        .iter()
        .filter(|r| r.record_type == "CNAME")
        .collect();
    assert_eq!(cnames.len(), 1, "{records:?}");
    assert_eq!(
        cnames[0].values,
        vec!["_def.acm-validations.aws.".to_string()]
    );
    let alias = records
        .iter()
        .find(|r| r.record_type == "A" && r.name == "api.example.com.")
        .expect("alias record");
    assert_eq!(
        alias.alias.as_ref().map(|a| a.hosted_zone_id.as_str()),
        Some("Z1UJRXOUMOOFQ8")
    );

    let changes = moto.requests_to("POST", &format!("/2013-04-01/hostedzone/{}/rrset", zone.id));
    let alias_body = changes.last().expect("recorded").body_text();
    assert!(
        alias_body.contains("<EvaluateTargetHealth>false</EvaluateTargetHealth>"),
        "{alias_body}"
    );
    assert!(alias_body.contains("<Action>UPSERT</Action>"));

    for record in records
        .iter()
        .filter(|r| r.record_type == "A" || r.record_type == "CNAME")
    {
        r53.delete_record(&zone.id, record)
            .await
            .expect("delete record");
    }
    let left: Vec<_> = r53
        .records(&zone.id)
        .await
        .expect("records")
        .into_iter()
        .map(|r| r.record_type)
        .collect();
    assert!(left.iter().all(|t| t == "NS" || t == "SOA"), "{left:?}");
    r53.delete_zone(&zone.id).await.expect("delete zone");
    assert_eq!(
        r53.find_public_zone("example.com").await.expect("find"),
        None
    );
}

#!/usr/bin/env bash
# The walkthrough of ARTICLE.md (steps 1-14) done by hand with openssl and the AWS CLI: the
# contender of `mtls run setup.rhai` in benches/setup.rs. Run in an empty folder:
#
#   AWS=/path/to/aws PETSTORE_JSON=/path/to/petstore.json bash setup_awscli.sh api.example.com
#
# AWS_* variables (endpoint, credentials, region) come from the caller. Every step is the
# plain create call a user would type; no lookups of existing resources, so this is the
# cheapest correct first run. Like mtls, it polls DescribeCertificate until the ownership
# verification certificate is ISSUED: at once, then after a fifth of the time waited so far
# (at least 0.25 s, at most 10 s).
# PKI_ONLY=1: only the openssl commands.
set -euo pipefail

domain=${1:?usage: setup_awscli.sh DOMAIN}
aws=${AWS:-aws}
petstore=${PETSTORE_JSON:?PETSTORE_JSON must name the OpenAPI body}
subj="/C=JP/ST=Tokyo/O=Example/CN"

# Steps 2-5: the article's twelve openssl commands.
openssl version >/dev/null
openssl genrsa -out RootCA.key 4096 2>/dev/null
openssl req -new -x509 -days 36500 -key RootCA.key -out RootCA.pem -subj "$subj=ca"
openssl genrsa -out client.key 2048 2>/dev/null
openssl req -new -key client.key -out client.csr -subj "$subj=client"
openssl x509 -req -in client.csr -CA RootCA.pem -CAkey RootCA.key -set_serial 01 -out client.pem -days 36500 -sha256 2>/dev/null
openssl genrsa -out inca.key 2048 2>/dev/null
openssl req -new -key inca.key -out inca.csr -subj "$subj=inca"
openssl x509 -req -in inca.csr -CA RootCA.pem -CAkey RootCA.key -set_serial 01 -out inca.pem -days 36500 -sha256 2>/dev/null
openssl genrsa -out server.key 2048 2>/dev/null
openssl req -new -key server.key -out server.csr -subj "$subj=$domain"
openssl x509 -req -in server.csr -CA inca.pem -CAkey inca.key -set_serial 01 -out server.pem -days 36500 -sha256 2>/dev/null

# PKI_ONLY=1 stops here (the bench times the openssl part alone with it).
[ "${PKI_ONLY:-}" = 1 ] && exit 0

# Step 1: the hosted zone (its name servers go to the registrar).
zone_id=$("$aws" route53 create-hosted-zone --name "$domain" \
    --caller-reference "mtls-bench-$(date +%s%N)" --query HostedZone.Id --output text)
zone_id=${zone_id#/hostedzone/}

# Step 6: the versioned truststore bucket trust-store-<account id> and the domain's
# RootCA.pem in it (one object per domain, as mtls keeps them).
account=$("$aws" sts get-caller-identity --query Account --output text)
bucket="trust-store-$account"
"$aws" s3api create-bucket --bucket "$bucket" >/dev/null
"$aws" s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
version=$("$aws" s3api put-object --bucket "$bucket" --key "$domain/RootCA.pem" --body RootCA.pem \
    --query VersionId --output text)

# Step 7: import the server certificate with its chain.
server_arn=$("$aws" acm import-certificate --certificate fileb://server.pem \
    --private-key fileb://server.key --certificate-chain fileb://inca.pem \
    --tags "Key=mtls:domain,Value=$domain" Key=mtls:role,Value=server \
    --query CertificateArn --output text)

# Step 8: the ownership verification certificate, its validation CNAME, wait until ISSUED.
owner_arn=$("$aws" acm request-certificate --domain-name "$domain" --validation-method DNS \
    --tags "Key=mtls:domain,Value=$domain" Key=mtls:role,Value=ownership-verification \
    --query CertificateArn --output text)
read -r cname_name cname_value < <("$aws" acm describe-certificate --certificate-arn "$owner_arn" \
    --query 'Certificate.DomainValidationOptions[0].ResourceRecord.[Name,Value]' --output text)
"$aws" route53 change-resource-record-sets --hosted-zone-id "$zone_id" --change-batch \
    "{\"Changes\":[{\"Action\":\"UPSERT\",\"ResourceRecordSet\":{\"Name\":\"$cname_name\",\"Type\":\"CNAME\",\"TTL\":300,\"ResourceRecords\":[{\"Value\":\"$cname_value\"}]}}]}" \
    >/dev/null
# mtls's schedule: pause a fifth of the time waited so far, at least 0.25 s, at most 10 s.
wait_start_ms=$(date +%s%3N)
while :; do
    status=$("$aws" acm describe-certificate --certificate-arn "$owner_arn" \
        --query Certificate.Status --output text)
    case $status in
        ISSUED) break ;;
        PENDING_VALIDATION)
            delay_ms=$((($(date +%s%3N) - wait_start_ms) / 5))
            delay_ms=$((delay_ms < 250 ? 250 : delay_ms > 10000 ? 10000 : delay_ms))
            sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))" ;;
        *) echo "certificate $owner_arn is $status" >&2; exit 1 ;;
    esac
done

# Steps 9-11: the PetStore API, its default endpoint off, the prod stage.
api_id=$("$aws" apigateway import-rest-api --parameters endpointConfigurationTypes=REGIONAL \
    --body "fileb://$petstore" --query id --output text)
"$aws" apigateway update-rest-api --rest-api-id "$api_id" \
    --patch-operations op=replace,path=/disableExecuteApiEndpoint,value=true >/dev/null
"$aws" apigateway create-deployment --rest-api-id "$api_id" --stage-name prod >/dev/null

# Step 12: the REGIONAL, TLS 1.2 custom domain with mutual TLS.
read -r regional_name regional_zone < <("$aws" apigateway create-domain-name \
    --domain-name "$domain" --regional-certificate-arn "$server_arn" \
    --endpoint-configuration types=REGIONAL --security-policy TLS_1_2 \
    --mutual-tls-authentication "truststoreUri=s3://$bucket/$domain/RootCA.pem,truststoreVersion=$version" \
    --ownership-verification-certificate-arn "$owner_arn" \
    --query '[regionalDomainName,regionalHostedZoneId]' --output text)

# Step 13: the mapping; step 14: the alias A record.
"$aws" apigateway create-base-path-mapping --domain-name "$domain" --rest-api-id "$api_id" \
    --stage prod >/dev/null
"$aws" route53 change-resource-record-sets --hosted-zone-id "$zone_id" --change-batch \
    "{\"Changes\":[{\"Action\":\"UPSERT\",\"ResourceRecordSet\":{\"Name\":\"$domain\",\"Type\":\"A\",\"AliasTarget\":{\"HostedZoneId\":\"$regional_zone\",\"DNSName\":\"$regional_name\",\"EvaluateTargetHealth\":false}}}]}" \
    >/dev/null

echo "domain https://$domain/pets -> $regional_name (truststore version $version)"

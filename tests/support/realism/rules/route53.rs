//! Route 53 rules: a change is PENDING before INSYNC; ACM's DNS validation sees only the
//! records public DNS reaches.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;

use super::left;
use crate::support::realism::moto_client::{fqdn, moto_records, moto_zones, within, ZoneInfo};
use crate::support::realism::{After, Cx, Request, Response, Rule};

/// Route 53: a change is `PENDING` until it has propagated to all of Route 53's
/// authoritative name servers, then `INSYNC` (Route 53 API reference, ChangeInfo and
/// GetChange: "PENDING indicates that the changes in this request have not propagated to
/// all Amazon Route 53 DNS servers"; the developer guide says this usually takes within
/// 60 seconds). moto answers `INSYNC` at once; this rule answers `PENDING` for `lasts`
/// after each ChangeResourceRecordSets, in its answer and in GetChange.
pub struct ChangePending {
    lasts: Duration,
    until: HashMap<String, Instant>,
}

impl ChangePending {
    pub const NAME: &'static str = "change pending";

    /// Each change PENDING for `lasts`.
    pub fn new(lasts: Duration) -> Box<Self> {
        Box::new(ChangePending {
            lasts,
            until: HashMap::new(),
        })
    }

    /// The change id of a `<ChangeInfo>` (`/change/C123` -> `C123`).
    fn change_id(xml: &str) -> Option<String> {
        let start = xml.find("<Id>")? + "<Id>".len();
        let end = start + xml[start..].find("</Id>")?;
        xml[start..end].rsplit('/').next().map(str::to_string)
    }

    fn mark_pending(resp: &mut Response) {
        let xml = String::from_utf8_lossy(&resp.body)
            .replace("<Status>INSYNC</Status>", "<Status>PENDING</Status>");
        resp.body = xml.into_bytes();
    }
}

impl Rule for ChangePending {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() {
            return After::Deliver;
        }
        match req.operation().as_str() {
            "ChangeResourceRecordSets" => {
                if let Some(id) = Self::change_id(&String::from_utf8_lossy(&resp.body)) {
                    cx.log(format!(
                        "ChangeResourceRecordSets: {id} PENDING for {:.1} s",
                        self.lasts.as_secs_f64()
                    ));
                    self.until.insert(id, cx.now + self.lasts);
                    Self::mark_pending(resp);
                }
            }
            "GetChange" => {
                let id = req.segments().last().cloned().unwrap_or_default();
                match self.until.get(&id) {
                    Some(&until) if cx.now < until => {
                        cx.log(format!(
                            "GetChange {id}: PENDING ({:.1} s left)",
                            left(until, cx.now)
                        ));
                        Self::mark_pending(resp);
                    }
                    Some(_) => cx.log(format!("GetChange {id}: INSYNC")),
                    None => {}
                }
            }
            _ => {}
        }
        After::Deliver
    }
}

/// Rule 12. ACM validates through public DNS: a requested certificate stays
/// PENDING_VALIDATION until its validation CNAME resolves from the internet, that is in
/// the hosted zone the registrar delegates to (`registrar`: the names whose zone in this
/// account the registrar points at), or in a zone that one delegates to with NS records.
pub struct PublicDns {
    registrar: Vec<String>,
    validated: HashSet<String>,
}

impl PublicDns {
    pub const NAME: &'static str = "public dns";

    /// The registrar delegates each of `registered` to this account's zone of that name.
    pub fn new(registered: &[&str]) -> Box<Self> {
        Box::new(PublicDns {
            registrar: registered.iter().map(|r| fqdn(r)).collect(),
            validated: HashSet::new(),
        })
    }

    /// Why `name` does not resolve publicly, or `Ok` when it does.
    fn resolves(&self, cx: &Cx, name: &str) -> Result<(), String> {
        let port = cx.moto_port();
        let zones: Vec<ZoneInfo> = moto_zones(port)
            .into_iter()
            .filter(|z| !z.private)
            .collect();
        let Some(registered) = self
            .registrar
            .iter()
            .filter(|r| within(name, r))
            .max_by_key(|r| r.len())
        else {
            return Err(format!(
                "no registrar delegates a domain that contains {name}"
            ));
        };
        let Some(mut zone) = zones.iter().find(|z| fqdn(&z.name) == *registered) else {
            return Err(format!(
                "the registrar delegates {registered} to no hosted zone of this account"
            ));
        };
        for _ in 0..8 {
            let records = moto_records(port, &zone.id);
            let delegation = records
                .iter()
                .filter(|r| {
                    r.record_type == "NS"
                        && fqdn(&r.name) != fqdn(&zone.name)
                        && within(name, &r.name)
                })
                .max_by_key(|r| r.name.len());
            if let Some(ns) = delegation {
                zone = zones
                    .iter()
                    .find(|z| fqdn(&z.name) == fqdn(&ns.name))
                    .ok_or_else(|| {
                        format!(
                            "{} delegates {} to a zone outside this account",
                            zone.name, ns.name
                        )
                    })?;
                continue;
            }
            return if records
                .iter()
                .any(|r| r.record_type == "CNAME" && fqdn(&r.name) == fqdn(name))
            {
                Ok(())
            } else {
                Err(format!(
                    "{} (the zone public DNS reaches) has no CNAME {name}",
                    zone.name
                ))
            };
        }
        Err("delegation loop".into())
    }
}

impl Rule for PublicDns {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn after(&mut self, req: &Request, resp: &mut Response, cx: &Cx) -> After {
        if !resp.is_success() || req.operation() != "DescribeCertificate" {
            return After::Deliver;
        }
        let Some(mut j) = resp.json() else {
            return After::Deliver;
        };
        let cert = &mut j["Certificate"];
        let arn = cert["CertificateArn"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if cert["Type"] != "AMAZON_ISSUED"
            || cert["Status"] != "ISSUED"
            || self.validated.contains(&arn)
        {
            return After::Deliver;
        }
        let names: Vec<String> = cert["DomainValidationOptions"]
            .as_array()
            .map(|o| {
                o.iter()
                    .filter_map(|v| v["ResourceRecord"]["Name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let problems: Vec<String> = names
            .iter()
            .filter_map(|n| self.resolves(cx, n).err())
            .collect();
        if problems.is_empty() && !names.is_empty() {
            cx.log(format!(
                "DescribeCertificate {arn}: validation record resolves publicly: ISSUED"
            ));
            self.validated.insert(arn);
            return After::Deliver;
        }
        cert["Status"] = json!("PENDING_VALIDATION");
        if let Some(options) = cert["DomainValidationOptions"].as_array_mut() {
            for o in options {
                o["ValidationStatus"] = json!("PENDING_VALIDATION");
            }
        }
        resp.set_json(&j);
        cx.log(format!(
            "DescribeCertificate {arn}: PENDING_VALIDATION: {}",
            problems.join("; ")
        ));
        After::Deliver
    }
}

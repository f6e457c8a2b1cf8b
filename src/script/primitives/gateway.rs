//! The rehearsal gateway and the probe for scripts: `serve` starts a local mTLS server for
//! the rest of the run, `probe` checks an HTTPS endpoint with (or without) a client
//! certificate and returns what happened as data.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use rhai::{Array, Dynamic, Map};

use super::{bound, Opts, Registrar};
use crate::effects::{Action, Kind, Op, Unknown};
use crate::error::Error;
use crate::gateway::{probe, Gateway, ProbeOptions, ProbeResult, ServeConfig};
use crate::script::Context;

pub(super) fn register(reg: &mut Registrar<'_>, ctx: &Rc<Context>) {
    bound!(reg, ctx, "serve", "serve(opts: map) -> map", "Start the local mTLS gateway for the rest of the run. opts: cert, key, chain, truststore, listen (default 127.0.0.1:0), crl (revocation lists: a client they name gets 403). Returns #{ addr, port, url }.", |c, opts: Map| -> Map { serve(c, &opts) });
    bound!(reg, ctx, "probe", "probe(url: string, opts: map) -> map", "HTTPS request to `url`. opts: cert, key (client identity), ca (roots), resolve (\"ip:port\" to connect to), timeout_ms. Returns #{ ok, status, body, json, headers, server_chain, tls_version, error, failed_at (resolve|connect|handshake|request|timeout), refused }.", |c, url: &str, opts: Map| -> Map { probe_url(c, url, &opts) });
}

const SERVE_OPTIONS: [&str; 6] = ["cert", "key", "chain", "truststore", "listen", "crl"];

fn serve(ctx: &Context, map: &Map) -> Result<Map, Error> {
    let o = Opts::new("serve", map);
    o.only(&SERVE_OPTIONS)?;
    let listen_text = o
        .opt_str("listen")?
        .unwrap_or_else(|| "127.0.0.1:0".to_string());
    let listen: SocketAddr = listen_text.parse().map_err(|_| {
        Error::invalid_argument(
            "serve",
            "listen",
            format!("{listen_text:?} is not an address"),
            "use IP:PORT, e.g. 127.0.0.1:8443 (port 0 picks a free one)",
        )
    })?;
    let cert = o.str("cert")?;
    let key = o.str("key")?;
    let chain = o.opt_str("chain")?;
    let truststore = o.str("truststore")?;
    let crl = o.opt_str("crl")?;
    let mut action = Action::new(
        Op::Create,
        Kind::LocalGateway,
        &listen_text,
        "started for this run",
    )
    .arg("cert", &cert)
    .arg("truststore", &truststore);
    if let Some(chain) = &chain {
        action = action.arg("chain", chain);
    }
    if let Some(crl) = &crl {
        action = action.arg("crl", crl);
    }
    action = action.arg("key", &key);
    let cfg = ServeConfig {
        cert: ctx.workdir.path_for_reading(&cert)?,
        key: ctx.workdir.path_for_reading(&key)?,
        chain: chain
            .as_deref()
            .map(|c| ctx.workdir.path_for_reading(c))
            .transpose()?,
        truststore: ctx.workdir.path_for_reading(&truststore)?,
        listen,
        crl: crl
            .as_deref()
            .map(|c| ctx.workdir.path_for_reading(c))
            .transpose()?,
    };
    let started = ctx.effects.apply(action, || {
        let gateway = ctx.block_on(Gateway::start(&cfg))??;
        let addr = gateway.local_addr();
        ctx.gateways.borrow_mut().push(gateway);
        Ok(addr)
    })?;
    let mut m = Map::new();
    match started {
        Some(addr) => {
            m.insert("addr".into(), addr.to_string().into());
            m.insert("port".into(), i64::from(addr.port()).into());
            m.insert("url".into(), format!("https://{addr}").into());
        }
        None => {
            for k in ["addr", "port", "url"] {
                m.insert(k.into(), Dynamic::from(Unknown));
            }
        }
    }
    Ok(m)
}

const PROBE_OPTIONS: [&str; 5] = ["cert", "key", "ca", "resolve", "timeout_ms"];

fn probe_url(ctx: &Context, url: &str, map: &Map) -> Result<Map, Error> {
    let o = Opts::new("probe", map);
    o.only(&PROBE_OPTIONS)?;
    let path = |k: &str| -> Result<Option<std::path::PathBuf>, Error> {
        o.opt_str(k)?
            .map(|p| ctx.workdir.path_for_reading(&p))
            .transpose()
    };
    // In a plan the gateway was never started: its address is unknown, and so is the result.
    let resolve_unknown = o.is_unknown("resolve");
    let resolve = if resolve_unknown {
        None
    } else {
        match o.opt_str("resolve")? {
            Some(r) => Some(r.parse::<SocketAddr>().map_err(|_| {
                Error::invalid_argument(
                    "probe",
                    "resolve",
                    format!("{r:?} is not IP:PORT"),
                    "e.g. \"127.0.0.1:8443\"",
                )
            })?),
            None => None,
        }
    };
    let timeout_ms = o.opt_int("timeout_ms")?.unwrap_or(10_000).clamp(1, 600_000);
    let opts = ProbeOptions {
        cert: path("cert")?,
        key: path("key")?,
        ca: path("ca")?,
        timeout: Duration::from_millis(timeout_ms as u64),
        resolve,
    };
    let identity = match (&opts.cert, o.opt_str("cert")?) {
        (Some(_), Some(c)) => c,
        _ => "none".to_string(),
    };
    let action = Action::new(Op::Check, Kind::HttpsProbe, url, "read-only request")
        .arg("client_cert", identity);
    let result = ctx
        .effects
        .apply(action, || Ok(ctx.block_on(probe(url, &opts))??))?;
    Ok(match result {
        Some(r) => probe_map(&r),
        None => {
            let mut m = Map::new();
            for k in [
                "ok",
                "status",
                "body",
                "json",
                "headers",
                "server_chain",
                "tls_version",
                "error",
                "failed_at",
                "refused",
            ] {
                m.insert(k.into(), Dynamic::from(Unknown));
            }
            m.insert("url".into(), url.into());
            m
        }
    })
}

fn probe_map(r: &ProbeResult) -> Map {
    let mut m = Map::new();
    m.insert("url".into(), r.url.clone().into());
    m.insert(
        "ok".into(),
        r.status.is_some_and(|s| (200..300).contains(&s)).into(),
    );
    m.insert(
        "status".into(),
        r.status.map_or(Dynamic::UNIT, |s| i64::from(s).into()),
    );
    m.insert("body".into(), r.body.clone().into());
    m.insert(
        "json".into(),
        serde_json::from_str::<serde_json::Value>(&r.body)
            .map_or(Dynamic::UNIT, |v| json_to_dynamic(&v)),
    );
    let headers: Map = r
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
        .collect();
    m.insert("headers".into(), headers.into());
    let chain: Array = r.server_chain.iter().cloned().map(Dynamic::from).collect();
    m.insert("server_chain".into(), chain.into());
    m.insert(
        "tls_version".into(),
        r.tls_version.clone().map_or(Dynamic::UNIT, Dynamic::from),
    );
    m.insert(
        "error".into(),
        r.error.clone().map_or(Dynamic::UNIT, Dynamic::from),
    );
    m.insert(
        "failed_at".into(),
        r.failed_at.map_or(Dynamic::UNIT, |f| f.name().into()),
    );
    m.insert(
        "refused".into(),
        r.failed_at.is_some_and(|f| f.is_refusal()).into(),
    );
    m
}

/// JSON as Rhai values: objects become maps, arrays arrays, numbers int or float.
pub(crate) fn json_to_dynamic(v: &serde_json::Value) -> Dynamic {
    use serde_json::Value as J;
    match v {
        J::Null => Dynamic::UNIT,
        J::Bool(b) => (*b).into(),
        J::Number(n) => n
            .as_i64()
            .map_or_else(|| n.as_f64().unwrap_or(f64::NAN).into(), Dynamic::from),
        J::String(s) => s.clone().into(),
        J::Array(a) => a.iter().map(json_to_dynamic).collect::<Array>().into(),
        J::Object(o) => o
            .iter()
            .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
            .collect::<Map>()
            .into(),
    }
}

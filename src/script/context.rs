//! What the primitives of one run share: the working folder, the effects boundary, the
//! variables, AWS access, background work and where notices go.

use std::collections::BTreeMap;

use super::KeyPool;
use crate::effects::Effects;
use crate::error::Error;
use crate::pki::lint::Expiry;
use crate::workdir::Workdir;

/// How many days before a certificate expires a run starts warning about it.
pub(crate) const DEFAULT_EXPIRY_WARNING_DAYS: i64 = 30;

/// Where a run's text goes (the script's `print`, notices): any thread may call it.
pub type Printer = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// What the primitives of one run share.
pub(crate) struct Context {
    pub workdir: Workdir,
    pub effects: Effects,
    pub vars: BTreeMap<String, String>,
    /// `--force`: replace what exists instead of keeping it.
    pub force: bool,
    pub keys: KeyPool,
    /// Started on first use: most PKI-only runs never need it.
    pub tokio: std::cell::OnceCell<tokio::runtime::Runtime>,
    /// Gateways `serve` started; stopped when the run ends.
    pub gateways: std::cell::RefCell<Vec<crate::gateway::Gateway>>,
    pub aws: AwsAccess,
    /// Set by Ctrl-C: the script stops at its next operation, a wait at once.
    pub interrupt: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Where warnings about the run go (not the script's own output).
    pub notices: Printer,
    /// The locks the run holds (released when it ends) and the domains its plan named.
    pub locks: super::RunLocks,
}

/// How a run reaches AWS: settings, and the clients, connected on first use so that runs
/// that never touch AWS never load its configuration.
#[derive(Default)]
pub(crate) struct AwsAccess {
    pub settings: crate::aws::AwsSettings,
    pub client: std::cell::OnceCell<crate::aws::Aws>,
}

impl Context {
    pub(crate) fn new(
        workdir: Workdir,
        effects: Effects,
        vars: BTreeMap<String, String>,
        force: bool,
    ) -> Self {
        Context {
            aws: AwsAccess::default(),
            workdir,
            effects,
            vars,
            force,
            keys: KeyPool::default(),
            tokio: std::cell::OnceCell::new(),
            gateways: std::cell::RefCell::new(Vec::new()),
            interrupt: Default::default(),
            notices: std::sync::Arc::new(|s| eprintln!("{s}")),
            locks: Default::default(),
        }
    }

    /// Warns, once, in the plan and on the notice sink, when `what` expires (`not_after`)
    /// within `--var expiry_warning_days` (30 by default; 0 turns the warnings off).
    /// `renew` says what to do about it.
    pub(crate) fn warn_if_expiring(
        &self,
        what: &str,
        not_after: time::OffsetDateTime,
        renew: &str,
    ) {
        let days = self
            .vars
            .get("expiry_warning_days")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(DEFAULT_EXPIRY_WARNING_DAYS);
        if days == 0 {
            return;
        }
        let date = not_after.date();
        let when = match crate::pki::lint::expiry_within(not_after, time::Duration::days(days)) {
            None => return,
            Some(Expiry::Expired) => format!("expired on {date}"),
            Some(Expiry::InDays(left)) => format!("expires in {left} days, on {date}"),
        };
        let text = format!("{what} {when}: {renew}");
        if self.effects.warn(&text) {
            self.notice(&format!("warning: {text}"));
        }
    }

    /// [`Context::warn_if_expiring`] for a certificate file: names it by path and subject.
    pub(crate) fn warn_if_cert_expiring(
        &self,
        path: &str,
        cert: &crate::pki::ParsedCert,
        renew: &str,
    ) {
        if let (Ok(not_after), Ok(info)) = (cert.not_after(), cert.info()) {
            self.warn_if_expiring(&format!("{path} ({})", info.subject), not_after, renew);
        }
    }

    /// A warning about the run, through the run's notice sink (standard error for the CLI).
    /// The log gets it at debug level only: at the default level it would print it twice.
    pub(crate) fn notice(&self, text: &str) {
        tracing::debug!("{text}");
        (self.notices)(text)
    }

    /// Runs a future to completion for a synchronous primitive.
    pub(crate) fn block_on<F: std::future::Future>(&self, fut: F) -> Result<F::Output, Error> {
        if self.tokio.get().is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|source| Error::Io {
                    action: "start the async runtime for",
                    path: "network and AWS calls".into(),
                    source,
                })?;
            let _ = self.tokio.set(rt);
        }
        let interrupt = self.interrupt.clone();
        let interrupted = async move {
            while !interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        };
        match self.tokio.get() {
            // A wait (or a call) ends at once on Ctrl-C; like kill -9 at that point, a
            // re-run picks up from what exists.
            Some(rt) => rt.block_on(async {
                tokio::select! {
                    out = fut => Ok(out),
                    () = interrupted => Err(Error::Interrupted),
                }
            }),
            None => Err(Error::internal(
                "start the async runtime",
                "unavailable after starting",
            )),
        }
    }

    /// Ends what the run started in the background (gateways), and releases its locks:
    /// whatever the result (an error, Ctrl-C), another run may go on once this one ends.
    pub(crate) fn finish(&self) {
        let gateways: Vec<_> = self.gateways.borrow_mut().drain(..).collect();
        for g in gateways {
            let _ = self.block_on(g.shutdown());
        }
        self.locks.release_all();
    }
}

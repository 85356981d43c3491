//! Subscription reloads: debounced, coalesced, one in flight, spaced; a failure keeps the old set.
//!
//! Triggers (a watchlist file or Redis key changed) go through a one-slot channel, so any
//! number of triggers while a reload is pending collapse into one. The reloader waits for a
//! quiet period (`debounce`, 1 s; at most `max_debounce`, 5 s, under a constant stream of
//! triggers), then for `min_interval` (5 s) since the previous reload started, runs the loader,
//! and publishes the new set on a `watch` channel only when it succeeded and differs. Loads run
//! one after another in this single task, so at most one is ever in flight.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ivcrush_core::Symbol;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::TickerError;
use crate::snapshot::parse_occ;
use crate::stats::Stats;

/// A subscribed symbol list (sorted, de-duplicated, upper case).
pub type SymbolSet = Arc<[String]>;

/// Reload timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadPolicy {
    /// Quiet time after the last trigger before reloading. Default 1 s.
    pub debounce: Duration,
    /// Longest wait from the first trigger under a constant stream of triggers. Default 5 s.
    pub max_debounce: Duration,
    /// Least time between the starts of two reloads. Default 5 s.
    pub min_interval: Duration,
}

impl Default for ReloadPolicy {
    fn default() -> Self {
        ReloadPolicy {
            debounce: Duration::from_secs(1),
            max_debounce: Duration::from_secs(5),
            min_interval: Duration::from_secs(5),
        }
    }
}

/// Asks for a reload; cheap to clone; never blocks (a pending trigger absorbs new ones).
#[derive(Debug, Clone)]
pub struct ReloadTrigger(mpsc::Sender<()>);

impl ReloadTrigger {
    /// Requests a reload.
    pub fn trigger(&self) {
        let _ = self.0.try_send(());
    }
}

/// The reload loop (see the module docs).
#[derive(Debug)]
pub struct Reloader {
    policy: ReloadPolicy,
    rx: mpsc::Receiver<()>,
    tx: mpsc::Sender<()>,
}

impl Reloader {
    /// A reloader with `policy`.
    pub fn new(policy: ReloadPolicy) -> Reloader {
        let (tx, rx) = mpsc::channel(1);
        Reloader { policy, rx, tx }
    }

    /// A handle that requests reloads.
    pub fn trigger(&self) -> ReloadTrigger {
        ReloadTrigger(self.tx.clone())
    }

    /// Runs until `cancel` fires. `load` produces the new set; on success a different set is
    /// sent on `publish`; on failure the error is logged, counted, and the old set stays.
    pub async fn run<L, Fut>(
        mut self,
        mut load: L,
        publish: watch::Sender<SymbolSet>,
        stats: Arc<Stats>,
        cancel: CancellationToken,
    ) where
        L: FnMut() -> Fut,
        Fut: Future<Output = Result<Vec<String>, TickerError>>,
    {
        drop(self.tx); // only external triggers keep the channel open
        let mut last_start: Option<Instant> = None;
        loop {
            // 1. Wait for a trigger.
            tokio::select! {
                () = cancel.cancelled() => return,
                t = self.rx.recv() => if t.is_none() { return },
            }
            // 2. Debounce: wait for a quiet period, bounded by max_debounce.
            let first = Instant::now();
            let hard_deadline = first + self.policy.max_debounce;
            let mut quiet_until = first + self.policy.debounce;
            loop {
                let wake = quiet_until.min(hard_deadline);
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep_until(wake) => break,
                    t = self.rx.recv() => match t {
                        Some(()) => quiet_until = Instant::now() + self.policy.debounce,
                        None => break,
                    },
                }
            }
            // 3. Spacing: at least min_interval between reload starts; triggers meanwhile
            //    are absorbed into this reload.
            if let Some(prev) = last_start {
                let ready = prev + self.policy.min_interval;
                tokio::select! {
                    () = cancel.cancelled() => return,
                    () = tokio::time::sleep_until(ready) => {}
                }
            }
            while self.rx.try_recv().is_ok() {}
            // 4. Reload (the only one in flight: this task awaits it).
            last_start = Some(Instant::now());
            match load().await {
                Ok(symbols) => {
                    let set = normalize(symbols);
                    stats.add_reload(true);
                    if *publish.borrow() != set {
                        tracing::info!(symbols = set.len(), "subscriptions reloaded");
                        publish.send_replace(set);
                    } else {
                        tracing::debug!("subscriptions reloaded; unchanged");
                    }
                }
                Err(e) => {
                    stats.add_reload(false);
                    tracing::warn!(
                        error = &e as &dyn std::error::Error,
                        "subscription reload failed; keeping the old set"
                    );
                }
            }
        }
    }
}

/// Sorted, de-duplicated, upper-case symbols.
pub fn normalize(symbols: Vec<String>) -> SymbolSet {
    let mut v: Vec<String> = symbols
        .into_iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v.into()
}

/// Splits a symbol list on commas, whitespace and newlines; `#` starts a comment line. An
/// underlying is normalised as everywhere else ([`Symbol`]: `brk-b` is `BRK.B`); an OCC option
/// symbol is kept as given (upper-cased).
///
/// # Errors
/// [`TickerError::Symbols`] when the list is empty or an entry is neither a valid ticker nor an
/// OCC option symbol.
pub fn parse_symbol_list(text: &str, source_name: &str) -> Result<Vec<String>, TickerError> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        for s in line.split(|c: char| c == ',' || c.is_whitespace()) {
            if s.is_empty() {
                continue;
            }
            let upper = s.to_ascii_uppercase();
            if parse_occ(&upper).is_some() {
                out.push(upper);
                continue;
            }
            let symbol = Symbol::parse(s).map_err(|e| TickerError::Symbols {
                source_name: source_name.to_owned(),
                message: e.to_string(),
            })?;
            out.push(symbol.into_string());
        }
    }
    if out.is_empty() {
        return Err(TickerError::Symbols {
            source_name: source_name.to_owned(),
            message: "no symbols".to_owned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_lists_split_on_commas_spaces_and_lines() {
        let v = parse_symbol_list("aapl, MSFT\n# comment\nkvlt  spy # trailing\n", "t")
            .expect("a valid list");
        assert_eq!(v, ["AAPL", "MSFT", "KVLT", "SPY"]);
        assert!(parse_symbol_list("  \n# only a comment", "t").is_err());
        assert!(parse_symbol_list("AAPL; DROP", "t").is_err());
        assert_eq!(
            parse_symbol_list("brk-b aapl260130c00250000", "t").expect("valid"),
            ["BRK.B", "AAPL260130C00250000"],
            "class shares as everywhere else; OCC symbols as given"
        );
    }
}

//! Health of the dependencies and the capabilities that need them (spec: resilience, Health).

use crate::context::App;
use ivcrush_resilience::{Criticality, HealthRegistry, HealthReport};
use std::time::Duration;

/// Free disk below this fails the disk check.
const MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;
/// Timeout of every check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Health of the dependencies (see the module docs).
#[derive(Clone, Copy)]
pub struct Health<'a> {
    app: &'a App,
}

impl App {
    /// Health of the dependencies.
    pub fn health(&self) -> Health<'_> {
        Health { app: self }
    }
}

impl Health<'_> {
    /// The health registry of this process: database, market data, disk and the vendor pings;
    /// capabilities `scan` and `analyze` need the database, the market data and the vendors
    /// (critical) and disk (optional); vendor breakers are folded in (open → DEGRADED).
    pub fn registry(self) -> HealthRegistry {
        let mut reg = HealthRegistry::new();
        let store = self.app.store.clone();
        reg.add_check("database", CHECK_TIMEOUT, move || {
            let store = store.clone();
            async move {
                store
                    .ping()
                    .await
                    .map(|()| format!("{} reachable and writable", store.backend().as_str()))
                    .map_err(|e| e.to_string())
            }
        });
        let market = self.app.market.clone();
        reg.add_check("market_data", CHECK_TIMEOUT, move || {
            let market = market.clone();
            async move {
                // The cheapest read every provider supports; vendors add their own pings.
                match market.options.quotes(&[]).await {
                    Ok(_) => Ok(format!("{} answering", market.source)),
                    Err(e) => Err(e.to_string()),
                }
            }
        });
        reg.add_check("disk", CHECK_TIMEOUT, || async {
            let free = fs4::available_space(".").map_err(|e| format!("cannot stat disk: {e}"))?;
            if free >= MIN_FREE_BYTES {
                Ok(format!("{} MiB free", free / (1024 * 1024)))
            } else {
                Err(format!("only {} MiB free", free / (1024 * 1024)))
            }
        });
        let mut needs: Vec<(&str, Criticality)> = vec![
            ("database", Criticality::Critical),
            ("market_data", Criticality::Critical),
            ("disk", Criticality::Optional),
        ];
        for v in &self.app.vendor_pings {
            let ping = v.ping.clone();
            reg.add_check(v.name, CHECK_TIMEOUT, move || ping());
            needs.push((v.name, Criticality::Critical));
        }
        for snap in self.app.breakers.list() {
            if let Some(b) = self.app.breakers.get(&snap.name) {
                reg.add_breaker(&snap.name, b);
            }
        }
        for cap in ["scan", "analyze"] {
            reg.add_capability(cap, &needs);
        }
        reg
    }

    /// Runs every check concurrently.
    pub async fn check(self) -> HealthReport {
        self.registry().check().await
    }
}

//! Health of the dependencies and the capabilities that need them (spec: resilience, Health).
//!
//! Two ways to ask. `ivcrush health` ([`Health::check`]) is a deliberate, one-shot question:
//! it pings every vendor. A readiness probe ([`Health::readiness`]) runs every few seconds on
//! every instance, so it must be cheap, local and side-effect free: it reads the database
//! without writing, and reports each vendor from the last ping of a background task
//! ([`Health::refresh_vendors`]), never calling a vendor itself (a probe must not spend the
//! quota, wait on the rate limiter, or open the production breaker). Vendors without a cheap
//! ping (Alpha Vantage's 25 requests a day) are reported passively, from their breaker.

use crate::config::AppConfig;
use crate::context::App;
use crate::vendor_status::LastPing;
use ivcrush_resilience::{CheckResult, Criticality, HealthRegistry, HealthReport};
use std::time::Duration;
use tokio::time::Instant;

/// Free disk below this fails the disk check.
const MIN_FREE_BYTES: u64 = 512 * 1024 * 1024;
/// Timeout of every local check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Timeout of one background vendor ping: long enough to wait for a rate-limiter token, since
/// no probe waits on it.
pub const VENDOR_PING_TIMEOUT: Duration = Duration::from_secs(10);

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

/// `ivcrush health` for `config`, creating and migrating nothing: a database that does not
/// exist (or cannot be opened) is reported DOWN with the reason, naming the file or server,
/// instead of being created; a schema behind this binary is named (its pending migrations
/// are applied by the next command that opens the store normally).
///
/// # Errors
/// [`AppError`](crate::AppError) when the provider is not configured.
pub async fn check_existing(config: AppConfig) -> Result<HealthReport, crate::AppError> {
    match ivcrush_store::open_store_with(&config.database(), ivcrush_store::OpenMode::Existing)
        .await
    {
        Ok(store) => Ok(App::with_store(config, store)?.health().check().await),
        Err(e) => {
            let reason = crate::error::error_report(&e);
            let mut reg = HealthRegistry::new();
            reg.add_check("database", CHECK_TIMEOUT, move || {
                let answer = Err(reason.clone());
                async move { answer }
            });
            for cap in ["scan", "analyze"] {
                reg.add_capability(cap, &[("database", Criticality::Critical)]);
            }
            Ok(reg.check().await)
        }
    }
}

/// The database check's answer for a reachable database with migrations `status`.
fn schema_message(up: String, status: &ivcrush_store::MigrationStatus) -> CheckResult {
    let names = |ms: &[ivcrush_store::Migration]| {
        ms.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !status.failed.is_empty() {
        return Err(format!(
            "{up}, but migration {} failed part-way: repair the schema",
            names(&status.failed)
        ));
    }
    if !status.unknown.is_empty() {
        return Err(format!(
            "{up}, but its schema is newer than this binary (migrations {} unknown): upgrade \
             ivcrush",
            names(&status.unknown)
        ));
    }
    if status.applied.is_empty() {
        return Err(format!(
            "{up}, but it holds no ivcrush schema (no migration applied)"
        ));
    }
    if !status.pending.is_empty() {
        return Ok(format!(
            "{up}; {} migration(s) pending ({}), applied when the store is next opened for work",
            status.pending.len(),
            names(&status.pending)
        ));
    }
    Ok(format!(
        "{up}; schema current ({} migrations)",
        status.applied.len()
    ))
}

/// Where a registry's vendor checks get their answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum VendorCheck {
    /// Ping now.
    Live,
    /// Read the last background ping.
    Cached,
}

impl Health<'_> {
    /// The health registry of this process with live vendor pings (see [`Health::check`]).
    pub fn registry(self) -> HealthRegistry {
        self.build(VendorCheck::Live)
    }

    /// The registry a readiness probe runs: local checks only, vendors from the last
    /// background ping. Add the serving capability and make it primary
    /// ([`HealthRegistry::set_primary`]) so that a vendor outage degrades the service
    /// instead of taking it out of the load balancer.
    pub fn readiness(self) -> HealthRegistry {
        self.build(VendorCheck::Cached)
    }

    /// Database (read, and writable without writing), market data (for local providers),
    /// disk, the vendor pings and every vendor breaker; capabilities `scan` and `analyze` need
    /// the database, the market data and the vendors (critical) and disk (optional); vendor
    /// breakers are folded in (open → DEGRADED).
    fn build(self, vendors: VendorCheck) -> HealthRegistry {
        let mut reg = HealthRegistry::new();
        let store = self.app.store.clone();
        // The one-shot check also compares the schema with this binary's migrations; a
        // readiness probe, every few seconds on a process that migrated at start, does not.
        let schema = vendors == VendorCheck::Live;
        reg.add_check("database", CHECK_TIMEOUT, move || {
            let store = store.clone();
            async move {
                store
                    .ping()
                    .await
                    .map_err(|e| crate::error::error_report(&e))?;
                let up = format!("{} reachable and writable", store.backend().as_str());
                if !schema {
                    return Ok(up);
                }
                let status = store
                    .migration_status()
                    .await
                    .map_err(|e| crate::error::error_report(&e))?;
                schema_message(up, &status)
            }
        });
        let mut needs: Vec<(String, Criticality)> = vec![
            ("database".to_string(), Criticality::Critical),
            ("disk".to_string(), Criticality::Optional),
        ];
        if self.app.vendor_pings.is_empty() {
            // A local provider (simulated market, files): reading it is free.
            let market = self.app.market.clone();
            reg.add_check("market_data", CHECK_TIMEOUT, move || {
                let market = market.clone();
                async move {
                    match market.options.quotes(&[]).await {
                        Ok(_) => Ok(format!("{} answering", market.source)),
                        Err(e) => Err(e.to_string()),
                    }
                }
            });
            needs.push(("market_data".to_string(), Criticality::Critical));
        }
        reg.add_check("disk", CHECK_TIMEOUT, || async {
            let free = fs4::available_space(".").map_err(|e| format!("cannot stat disk: {e}"))?;
            if free >= MIN_FREE_BYTES {
                Ok(format!("{} MiB free", free / (1024 * 1024)))
            } else {
                Err(format!("only {} MiB free", free / (1024 * 1024)))
            }
        });
        for v in &self.app.vendor_pings {
            match vendors {
                VendorCheck::Live => {
                    let ping = v.ping.clone();
                    reg.add_check(v.name, VENDOR_PING_TIMEOUT, move || ping());
                }
                VendorCheck::Cached => {
                    let status = self.app.vendor_status.clone();
                    let name = v.name;
                    reg.add_check(v.name, CHECK_TIMEOUT, move || {
                        let answer = status.report(name);
                        async move { answer }
                    });
                }
            }
            needs.push((v.name.to_string(), Criticality::Critical));
        }
        for snap in self.app.breakers.list() {
            let Some(breaker) = self.app.breakers.get(&snap.name) else {
                continue;
            };
            if !self.app.vendor_pings.iter().any(|v| v.name == snap.name) {
                // No cheap ping (a daily quota): judged by what its real calls did.
                let passive = breaker.clone();
                reg.add_check(&snap.name, CHECK_TIMEOUT, move || {
                    let totals = passive.snapshot().totals;
                    let answer = Ok(format!(
                        "not pinged (its quota is too small to spend on probes); \
                         {} calls succeeded and {} failed since start",
                        totals.success, totals.failure
                    ));
                    async move { answer }
                });
                needs.push((snap.name.clone(), Criticality::Critical));
            }
            reg.add_breaker(&snap.name, breaker);
        }
        if let Some(fleet) = self.app.fleet.clone() {
            // Optional: without Redis each process spends its own share and keeps its own
            // breakers, so the service works, DEGRADED.
            reg.add_check("fleet", CHECK_TIMEOUT, move || {
                let fleet = fleet.clone();
                async move { fleet_report(&fleet.health().await) }
            });
            needs.push(("fleet".to_string(), Criticality::Optional));
        }
        let needs: Vec<(&str, Criticality)> = needs.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        for cap in ["scan", "analyze"] {
            reg.add_capability(cap, &needs);
        }
        reg
    }

    /// Runs every check concurrently, pinging the vendors now (`ivcrush health`): a vendor
    /// down makes the process DOWN, since a scan could not run.
    pub async fn check(self) -> HealthReport {
        self.registry().check().await
    }

    /// Pings every vendor once, concurrently, and keeps the answers for
    /// [`Health::readiness`]. Servers call it on an interval. A ping is one direct request on
    /// its own budget (one per vendor per interval, a small share of the vendor's quota):
    /// outside the request limiter and the breaker, so that health checks never wait behind
    /// a scan's quota nor open the breaker production calls rely on.
    pub async fn refresh_vendors(self) {
        let pings = self.app.vendor_pings.iter().map(|v| {
            let ping = v.ping.clone();
            let status = self.app.vendor_status.clone();
            async move {
                let started = Instant::now();
                let result = match tokio::time::timeout(VENDOR_PING_TIMEOUT, ping()).await {
                    Ok(result) => result,
                    Err(_) => Err(format!(
                        "no answer within {} s",
                        VENDOR_PING_TIMEOUT.as_secs()
                    )),
                };
                if let Err(reason) = &result {
                    tracing::warn!(vendor = v.name, reason = %reason, "vendor ping failed");
                }
                status.record(
                    v.name,
                    LastPing {
                        result,
                        at: Instant::now(),
                        took: started.elapsed(),
                    },
                );
            }
        });
        futures::future::join_all(pings).await;
    }

    /// Whether any vendor is pinged (servers skip the background task otherwise).
    pub fn has_vendor_pings(self) -> bool {
        !self.app.vendor_pings.is_empty()
    }
}

/// The fleet's health as a check answer: healthy only when Redis answers and neither the
/// quota nor the breakers fell back.
fn fleet_report(health: &ivcrush_fleet::FleetHealth) -> Result<String, String> {
    let mut problems = Vec::new();
    if let Err(e) = &health.redis {
        problems.push(e.clone());
    }
    if health.quota_fallback {
        problems.push("vendor quota: this process spends its own share".to_owned());
    }
    if health.breakers_fallback {
        problems.push("breakers: this process's own".to_owned());
    }
    if health.cache_fallback {
        problems.push("vendor data: cached in this process's database only".to_owned());
    }
    if problems.is_empty() {
        Ok("redis answering; vendor quota, breakers and cached vendor data shared".to_owned())
    } else {
        Err(problems.join("; "))
    }
}

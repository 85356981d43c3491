//! Health: concurrent checks with timeouts, a capability → dependency graph, breaker states.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::breaker::CircuitBreaker;
use crate::breaker::core::BreakerState;

/// Health of a dependency, a capability or the whole process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthStatus {
    /// Everything works.
    Up,
    /// Works with reduced service (a non-critical dependency down, a breaker open).
    Degraded,
    /// A critical dependency is down.
    Down,
}

impl HealthStatus {
    /// Process exit status for `ivcrush health`: 0 UP, 1 DOWN, 2 DEGRADED.
    pub fn exit_code(self) -> i32 {
        match self {
            HealthStatus::Up => 0,
            HealthStatus::Down => 1,
            HealthStatus::Degraded => 2,
        }
    }

    /// HTTP status for `/health/ready`: 503 when DOWN, else 200.
    pub fn http_status(self) -> u16 {
        match self {
            HealthStatus::Down => 503,
            _ => 200,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Up => "UP",
            HealthStatus::Degraded => "DEGRADED",
            HealthStatus::Down => "DOWN",
        }
    }
}

/// Whether a capability cannot work without a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criticality {
    /// Down dependency → the capability and the process are DOWN.
    Critical,
    /// Down dependency → DEGRADED.
    Optional,
}

/// What a check future returns: `Ok(message)` when healthy, `Err(message)` when not.
pub type CheckResult = Result<String, String>;

type CheckFuture = Pin<Box<dyn Future<Output = CheckResult> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// Default timeout of one check: 2 s.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Dependency {
    check: Option<(CheckFn, Duration)>,
    breaker: Option<CircuitBreaker>,
}

/// The result for one dependency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependencyReport {
    /// Dependency name.
    pub name: String,
    /// DOWN when the check failed or timed out, DEGRADED when its breaker is not CLOSED.
    pub status: HealthStatus,
    /// Whether a capability that decides the process's status needs it (its failure makes
    /// the process DOWN); see [`HealthRegistry::set_primary`].
    pub critical: bool,
    /// How long the check took, in milliseconds (the timeout when it timed out).
    pub latency_ms: u64,
    /// The check's message.
    pub message: String,
    /// Its breaker's state, if one is attached.
    pub breaker: Option<BreakerState>,
}

/// The result for one capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CapabilityReport {
    /// Capability name (scan, analyze, ticker, api, ...).
    pub name: String,
    /// Worst of its dependencies (a non-critical DOWN counts as DEGRADED).
    pub status: HealthStatus,
    /// The dependencies it uses.
    pub dependencies: Vec<String>,
}

/// A full health report, serializable for `/health/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthReport {
    /// DOWN if a critical dependency is down; DEGRADED if another is down or a breaker is
    /// open; else UP.
    pub status: HealthStatus,
    /// Capabilities, sorted by name.
    pub capabilities: Vec<CapabilityReport>,
    /// Dependencies, sorted by name.
    pub dependencies: Vec<DependencyReport>,
}

impl HealthReport {
    /// See [`HealthStatus::exit_code`].
    pub fn exit_code(&self) -> i32 {
        self.status.exit_code()
    }

    /// See [`HealthStatus::http_status`].
    pub fn http_status(&self) -> u16 {
        self.status.http_status()
    }

    /// A plain-text table for the CLI.
    pub fn table(&self) -> String {
        let width = self
            .dependencies
            .iter()
            .map(|d| d.name.len())
            .chain(self.capabilities.iter().map(|c| c.name.len()))
            .max()
            .unwrap_or(4)
            .max(10);
        let mut out = String::new();
        let _ = writeln!(out, "overall: {}", self.status.as_str());
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<8}  {:>8}  {:<11}  message",
            "dependency", "status", "critical", "ms", "breaker"
        );
        for d in &self.dependencies {
            let _ = writeln!(
                out,
                "{:<width$}  {:<8}  {:<8}  {:>8}  {:<11}  {}",
                d.name,
                d.status.as_str(),
                if d.critical { "yes" } else { "no" },
                d.latency_ms,
                d.breaker.map_or("-", BreakerState::as_str),
                d.message
            );
        }
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  dependencies",
            "capability", "status"
        );
        for c in &self.capabilities {
            let _ = writeln!(
                out,
                "{:<width$}  {:<8}  {}",
                c.name,
                c.status.as_str(),
                c.dependencies.join(", ")
            );
        }
        out
    }
}

/// Dependencies with their checks and breakers, and capabilities naming what they need.
#[derive(Default)]
pub struct HealthRegistry {
    dependencies: BTreeMap<String, Dependency>,
    capabilities: BTreeMap<String, Vec<(String, Criticality)>>,
    /// The capabilities whose critical dependencies make the whole process DOWN; `None` =
    /// all of them.
    primary: Option<Vec<String>>,
}

impl std::fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistry")
            .field(
                "dependencies",
                &self.dependencies.keys().collect::<Vec<_>>(),
            )
            .field("capabilities", &self.capabilities)
            .field("primary", &self.primary)
            .finish()
    }
}

impl HealthRegistry {
    /// An empty registry.
    pub fn new() -> HealthRegistry {
        HealthRegistry::default()
    }

    /// Registers (or replaces) the check of dependency `name`, bounded by `timeout`
    /// ([`DEFAULT_CHECK_TIMEOUT`] is the spec's 2 s).
    pub fn add_check<F, Fut>(&mut self, name: &str, timeout: Duration, check: F) -> &mut Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckResult> + Send + 'static,
    {
        let check: CheckFn = Arc::new(move || Box::pin(check()) as CheckFuture);
        self.dependencies.entry(name.to_owned()).or_default().check = Some((check, timeout));
        self
    }

    /// Folds `breaker`'s state into dependency `name` (not CLOSED → DEGRADED).
    pub fn add_breaker(&mut self, name: &str, breaker: CircuitBreaker) -> &mut Self {
        self.dependencies
            .entry(name.to_owned())
            .or_default()
            .breaker = Some(breaker);
        self
    }

    /// Declares capability `name` and the dependencies it needs.
    pub fn add_capability(&mut self, name: &str, needs: &[(&str, Criticality)]) -> &mut Self {
        for (dependency, _) in needs {
            self.dependencies
                .entry((*dependency).to_owned())
                .or_default();
        }
        self.capabilities.insert(
            name.to_owned(),
            needs.iter().map(|(d, c)| ((*d).to_owned(), *c)).collect(),
        );
        self
    }

    /// Makes only `capabilities` decide whether the process is DOWN: a dependency critical to
    /// another capability (a vendor the scan needs, say) then makes that capability DOWN and
    /// the process DEGRADED. A server that can still answer from its database is degraded,
    /// not down, when a vendor fails.
    pub fn set_primary(&mut self, capabilities: &[&str]) -> &mut Self {
        self.primary = Some(capabilities.iter().map(|c| (*c).to_owned()).collect());
        self
    }

    /// Runs every check concurrently (each under its timeout) and folds in breaker states.
    pub async fn check(&self) -> HealthReport {
        let mut tasks = tokio::task::JoinSet::new();
        for (index, dependency) in self.dependencies.values().enumerate() {
            if let Some((check, timeout)) = &dependency.check {
                let future = check();
                let timeout = *timeout;
                tasks.spawn(async move {
                    let started = Instant::now();
                    let result = match tokio::time::timeout(timeout, future).await {
                        Ok(result) => result,
                        Err(_) => Err(format!("timed out after {} ms", timeout.as_millis())),
                    };
                    (index, result, started.elapsed())
                });
            }
        }
        let mut results: Vec<Option<(CheckResult, Duration)>> = vec![None; self.dependencies.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, result, elapsed)) = joined {
                results[index] = Some((result, elapsed));
            }
        }
        let critical = |name: &str| {
            self.capabilities
                .iter()
                .filter(|(capability, _)| {
                    self.primary
                        .as_ref()
                        .is_none_or(|primary| primary.contains(capability))
                })
                .flat_map(|(_, needs)| needs)
                .any(|(d, c)| d == name && *c == Criticality::Critical)
        };
        let dependencies: Vec<DependencyReport> = self
            .dependencies
            .iter()
            .zip(results)
            .map(|((name, dependency), result)| {
                let breaker = dependency.breaker.as_ref().map(CircuitBreaker::state);
                let (mut status, latency, message) = match (&dependency.check, result) {
                    (None, _) => (HealthStatus::Up, Duration::ZERO, String::new()),
                    (Some(_), Some((Ok(message), elapsed))) => (HealthStatus::Up, elapsed, message),
                    (Some(_), Some((Err(message), elapsed))) => {
                        (HealthStatus::Down, elapsed, message)
                    }
                    (Some(_), None) => (
                        HealthStatus::Down,
                        Duration::ZERO,
                        "check panicked".to_owned(),
                    ),
                };
                if status == HealthStatus::Up
                    && breaker.is_some_and(|s| {
                        matches!(
                            s,
                            BreakerState::Open | BreakerState::HalfOpen | BreakerState::ForcedOpen
                        )
                    })
                {
                    status = HealthStatus::Degraded;
                }
                DependencyReport {
                    name: name.clone(),
                    status,
                    critical: critical(name),
                    latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
                    message,
                    breaker,
                }
            })
            .collect();
        let status_of = |name: &str| {
            dependencies
                .iter()
                .find(|d| d.name == name)
                .map_or(HealthStatus::Up, |d| d.status)
        };
        let capabilities = self
            .capabilities
            .iter()
            .map(|(name, needs)| CapabilityReport {
                name: name.clone(),
                status: needs
                    .iter()
                    .map(|(d, c)| match (status_of(d), c) {
                        (HealthStatus::Down, Criticality::Optional) => HealthStatus::Degraded,
                        (status, _) => status,
                    })
                    .max()
                    .unwrap_or(HealthStatus::Up),
                dependencies: needs.iter().map(|(d, _)| d.clone()).collect(),
            })
            .collect();
        let status = dependencies
            .iter()
            .map(|d| match d.status {
                HealthStatus::Down if !d.critical => HealthStatus::Degraded,
                status => status,
            })
            .max()
            .unwrap_or(HealthStatus::Up);
        HealthReport {
            status,
            capabilities,
            dependencies,
        }
    }
}

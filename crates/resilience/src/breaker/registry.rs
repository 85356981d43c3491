//! A named set of breakers for operators (list, reset, force open).

use std::collections::BTreeMap;

use parking_lot::RwLock;

use super::{BreakerSnapshot, CircuitBreaker};

/// All breakers of the process by name, for the HTTP API, health and the CLI.
#[derive(Debug, Default)]
pub struct BreakerRegistry {
    breakers: RwLock<BTreeMap<String, CircuitBreaker>>,
}

impl BreakerRegistry {
    /// An empty registry.
    pub fn new() -> BreakerRegistry {
        BreakerRegistry::default()
    }

    /// Adds `breaker` under its name, replacing one of the same name.
    pub fn register(&self, breaker: CircuitBreaker) {
        self.breakers
            .write()
            .insert(breaker.name().to_owned(), breaker);
    }

    /// The breaker named `name`.
    pub fn get(&self, name: &str) -> Option<CircuitBreaker> {
        self.breakers.read().get(name).cloned()
    }

    /// Snapshots of every breaker, sorted by name.
    pub fn list(&self) -> Vec<BreakerSnapshot> {
        self.breakers
            .read()
            .values()
            .map(CircuitBreaker::snapshot)
            .collect()
    }

    /// Resets the breaker named `name` to CLOSED; `false` if there is none.
    pub fn reset(&self, name: &str) -> bool {
        self.get(name).map(|b| b.reset()).is_some()
    }

    /// Forces the breaker named `name` open; `false` if there is none.
    pub fn force_open(&self, name: &str) -> bool {
        self.get(name).map(|b| b.force_open()).is_some()
    }
}

//! Integration tests of the ticker service, one binary.
//!
//! Redis-backed tests read `REDIS_URL` and print "skipping: REDIS_URL not set" without it; each
//! uses its own key prefix so tests can run in parallel.

mod common;
mod health;
mod implied;
mod outage;
mod publish;
mod reload;
mod service;
mod state;
mod supervisor;
mod tradier_ws;

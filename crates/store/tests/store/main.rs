//! Integration tests of ivcrush-store, one binary.
//!
//! Every case in `suite` runs against SQLite (a fresh temporary file per test) and, when
//! `DATABASE_URL` names a PostgreSQL server, against PostgreSQL (a fresh schema per test,
//! dropped afterwards). Without `DATABASE_URL` the PostgreSQL variants print why they skip.

mod admin;
mod alerts;
mod cache;
mod common;
mod coverage;
mod lead;
mod metrics;
mod store;

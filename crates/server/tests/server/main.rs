//! Integration tests of the HTTP service: real servers on 127.0.0.1:0, reqwest as client,
//! the simulated market as of 2026-02-02 and a SQLite store in a temporary directory.

mod api;
mod browser;
mod chaos;
mod limits;
mod live;
mod metrics;
mod ops;
mod readiness;
mod security;
mod support;
mod upcoming;

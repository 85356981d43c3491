//! Integration tests of the market adapters (one test binary).

mod alphavantage;
mod chaos;
mod files;
mod limits;
mod metrics;
mod sim;
mod tradier;

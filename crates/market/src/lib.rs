//! # ivcrush-market — market data behind traits
//!
//! The app asks for what it needs through small async traits ([`OptionsData`], [`PriceHistory`],
//! [`EarningsCalendar`]); each source implements them:
//! - [`sim::SimMarket`]: the deterministic simulated market, the embedded default (no keys, no
//!   network), with its ground truth exposed to tests;
//! - the Tradier and Alpha Vantage HTTP clients and file import (later modules).
//!
//! Every method returns a typed [`MarketError`]; "no data" for an unknown symbol or expiry is
//! an ordinary answer (an empty list or [`MarketError::UnknownSymbol`]), never a transport
//! failure, so it never trips a circuit breaker.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alphavantage;
mod error;
pub mod files;
pub mod http;
pub mod notes;
pub mod secret;
pub mod sim;
mod source;
pub mod tradier;

pub use error::MarketError;
pub use source::{
    EarningsCalendar, EarningsRecord, MarketData, OptionsData, PriceHistory, StockQuote,
};

pub use alphavantage::{AlphaVantageClient, AlphaVantageConfig};
pub use files::{FileMarket, Loaded, RowError};
pub use http::HttpSettings;
pub use secrecy::{ExposeSecret, SecretString};
pub use tradier::{EndpointTimeouts, OneOrMany, TradierClient, TradierConfig};

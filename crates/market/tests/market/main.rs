//! Integration tests of the market adapters (one test binary).

mod sim;

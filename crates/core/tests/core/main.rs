//! Integration tests of the analytics core: reference vectors, vendor-fixture scenarios and
//! property tests. One test binary; each module holds one kind of test.

mod backtest;
mod fixture_chain;
mod fixtures;
mod golden;
mod properties;
mod reference;
mod synthetic;
mod term;
mod uncertainty;

use std::path::PathBuf;

/// The repository's `testdata/` (copies of the team's reference vectors and vendor fixtures).
pub fn testdata_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Reads and parses a JSON file under `testdata/`; panics naming the file.
pub fn testdata_json(rel: &str) -> serde_json::Value {
    let path = testdata_dir().join(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {} ({e})", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

//! Reading a Tradier chain fixture into an `OptionChain` (shared by the fixture tests and the
//! benchmarks; the production parser lives in the market crate, which core must not depend on).

use ivcrush_core::{OptionChain, OptionKind, OptionQuote};
use serde_json::Value;

/// The chain of `testdata/fixtures/vendors/<file>` (Tradier `options.option` list).
pub fn fixture_chain(file: &str) -> OptionChain {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures/vendors")
        .join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let opts = v["options"]["option"].as_array().expect("option list");
    let f = |o: &Value, k: &str| o[k].as_f64().unwrap_or(0.0);
    OptionChain {
        expiration: opts[0]["expiration_date"]
            .as_str()
            .expect("date")
            .parse()
            .expect("date"),
        quotes: opts
            .iter()
            .map(|o| OptionQuote {
                kind: if o["option_type"] == "call" {
                    OptionKind::Call
                } else {
                    OptionKind::Put
                },
                strike: f(o, "strike"),
                bid: f(o, "bid"),
                ask: f(o, "ask"),
                last: o["last"].as_f64(),
                volume: o["volume"].as_u64().unwrap_or(0),
                open_interest: o["open_interest"].as_u64().unwrap_or(0),
            })
            .collect(),
        vendor: None,
    }
}

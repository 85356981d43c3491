//! Integration tests of the analytics core: reference vectors, vendor-fixture scenarios and
//! property tests. One test binary; each module holds one kind of test.

mod fixture_chain;
mod fixtures;
mod properties;
mod reference;
mod synthetic;
mod term;

use std::path::PathBuf;

/// `../shared` beside the repository (CI lays it there), or `IVCRUSH_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("IVCRUSH_SHARED_DIR") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared")
}

/// Reads and parses a JSON file under the shared directory; panics naming the file.
pub fn shared_json(rel: &str) -> serde_json::Value {
    let path = shared_dir().join(rel);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); the shared specs must sit at ../shared beside the repository \
             or be named by IVCRUSH_SHARED_DIR",
            path.display()
        )
    });
    // Python's json module writes non-finite floats as bare Infinity / NaN, which JSON lacks.
    let text = text
        .replace("-Infinity", "\"-Infinity\"")
        .replace(": Infinity", ": \"Infinity\"")
        .replace(": NaN", ": \"NaN\"");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

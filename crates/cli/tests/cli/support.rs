//! What the process-level tests share.

use std::path::Path;
use std::process::Command;

/// `ivcrush` run in `dir`, on the simulated market as of 2026-02-02 with a SQLite file in `dir`;
/// the caller's own `IVCRUSH_*` settings and `RUST_LOG` are removed.
pub fn ivcrush(dir: &Path) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("ivcrush"));
    cmd.current_dir(dir)
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("t.db").display()),
        )
        .env("IVCRUSH_AS_OF", "2026-02-02")
        .env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("IVCRUSH_") && k != "IVCRUSH_AS_OF" {
            cmd.env_remove(k);
        }
    }
    cmd
}

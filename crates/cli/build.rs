//! Stamps the binary with the commit it was built from (`BUILD_GIT_SHA`, shown in the start
//! lines, `--version` and `ivcrush_build_info`): an operator reading a log or a dashboard knows
//! exactly which code runs. `IVCRUSH_GIT_SHA` at build time overrides it (a container build
//! without `.git`); outside a git checkout it is `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    let sha = std::env::var("IVCRUSH_GIT_SHA")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            let sha = String::from_utf8(out.stdout).ok()?.trim().to_string();
            (out.status.success() && !sha.is_empty()).then_some(sha)
        })
        .unwrap_or_else(|| "unknown".to_string());
    // Not IVCRUSH_*: cargo also sets this in the environment of `cargo run` and `cargo test`,
    // where the configuration would take an IVCRUSH_ variable for a setting.
    println!("cargo:rustc-env=BUILD_GIT_SHA={sha}");
    println!("cargo:rerun-if-env-changed=IVCRUSH_GIT_SHA");
    // A new commit moves HEAD or the branch it points to.
    let git = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.git");
    for file in ["HEAD", "packed-refs"] {
        let path = git.join(file);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(reference) = head.strip_prefix("ref: ")
    {
        let path = git.join(reference.trim());
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

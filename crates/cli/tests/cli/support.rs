//! What the process-level tests share.

use std::path::Path;
use std::process::Command;

/// `ivcrush` run in `dir`, on the simulated market as of 2026-02-02 with a SQLite file in `dir`;
/// the caller's own `IVCRUSH_*` settings and `RUST_LOG` are removed.
/// Runs `cmd` to its end and returns its output; panics with its stderr unless it exits 0.
pub fn succeeds(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

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

/// Kills the process when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request to `addr` (with `X-API-Key` when given); the whole answer, status
/// line and headers included.
pub fn http(addr: &str, method: &str, path: &str, key: Option<&str>) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).expect("connects");
    let key = key.map_or_else(String::new, |k| format!("X-API-Key: {k}\r\n"));
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{key}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    answer
}

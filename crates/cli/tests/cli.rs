//! Integration tests of the `ivcrush` binary (one test binary; one module per subcommand).

#[path = "cli/backfill_ranges.rs"]
mod backfill_ranges;
#[path = "cli/backtest.rs"]
mod backtest;
#[path = "cli/calc.rs"]
mod calc;
#[path = "cli/clock.rs"]
mod clock;
#[path = "cli/crash.rs"]
mod crash;
#[path = "cli/db.rs"]
mod db;
#[path = "cli/distributed.rs"]
mod distributed;
#[path = "cli/exit.rs"]
mod exit;
#[path = "cli/fleet.rs"]
mod fleet;
#[path = "cli/golden.rs"]
mod golden;
#[path = "cli/json_logs.rs"]
mod json_logs;
#[path = "cli/parse.rs"]
mod parse;
#[path = "cli/quality.rs"]
mod quality;
#[path = "cli/scan.rs"]
mod scan;
#[path = "cli/secrets.rs"]
mod secrets;
#[path = "cli/serve.rs"]
mod serve;
#[path = "cli/storage.rs"]
mod storage;
#[path = "cli/support.rs"]
mod support;
#[path = "cli/surfaces.rs"]
mod surfaces;
#[path = "cli/trace.rs"]
mod trace;
#[path = "cli/vendor.rs"]
mod vendor;

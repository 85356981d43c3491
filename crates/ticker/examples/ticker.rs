//! Runs the ticker service standalone, for manual testing:
//! `cargo run -p ivcrush-ticker --example ticker -- --feed sim --duration 10s --metrics-bind 127.0.0.1:9187`.

use clap::Parser;
use ivcrush_ticker::TickerArgs;

#[derive(Parser)]
#[command(name = "ticker", about = "ivcrush streaming ticker (example runner)")]
struct Cli {
    #[command(flatten)]
    args: TickerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let subscriber = tracing_subscriber::fmt().with_ansi(false).finish();
    tracing::subscriber::set_global_default(subscriber)?;
    ivcrush_ticker::run(Cli::parse().args).await
}

//! Runs the simulated ticker service standalone until Ctrl-C, for manual testing:
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run -p ivcrush-ticker --example ticker`.
//! (The full flag set is `ivcrush ticker`'s.)

use ivcrush_ticker::{TickerConfig, TickerService};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let subscriber = tracing_subscriber::fmt().with_ansi(false).finish();
    tracing::subscriber::set_global_default(subscriber)?;
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let service = TickerService::start(TickerConfig::sim(redis, 5_000), None).await?;
    tokio::signal::ctrl_c().await?;
    let summary = service.shutdown().await;
    tracing::info!(?summary, "ticker stopped");
    Ok(())
}

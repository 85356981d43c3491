//! `calc price` and the single-quote `calc iv`.

use super::{Format, IvArgs, PriceArgs};
use anyhow::{Context, Result};
use ivcrush_core::{OptionParams, bsm_greeks, implied_vol};
use serde::Serialize;
use std::io::{self, Write};
use std::process::ExitCode;

/// Prints the price and greeks of one option.
pub fn run_price(a: &PriceArgs) -> Result<ExitCode> {
    let p = OptionParams::new(a.kind, a.spot, a.strike, a.t, a.rate, a.div)
        .context("invalid option inputs")?;
    anyhow::ensure!(
        a.vol.is_finite() && a.vol >= 0.0,
        "invalid option inputs: vol must be a finite number >= 0"
    );
    let g = bsm_greeks(&p, a.vol);
    let mut out = io::stdout().lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer(&mut out, &g).context("writing JSON")?;
            writeln!(out)?;
        }
        Format::Text => {
            writeln!(
                out,
                "{} S={} K={} T={} r={} q={} vol={}",
                p.kind, p.spot, p.strike, p.t, p.rate, p.div, a.vol
            )?;
            // Money at 4 decimals; greeks at 4 significant decimals past their scale (gamma
            // and the per-point figures are small). JSON keeps full precision.
            let rows: [(&str, f64, usize, &str); 9] = [
                ("price", g.price, 4, ""),
                ("delta", g.delta, 4, "per 1 of spot"),
                ("gamma", g.gamma, 6, "per 1 of spot, squared"),
                ("vega", g.vega, 4, "per 1.00 vol"),
                ("", g.vega / 100.0, 6, "per vol point (0.01)"),
                ("theta", g.theta, 4, "per year"),
                ("", g.theta / 365.0, 6, "per calendar day (1/365 year)"),
                ("rho", g.rho, 4, "per 1.00 rate"),
                ("", g.rho / 100.0, 6, "per 1 % rate"),
            ];
            for (label, value, decimals, unit) in rows {
                let line = format!("{label:<6} {:<12} {unit}", format!("{value:.decimals$}"));
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct IvJson<'a> {
    iv: Option<f64>,
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Solves the implied vol of one quote: exit 0 with the vol, 1 with the reason.
pub fn run_iv(a: &IvArgs) -> Result<ExitCode> {
    // clap guarantees these without --input; stay defensive rather than unwrap.
    let missing = |name: &str| anyhow::anyhow!("--{name} is required without --input");
    let kind = a.kind.ok_or_else(|| missing("type"))?;
    let spot = a.spot.ok_or_else(|| missing("spot"))?;
    let strike = a.strike.ok_or_else(|| missing("strike"))?;
    let t = a.t.ok_or_else(|| missing("t"))?;
    let rate = a.rate.ok_or_else(|| missing("rate"))?;
    let price = a.price.ok_or_else(|| missing("price"))?;
    let p = OptionParams::new(kind, spot, strike, t, rate, a.div.unwrap_or(0.0))
        .context("invalid option inputs")?;
    let solved = implied_vol(&p, price);
    let mut out = io::stdout().lock();
    match (a.format, solved) {
        (Format::Json, r) => {
            let body = match r {
                Ok(iv) => IvJson {
                    iv: Some(iv),
                    status: "ok",
                    reason: None,
                },
                Err(e) => IvJson {
                    iv: None,
                    status: e.code(),
                    reason: Some(e.to_string()),
                },
            };
            serde_json::to_writer(&mut out, &body).context("writing JSON")?;
            writeln!(out)?;
            out.flush()?;
            Ok(if r.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        (Format::Text, Ok(iv)) => {
            writeln!(out, "{iv}")?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        (Format::Text, Err(e)) => {
            eprintln!("no implied volatility: {} ({e})", e.code());
            Ok(ExitCode::FAILURE)
        }
    }
}

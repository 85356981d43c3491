//! `ivcrush analyze TICKER`: the detailed view of one ticker.

use crate::cli::{CommonArgs, OutputFormat};
use crate::output::{coloured, liquidity_cell, max_loss_text, new_table, vrp_tier_cell};
use chrono::NaiveDate;
use clap::Args;
use comfy_table::Cell;
use ivcrush_app::{AnalysisRecord, AnalyzeOptions, App, Row, symbols::normalize_symbol};
use std::io::Write;
use std::process::ExitCode;

/// Arguments of `ivcrush analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Ticker symbol (case-insensitive; BRK.B, BRK-B and brk/b are the same).
    pub ticker: String,
    /// Report date (default: the next one in the calendar).
    #[arg(long, value_name = "DATE")]
    pub earnings_date: Option<NaiveDate>,
    /// Expiration to analyse (default: the first after the market reacts).
    #[arg(long, value_name = "DATE")]
    pub expiration: Option<NaiveDate>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: OutputFormat,
    /// Shared options.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Analyses one ticker and prints the detailed view; the analysis is stored with the run ID.
pub async fn run(app: App, cid: String, a: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let ticker = normalize_symbol(&a.ticker)?;
    let opts = AnalyzeOptions {
        earnings_date: a.earnings_date,
        expiration: a.expiration,
        include_history: true,
        ..AnalyzeOptions::default()
    };
    let rec = app.analyze_ticker(&ticker, &opts).await?;
    let now = chrono::Utc::now();
    app.store
        .insert_analysis(&ivcrush_store::NewAnalysis::ok(
            &cid,
            rec.analysis.clone(),
            now,
        ))
        .await?;
    match a.format {
        OutputFormat::Json => {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &rec)?;
            writeln!(out)?;
        }
        OutputFormat::Csv => {
            crate::output::write_csv(&[Row::Analyzed(Box::new(rec))], std::io::stdout().lock())?
        }
        OutputFormat::Table => print_detail(&rec)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn pct(x: f64) -> String {
    format!("{x:.2}%")
}

/// The "Data quality" section: one row per note (code, BLOCKING marker, detail), or `none`.
fn quality_table(notes: &[ivcrush_core::DataQuality]) -> comfy_table::Table {
    if notes.is_empty() {
        let mut t = new_table(&["data quality"]);
        t.add_row(vec![Cell::new("none")]);
        return t;
    }
    let mut t = new_table(&["data quality", "blocking", "detail"]);
    for n in notes {
        let colour = crate::output::colour_stdout().then_some(if n.blocking {
            comfy_table::Color::Red
        } else {
            comfy_table::Color::Yellow
        });
        t.add_row(vec![
            coloured(n.code.as_str(), colour),
            coloured(if n.blocking { "BLOCKING" } else { "" }, colour),
            Cell::new(&n.detail),
        ]);
    }
    t
}

fn print_detail(rec: &AnalysisRecord) -> anyhow::Result<()> {
    let a = &rec.analysis;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}  report {} {} ({})  expiry {}  spot {:.2}  as of {}  ({}{})",
        a.ticker,
        a.earnings_date,
        a.timing.as_str(),
        match rec.days_to_event {
            0 => "today".to_string(),
            1 => "in 1 day".to_string(),
            n => format!("in {n} days"),
        },
        a.expiration,
        a.spot,
        ivcrush_app::clock::new_york_text(a.as_of),
        rec.data.source,
        if rec.data.stale { ", STALE data" } else { "" }
    )?;
    let im = &a.implied_move;
    let mut t = new_table(&["implied move", "value"]);
    t.add_row(vec![
        Cell::new("ATM straddle / spot (expected |move|)"),
        Cell::new(format!(
            "{} (K={}, mid {:.2})",
            pct(im.straddle_pct),
            im.atm_strike,
            im.straddle_mid
        )),
    ]);
    t.add_row(vec![
        Cell::new("interpolated to the forward"),
        Cell::new(pct(im.interpolated_pct)),
    ]);
    t.add_row(vec![
        Cell::new("term-structure event move (trading days)"),
        Cell::new(im.event_pct.map_or("-".into(), pct)),
    ]);
    t.add_row(vec![
        Cell::new("  same, calendar time (for comparison)"),
        Cell::new(im.event_calendar_pct.map_or("-".into(), pct)),
    ]);
    t.add_row(vec![
        Cell::new("±1σ move (≈1.2533 × expected |move|)"),
        Cell::new(pct(im.one_sigma_pct)),
    ]);
    writeln!(out, "{t}")?;

    let h = &a.historical;
    let mut t = new_table(&["historical (last reports)", "value"]);
    for (k, v) in [
        ("reports", h.count.to_string()),
        ("mean |move|", pct(h.mean_pct)),
        ("median |move|", pct(h.median_pct)),
        ("MAD × 1.4826", pct(h.mad_pct)),
        ("EWMA (half-life 4)", pct(h.ewma_pct)),
        ("max", pct(h.max_pct)),
        ("share up", format!("{:.0}%", h.up_share * 100.0)),
    ] {
        t.add_row(vec![Cell::new(k), Cell::new(v)]);
    }
    writeln!(out, "{t}")?;
    if let Some(moves) = &rec.historical_moves {
        let mut t = new_table(&[
            "report",
            "when",
            "reaction",
            "close move",
            "gap",
            "intraday",
            "dir",
        ]);
        for m in moves.iter().rev() {
            t.add_row(vec![
                Cell::new(m.report_date),
                Cell::new(m.timing.as_str()),
                Cell::new(m.reaction_date),
                Cell::new(pct(m.signed_close_pct.0)),
                Cell::new(pct(m.gap_move_pct.0)),
                Cell::new(pct(m.intraday_move_pct.0)),
                Cell::new(if m.signed_close_pct.0 >= 0.0 {
                    "up"
                } else {
                    "down"
                }),
            ]);
        }
        writeln!(out, "{t}")?;
    }
    let mut t = new_table(&["signal", "value"]);
    let (basis, straddle_ratio) = crate::output::vrp_basis(&a.vrp);
    t.add_row(vec![
        Cell::new(match &basis {
            Some(b) => format!("VRP ratio ({b} basis / mean)"),
            None => "VRP ratio (implied / mean)".to_string(),
        }),
        Cell::new(format!("{:.2}", a.vrp.ratio)),
    ]);
    if let Some(r) = straddle_ratio {
        t.add_row(vec![
            Cell::new("  straddle / mean (for comparison)"),
            Cell::new(format!("{r:.2}")),
        ]);
    }
    t.add_row(vec![Cell::new("VRP tier"), vrp_tier_cell(&a.vrp)]);
    t.add_row(vec![
        Cell::new("edge score"),
        Cell::new(format!("{:.2}", a.vrp.edge_score)),
    ]);
    if let Some(f) = &a.skew.fit {
        t.add_row(vec![
            Cell::new("skew level / slope / curvature"),
            Cell::new(format!(
                "{:.3} / {:.3} / {:.3}",
                f.level, f.slope, f.curvature
            )),
        ]);
        t.add_row(vec![
            Cell::new("25Δ risk reversal / butterfly"),
            Cell::new(format!(
                "{} / {}",
                f.risk_reversal_25.map_or("-".into(), |x| format!("{x:.4}")),
                f.butterfly_25.map_or("-".into(), |x| format!("{x:.4}"))
            )),
        ]);
        t.add_row(vec![
            Cell::new("Mixon skew"),
            Cell::new(f.mixon.map_or("-".into(), |x| format!("{x:.3}"))),
        ]);
    }
    t.add_row(vec![
        Cell::new("skew bias"),
        Cell::new(format!("{:?}", a.skew.bias)),
    ]);
    let ts = &a.term_structure;
    t.add_row(vec![
        Cell::new("term structure (days: ATM IV)"),
        Cell::new(
            ts.points
                .iter()
                .map(|p| format!("{:.1}d: {:.1}%", p.days, p.atm_iv * 100.0))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ]);
    t.add_row(vec![
        Cell::new("front / back, inverted"),
        Cell::new(format!(
            "{} {}",
            ts.front_back_ratio
                .map_or("-".into(), |x| format!("{x:.2}")),
            if ts.inverted {
                "(inverted: front vol above back)"
            } else {
                ""
            }
        )),
    ]);
    t.add_row(vec![
        Cell::new("liquidity"),
        liquidity_cell(a.liquidity.tier),
    ]);
    for (side, l) in [
        ("ATM call", &a.liquidity.call),
        ("ATM put", &a.liquidity.put),
    ] {
        t.add_row(vec![
            Cell::new(format!("  {side}")),
            Cell::new(format!(
                "OI {} vol {} spread {}{}",
                l.open_interest,
                l.volume,
                l.spread_pct.map_or("-".into(), |s| format!("{s:.1}%")),
                if l.reasons.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", l.reasons.join("; "))
                }
            )),
        ]);
    }
    let sb = &a.score_breakdown;
    t.add_row(vec![
        Cell::new("score (VRP / liquidity / consistency / skew)"),
        Cell::new(format!(
            "{:.1} ({:.0} / {:.0} / {:.0} / {:.0})",
            a.score, sb.vrp, sb.liquidity, sb.consistency, sb.skew
        )),
    ]);
    t.add_row(vec![
        Cell::new("tradeable"),
        Cell::new(if a.tradeable {
            "yes"
        } else if a.data_quality.iter().any(|n| n.blocking) {
            "no (data quality)"
        } else {
            "no"
        }),
    ]);
    writeln!(out, "{t}")?;
    writeln!(out, "{}", quality_table(&a.data_quality))?;
    if !a.strategies.is_empty() {
        let mut t = new_table(&[
            "strategy",
            "legs",
            "credit",
            "max loss",
            "breakevens",
            "POP ln",
            "POP hist",
            "E[P&L]/sh",
            "liquidity",
        ]);
        for s in &a.strategies {
            let legs = s
                .legs
                .iter()
                .map(|l| {
                    format!(
                        "{} {} {} @{:.2}",
                        match l.side {
                            ivcrush_core::strategy::Side::Long => "+",
                            ivcrush_core::strategy::Side::Short => "-",
                        },
                        l.kind,
                        l.strike,
                        l.mid
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            t.add_row(vec![
                Cell::new(
                    serde_json::to_value(s.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                ),
                Cell::new(legs),
                Cell::new(format!("{:.2}", s.credit)),
                Cell::new(max_loss_text(&s.max_loss)),
                Cell::new(
                    s.breakevens
                        .iter()
                        .map(|b| format!("{b:.2}"))
                        .collect::<Vec<_>>()
                        .join(" / "),
                ),
                Cell::new(format!("{:.0}%", s.pop * 100.0)),
                Cell::new(
                    s.pop_empirical
                        .map_or("-".into(), |p| format!("{:.0}%", p * 100.0)),
                ),
                Cell::new(s.expected_pnl.map_or("-".into(), |e| format!("{e:.2}"))),
                liquidity_cell(s.liquidity),
            ]);
        }
        writeln!(out, "{t}")?;
        writeln!(
            out,
            "per share; × {} per contract. POP ln: lognormal with the event-adjusted variance; POP hist: past moves as they happened.",
            a.strategies[0].multiplier
        )?;
    }
    let warnings: Vec<&String> = a
        .warnings
        .iter()
        .chain(a.strategies.iter().flat_map(|s| s.warnings.iter()))
        .collect();
    for w in warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

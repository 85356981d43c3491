//! `ivcrush analyze TICKER`: the detailed view of one ticker.

use crate::cli::{CommonArgs, OutputFormat, SizingArgs};
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
    /// Position sizing (account and risk per trade).
    #[command(flatten)]
    pub sizing: SizingArgs,
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
    let rec = app
        .analyzer()
        .analyze_and_store(&ticker, &opts, &cid)
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
        OutputFormat::Table => print_detail(&rec, &app.config().analytics.strategy)?,
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

fn print_detail(
    rec: &AnalysisRecord,
    scfg: &ivcrush_core::config::StrategyConfig,
) -> anyhow::Result<()> {
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
        strategy_tables(&mut out, &a.strategies, scfg)?;
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

fn money(x: f64) -> String {
    let neg = x < 0.0;
    let whole = x.abs().round() as u64;
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}", if neg { "-" } else { "" })
}

fn pct0(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The strategy tables: per share (legs with bid/ask, credits, breakevens, POP with its 95 %
/// interval, expected P&L of both exits) and per contract (margin, return on risk, size,
/// greeks), ranked first, then the others with why they are not chosen; and a footer naming
/// the exit shown and its assumptions.
fn strategy_tables(
    out: &mut impl Write,
    strategies: &[ivcrush_core::strategy::Strategy],
    scfg: &ivcrush_core::config::StrategyConfig,
) -> anyhow::Result<()> {
    use ivcrush_core::exit::ExitKind;
    use ivcrush_core::strategy::{MaxLoss, Side};
    let mut order: Vec<&ivcrush_core::strategy::Strategy> = strategies.iter().collect();
    order.sort_by_key(|s| s.rank.unwrap_or(u32::MAX));
    let rank = |s: &ivcrush_core::strategy::Strategy| match s.rank {
        Some(1) => "1 *".to_string(),
        Some(r) => r.to_string(),
        None => "-".to_string(),
    };
    let shown = order.iter().find_map(|s| s.exit).unwrap_or_default();
    let mut t = new_table(&[
        "#",
        "strategy",
        "legs (bid/ask)",
        "credit mid/nat",
        "max loss",
        "breakevens",
        "POP ln",
        "POP hist (95% CI)",
        "E[P&L] close/hold",
        "worst",
        "liquidity",
    ]);
    for s in &order {
        let legs = s
            .legs
            .iter()
            .map(|l| {
                format!(
                    "{} {} {} {:.2}/{:.2}",
                    match l.side {
                        Side::Long => "+",
                        Side::Short => "-",
                    },
                    l.kind,
                    l.strike,
                    l.bid,
                    l.ask
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let exits = s.exits.as_ref().map_or_else(
            || s.expected_pnl.map_or("-".into(), |e| format!("{e:.2}")),
            |e| {
                format!(
                    "{:.2} / {:.2}",
                    e.close_after_reaction.expected_pnl, e.hold_to_expiry.expected_pnl
                )
            },
        );
        t.add_row(vec![
            Cell::new(rank(s)),
            Cell::new(s.kind.as_str()),
            Cell::new(legs),
            Cell::new(format!(
                "{:.2} / {}",
                s.credit,
                s.credit_natural.map_or("-".into(), |c| format!("{c:.2}"))
            )),
            Cell::new(max_loss_text(&s.max_loss)),
            Cell::new(
                s.breakevens
                    .iter()
                    .map(|b| format!("{b:.2}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
            ),
            Cell::new(pct0(s.pop)),
            Cell::new(match (s.pop_empirical, s.pop_empirical_interval) {
                (Some(p), Some([lo, hi])) => {
                    format!("{} ({:.0}-{:.0})", pct0(p), lo * 100.0, hi * 100.0)
                }
                (Some(p), None) => pct0(p),
                _ => "-".into(),
            }),
            Cell::new(exits),
            Cell::new(s.worst_pnl.map_or("-".into(), |w| format!("{w:.2}"))),
            liquidity_cell(s.liquidity),
        ]);
    }
    writeln!(out, "{t}")?;

    let mut t = new_table(&[
        "#",
        "strategy",
        "credit $",
        "margin $",
        "max loss $",
        "if 0 $",
        "E[P&L] $",
        "E/risk",
        "contracts",
        "at risk $",
        "delta sh",
        "vega $/pt",
        "theta $/d",
        "not chosen because",
    ]);
    for s in &order {
        let pc = s.per_contract;
        let z = s.sizing;
        let g = s.greeks;
        t.add_row(vec![
            Cell::new(rank(s)),
            Cell::new(s.kind.as_str()),
            Cell::new(pc.map_or("-".into(), |p| money(p.credit))),
            Cell::new(pc.map_or("-".into(), |p| money(p.margin))),
            Cell::new(match s.max_loss {
                MaxLoss::Bounded(l) => money(l * s.multiplier),
                MaxLoss::Unbounded => "unbounded".into(),
            }),
            Cell::new(pc.map_or("-".into(), |p| money(p.downside_loss))),
            Cell::new(
                pc.and_then(|p| p.expected_pnl)
                    .map_or("-".into(), |e| format!("{e:.0}")),
            ),
            Cell::new(
                s.return_on_risk
                    .map_or("-".into(), |r| format!("{:.1}%", r * 100.0)),
            ),
            Cell::new(z.map_or("-".into(), |z| z.contracts.to_string())),
            Cell::new(z.map_or("-".into(), |z| money(z.capital_at_risk))),
            Cell::new(g.map_or("-".into(), |g| format!("{:.1}", g.delta))),
            Cell::new(g.map_or("-".into(), |g| format!("{:.2}", g.vega))),
            Cell::new(g.map_or("-".into(), |g| format!("{:.2}", g.theta))),
            Cell::new(s.not_eligible.join("; ")),
        ]);
    }
    writeln!(out, "{t}")?;

    let mult = strategies[0].multiplier;
    writeln!(
        out,
        "per share unless $ (per contract, × {mult}). Ranked (#) by E[P&L]/risk (risk = max loss, or margin when unbounded), weighted by liquidity; * = best. POP ln: lognormal with the event-adjusted variance."
    )?;
    if let Some(e) = order.iter().find_map(|s| s.exits.as_ref()) {
        let m = &e.model;
        let source = match m.iv_source {
            ivcrush_core::exit::PostEventIvSource::TermStructureFit => "term-structure fit",
            ivcrush_core::exit::PostEventIvSource::AtmLessEvent => "ATM IV less the event variance",
            ivcrush_core::exit::PostEventIvSource::Atm => "ATM IV (no event variance known)",
        };
        writeln!(
            out,
            "E[P&L], POP hist and worst price the exit {} ({}): entered now, {:.1} sessions before the report, then close = bought back at the reaction close at the post-event IV {:.1}% ({source}) with {:.1} days left; hold = to expiry through {:.1} more sessions at the diffusion vol {:.1}%.",
            match shown {
                ExitKind::CloseAfterReaction => "close",
                ExitKind::HoldToExpiry => "hold",
            },
            shown.label(),
            m.sessions_before,
            m.post_event_iv * 100.0,
            m.days_after,
            m.sessions_after,
            m.diffusion_vol * 100.0,
        )?;
        writeln!(
            out,
            "POP hist over {} past reports (95% Wilson interval in brackets: a dozen draws are not a probability); costs: {:.0}% of each leg's spread and {:.2} per contract per trade, both ways for close.",
            e.get(shown).draws,
            scfg.slippage * 100.0,
            scfg.fee_per_contract,
        )?;
    }
    if let Some(z) = order.iter().find_map(|s| s.sizing) {
        writeln!(
            out,
            "sizing: risk budget {} ({:.1}% of {}); contracts = floor(budget / risk per contract), at most {:.0}% of the thinnest leg's open interest.",
            money(z.risk_budget),
            scfg.risk_per_trade * 100.0,
            money(scfg.account_size),
            scfg.max_open_interest_share * 100.0
        )?;
    }
    Ok(())
}

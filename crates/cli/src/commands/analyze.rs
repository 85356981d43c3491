//! `ivcrush analyze TICKER`: the detailed view of one ticker.

use crate::cli::{CommonArgs, OutputFormat, SizingArgs};
use crate::output::{coloured, liquidity_cell, max_loss_text, new_table, vrp_tier_cell};
use chrono::NaiveDate;
use clap::Args;
use comfy_table::{Cell, Table};
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

/// The detailed view: the header line, then one table per section (implied move, historical
/// statistics and moves, signals, data quality, strategies), then the warnings.
fn print_detail(
    rec: &AnalysisRecord,
    scfg: &ivcrush_core::config::StrategyConfig,
) -> anyhow::Result<()> {
    let a = &rec.analysis;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", header_line(rec))?;
    writeln!(out, "{}", implied_move_table(&a.implied_move))?;
    writeln!(out, "{}", historical_table(&a.historical))?;
    if let Some(moves) = &rec.historical_moves {
        writeln!(out, "{}", moves_table(moves))?;
    }
    writeln!(out, "{}", signals_table(a))?;
    writeln!(out, "{}", quality_table(&a.data_quality))?;
    if !a.strategies.is_empty() {
        strategy_tables(&mut out, &a.strategies, scfg)?;
    }
    for w in a
        .warnings
        .iter()
        .chain(a.strategies.iter().flat_map(|s| s.warnings.iter()))
    {
        writeln!(out, "warning: {w}")?;
    }
    out.flush()?;
    Ok(())
}

/// `MRVL  report 2026-11-27 AMC (in 2 days)  expiry …  spot …  as of …  (sim)`.
fn header_line(rec: &AnalysisRecord) -> String {
    let a = &rec.analysis;
    format!(
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
    )
}

/// The three implied moves and the ±1σ move.
fn implied_move_table(im: &ivcrush_core::analysis::ImpliedMoveRecord) -> Table {
    let mut t = new_table(&["implied move", "value"]);
    for (k, v) in [
        (
            "ATM straddle / spot (expected |move|)",
            format!(
                "{} (K={}, mid {:.2})",
                pct(im.straddle_pct),
                im.atm_strike,
                im.straddle_mid
            ),
        ),
        ("interpolated to the forward", pct(im.interpolated_pct)),
        (
            "term-structure event move (trading days)",
            im.event_pct.map_or("-".into(), pct),
        ),
        (
            "  same, calendar time (for comparison)",
            im.event_calendar_pct.map_or("-".into(), pct),
        ),
        (
            "±1σ move (≈1.2533 × expected |move|)",
            pct(im.one_sigma_pct),
        ),
    ] {
        t.add_row(vec![Cell::new(k), Cell::new(v)]);
    }
    t
}

/// Statistics of the past reactions.
fn historical_table(h: &ivcrush_core::moves::MoveStats) -> Table {
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
    t
}

/// The past reactions, newest first.
fn moves_table(moves: &[ivcrush_core::moves::HistoricalMove]) -> Table {
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
    t
}

/// VRP, skew, term structure, liquidity, score and the trade decision.
fn signals_table(a: &ivcrush_core::Analysis) -> Table {
    let mut t = new_table(&["signal", "value"]);
    let text = |k: &str, v: String| vec![Cell::new(k), Cell::new(v)];
    let (basis, straddle_ratio) = crate::output::vrp_basis(&a.vrp);
    let ratio_label = match &basis {
        Some(b) => format!("VRP ratio ({b} basis / mean)"),
        None => "VRP ratio (implied / mean)".to_string(),
    };
    t.add_row(text(&ratio_label, format!("{:.2}", a.vrp.ratio)));
    if let Some(r) = straddle_ratio {
        t.add_row(text(
            "  straddle / mean (for comparison)",
            format!("{r:.2}"),
        ));
    }
    t.add_row(vec![Cell::new("VRP tier"), vrp_tier_cell(&a.vrp)]);
    t.add_row(text("edge score", format!("{:.2}", a.vrp.edge_score)));
    if let Some(f) = &a.skew.fit {
        let opt = |x: Option<f64>, d: usize| x.map_or("-".into(), |x| format!("{x:.d$}"));
        t.add_row(text(
            "skew level / slope / curvature",
            format!("{:.3} / {:.3} / {:.3}", f.level, f.slope, f.curvature),
        ));
        t.add_row(text(
            "25Δ risk reversal / butterfly",
            format!(
                "{} / {}",
                opt(f.risk_reversal_25, 4),
                opt(f.butterfly_25, 4)
            ),
        ));
        t.add_row(text("Mixon skew", opt(f.mixon, 3)));
    }
    t.add_row(text("skew bias", format!("{:?}", a.skew.bias)));
    let ts = &a.term_structure;
    t.add_row(text(
        "term structure (days: ATM IV)",
        ts.points
            .iter()
            .map(|p| format!("{:.1}d: {:.1}%", p.days, p.atm_iv * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    t.add_row(text(
        "front / back, inverted",
        format!(
            "{} {}",
            ts.front_back_ratio
                .map_or("-".into(), |x| format!("{x:.2}")),
            if ts.inverted {
                "(inverted: front vol above back)"
            } else {
                ""
            }
        ),
    ));
    t.add_row(vec![
        Cell::new("liquidity"),
        liquidity_cell(a.liquidity.tier),
    ]);
    for (side, l) in [
        ("ATM call", &a.liquidity.call),
        ("ATM put", &a.liquidity.put),
    ] {
        t.add_row(text(
            &format!("  {side}"),
            format!(
                "OI {} vol {} spread {}{}",
                l.open_interest,
                l.volume,
                l.spread_pct.map_or("-".into(), |s| format!("{s:.1}%")),
                if l.reasons.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", l.reasons.join("; "))
                }
            ),
        ));
    }
    let sb = &a.score_breakdown;
    t.add_row(text(
        "score (VRP / liquidity / consistency / skew)",
        format!(
            "{:.1} ({:.0} / {:.0} / {:.0} / {:.0})",
            a.score, sb.vrp, sb.liquidity, sb.consistency, sb.skew
        ),
    ));
    let tradeable = if a.tradeable {
        "yes"
    } else if a.data_quality.iter().any(|n| n.blocking) {
        "no (data quality)"
    } else {
        "no"
    };
    t.add_row(text("tradeable", tradeable.to_string()));
    t
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

type Strategy = ivcrush_core::strategy::Strategy;

/// The strategy tables (per share, then per contract), ranked first, then the others with why
/// they are not chosen; and the footer naming the exit shown and its assumptions.
fn strategy_tables(
    out: &mut impl Write,
    strategies: &[Strategy],
    scfg: &ivcrush_core::config::StrategyConfig,
) -> anyhow::Result<()> {
    let mut order: Vec<&Strategy> = strategies.iter().collect();
    order.sort_by_key(|s| s.rank.unwrap_or(u32::MAX));
    writeln!(out, "{}", per_share_table(&order))?;
    writeln!(out, "{}", per_contract_table(&order))?;
    for line in strategy_footer(&order, scfg) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// `1 *` for the best, the rank, or `-` for a strategy not chosen.
fn rank_text(s: &Strategy) -> String {
    match s.rank {
        Some(1) => "1 *".to_string(),
        Some(r) => r.to_string(),
        None => "-".to_string(),
    }
}

/// Per share: legs with bid/ask, credits, max loss, breakevens, POP with its 95 % interval,
/// expected P&L of both exits, the worst P&L and liquidity.
fn per_share_table(order: &[&Strategy]) -> Table {
    use ivcrush_core::strategy::Side;
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
    for s in order {
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
            Cell::new(rank_text(s)),
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
    t
}

/// Per contract: credit, margin, max loss, the loss if the stock goes to 0, expected P&L,
/// return on risk, size and greeks, and why a strategy is not chosen.
fn per_contract_table(order: &[&Strategy]) -> Table {
    use ivcrush_core::strategy::MaxLoss;
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
    for s in order {
        let pc = s.per_contract;
        let z = s.sizing;
        let g = s.greeks;
        t.add_row(vec![
            Cell::new(rank_text(s)),
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
    t
}

/// The lines under the strategy tables: units and ranking, the exit priced and its
/// assumptions, costs, sizing.
fn strategy_footer(
    order: &[&Strategy],
    scfg: &ivcrush_core::config::StrategyConfig,
) -> Vec<String> {
    use ivcrush_core::exit::ExitKind;
    let mut lines = Vec::new();
    let Some(first) = order.first() else {
        return lines;
    };
    let mult = first.multiplier;
    let shown = order.iter().find_map(|s| s.exit).unwrap_or_default();
    lines.push(format!(
        "per share unless $ (per contract, × {mult}). Ranked (#) by E[P&L]/risk (risk = max loss, or margin when unbounded), weighted by liquidity; * = best. POP ln: lognormal with the event-adjusted variance."
    ));
    if let Some(e) = order.iter().find_map(|s| s.exits.as_ref()) {
        let m = &e.model;
        let source = match m.iv_source {
            ivcrush_core::exit::PostEventIvSource::TermStructureFit => "term-structure fit",
            ivcrush_core::exit::PostEventIvSource::AtmLessEvent => "ATM IV less the event variance",
            ivcrush_core::exit::PostEventIvSource::Atm => "ATM IV (no event variance known)",
        };
        lines.push(format!(
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
        ));
        lines.push(format!(
            "POP hist over {} past reports (95% Wilson interval in brackets: a dozen draws are not a probability); costs: {:.0}% of each leg's spread and {:.2} per contract per trade, both ways for close.",
            e.get(shown).draws,
            scfg.slippage * 100.0,
            scfg.fee_per_contract,
        ));
    }
    if let Some(z) = order.iter().find_map(|s| s.sizing) {
        lines.push(format!(
            "sizing: risk budget {} ({:.1}% of {}); contracts = floor(budget / risk per contract), at most {:.0}% of the thinnest leg's open interest.",
            money(z.risk_budget),
            scfg.risk_per_trade * 100.0,
            money(scfg.account_size),
            scfg.max_open_interest_share * 100.0
        ));
    }
    lines
}

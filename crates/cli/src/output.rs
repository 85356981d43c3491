//! Rendering rows for stdout: an aligned table (coloured only on a terminal without NO_COLOR),
//! JSON (the documented record) or flat CSV. Stdout carries data only.

use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use ivcrush_app::Row;
use ivcrush_core::liquidity::LiquidityTier;
use ivcrush_core::strategy::MaxLoss;
use ivcrush_core::vrp::{Vrp, VrpTier};
use ivcrush_core::{DataQuality, QualityCode};
use std::io::{IsTerminal, Write};

fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

/// Colour on stdout: a terminal and no NO_COLOR.
pub fn colour_stdout() -> bool {
    std::io::stdout().is_terminal() && !no_color()
}

/// Colour on stderr: a terminal and no NO_COLOR.
pub fn colour_stderr() -> bool {
    std::io::stderr().is_terminal() && !no_color()
}

/// A table styled for the destination: box drawing and colours on a terminal, plain ASCII
/// otherwise.
pub fn new_table(header: &[&str]) -> Table {
    let mut t = Table::new();
    if colour_stdout() {
        t.load_preset(presets::UTF8_FULL_CONDENSED);
        t.enforce_styling();
    } else {
        t.load_preset(presets::ASCII_MARKDOWN);
        t.force_no_tty();
    }
    t.set_content_arrangement(ContentArrangement::Disabled);
    t.set_header(header.iter().map(|h| Cell::new(*h)));
    t
}

fn tier_colour(good: bool, mid: bool) -> Option<Color> {
    if !colour_stdout() {
        None
    } else if good {
        Some(Color::Green)
    } else if mid {
        Some(Color::Yellow)
    } else {
        Some(Color::Red)
    }
}

/// A cell, coloured when colour is on.
pub fn coloured(text: impl ToString, colour: Option<Color>) -> Cell {
    let c = Cell::new(text.to_string());
    match colour {
        Some(col) => c.fg(col),
        None => c,
    }
}

/// A VRP tier cell.
pub fn vrp_cell(t: VrpTier) -> Cell {
    coloured(
        t.as_str(),
        tier_colour(t >= VrpTier::Good, t == VrpTier::Marginal),
    )
}

/// A liquidity tier cell.
pub fn liquidity_cell(t: LiquidityTier) -> Cell {
    coloured(
        t.as_str(),
        tier_colour(t >= LiquidityTier::Good, t == LiquidityTier::Warning),
    )
}

/// The VRP tier as shown: `SKIP (GOOD withheld: data quality)` when a blocking data-quality
/// note withheld the tier, `MARGINAL (GOOD withheld: uncertainty)` when the ratio's interval
/// clears only a lower one, the tier alone otherwise.
pub fn vrp_tier_text(v: &Vrp) -> String {
    match v.withheld_tier {
        Some(w) => format!(
            "{} ({} withheld: {})",
            v.tier.as_str(),
            w.as_str(),
            v.withheld_by
                .unwrap_or(ivcrush_core::vrp::WithheldBy::DataQuality)
                .as_text()
        ),
        None => v.tier.as_str().to_string(),
    }
}

/// A VRP tier cell saying which tier was withheld, if any (coloured as the published tier).
pub fn vrp_tier_cell(v: &Vrp) -> Cell {
    coloured(
        vrp_tier_text(v),
        tier_colour(v.tier >= VrpTier::Good, v.tier == VrpTier::Marginal),
    )
}

/// A short label of a data-quality code for the ranked table.
pub fn quality_short(code: QualityCode) -> &'static str {
    match code {
        QualityCode::StaleQuote => "stale",
        QualityCode::StaleOptionQuotes => "stale-opt",
        QualityCode::QuoteWithoutDate => "no-date",
        QualityCode::VendorGreeksMissing => "no-greeks",
        QualityCode::OneSidedNearAtm => "one-sided",
        QualityCode::ZeroBidNearAtm => "zero-bid",
        QualityCode::WideSpread => "wide",
        QualityCode::CrossedOrLocked => "crossed",
        QualityCode::ContractsDropped => "dropped",
        QualityCode::PremiumGated => "premium",
        QualityCode::RateLimited => "rate-ltd",
        QualityCode::CachedStale => "cached",
        QualityCode::OutsideSession => "off-hours",
        other => other.as_str(),
    }
}

/// The distinct codes of `notes` in order of first appearance, each blocking when any of its
/// notes is.
pub fn quality_codes(notes: &[DataQuality]) -> Vec<(QualityCode, bool)> {
    let mut out: Vec<(QualityCode, bool)> = Vec::new();
    for n in notes {
        match out.iter_mut().find(|(c, _)| *c == n.code) {
            Some((_, b)) => *b |= n.blocking,
            None => out.push((n.code, n.blocking)),
        }
    }
    out
}

/// Most short codes shown in the table's quality column before `+N`.
const QUALITY_CODES_SHOWN: usize = 3;

/// The quality column of the ranked table: `ok`, or the short codes (blocking ones first) with
/// a `!` prefix when any note is blocking, e.g. `!stale,stale-opt,no-greeks`.
pub fn quality_text(notes: &[DataQuality]) -> String {
    let mut codes = quality_codes(notes);
    if codes.is_empty() {
        return "ok".to_string();
    }
    codes.sort_by_key(|(_, blocking)| !*blocking);
    let shown: Vec<&str> = codes
        .iter()
        .take(QUALITY_CODES_SHOWN)
        .map(|(c, _)| quality_short(*c))
        .collect();
    let mut s = String::new();
    if codes.iter().any(|(_, b)| *b) {
        s.push('!');
    }
    s.push_str(&shown.join(","));
    if codes.len() > QUALITY_CODES_SHOWN {
        s.push_str(&format!(",+{}", codes.len() - QUALITY_CODES_SHOWN));
    }
    s
}

/// The quality cell: plain `ok`, yellow notes, red when a note is blocking.
pub fn quality_cell(notes: &[DataQuality]) -> Cell {
    let colour = if notes.is_empty() {
        None
    } else {
        tier_colour(false, !notes.iter().any(|n| n.blocking))
    };
    coloured(quality_text(notes), colour)
}

/// The CSV `data_quality` column: the distinct codes joined with `;`, blocking ones suffixed
/// `!` (e.g. `stale_quote!;vendor_greeks_missing`); empty when there is no note.
pub fn quality_csv(notes: &[DataQuality]) -> String {
    quality_codes(notes)
        .iter()
        .map(|(c, b)| format!("{}{}", c.as_str(), if *b { "!" } else { "" }))
        .collect::<Vec<_>>()
        .join(";")
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.digits$}"))
}

/// Formats a max loss (unbounded is said, never a number).
pub fn max_loss_text(m: &MaxLoss) -> String {
    match m {
        MaxLoss::Bounded(x) => format!("{x:.2}"),
        MaxLoss::Unbounded => "unbounded".to_string(),
    }
}

/// The VRP basis (`vrp.basis`: which implied move the tier uses) and the straddle ratio
/// (`vrp.straddle_ratio`), when the record carries them.
pub fn vrp_basis(v: &Vrp) -> (Option<String>, Option<f64>) {
    let j = serde_json::to_value(v).unwrap_or_default();
    (
        j.get("basis").and_then(|b| b.as_str()).map(str::to_string),
        j.get("straddle_ratio").and_then(serde_json::Value::as_f64),
    )
}

/// `short_straddle cr 1.61 POP 58%`, or `-`.
pub fn best_text(rec: &ivcrush_app::AnalysisRecord) -> String {
    rec.best_strategy.map_or_else(
        || "-".into(),
        |b| {
            format!(
                "{} cr {:.2} POP {:.0}%",
                b.kind_name(),
                b.credit,
                b.pop * 100.0
            )
        },
    )
}

/// The ranked table of a scan or batch. `implied%` is `implied_move.interpolated_pct` (the
/// straddle interpolated to the forward), as on the dashboard.
pub fn rows_table(rows: &[Row]) -> Table {
    let mut t = new_table(&[
        "#",
        "ticker",
        "report",
        "when",
        "days",
        "expiry",
        "spot",
        "implied%",
        "event%",
        "hist%",
        "VRP",
        "basis",
        "tier",
        "liquidity",
        "score",
        "trade",
        "quality",
        "warn",
        "best strategy",
    ]);
    for (i, r) in rows.iter().enumerate() {
        match r {
            Row::Analyzed(rec) => {
                let a = &rec.analysis;
                let (basis, _) = vrp_basis(&a.vrp);
                t.add_row(vec![
                    Cell::new(i + 1),
                    Cell::new(&a.ticker),
                    Cell::new(a.earnings_date),
                    Cell::new(a.timing.as_str()),
                    Cell::new(rec.days_to_event),
                    Cell::new(a.expiration),
                    Cell::new(format!("{:.2}", a.spot)),
                    Cell::new(format!("{:.2}", a.implied_move.interpolated_pct)),
                    Cell::new(opt(a.implied_move.event_pct, 2)),
                    Cell::new(format!("{:.2}", a.historical.mean_pct)),
                    Cell::new(format!("{:.2}", a.vrp.ratio)),
                    Cell::new(basis.unwrap_or_else(|| "-".into())),
                    vrp_cell(a.vrp.tier),
                    liquidity_cell(a.liquidity.tier),
                    Cell::new(format!("{:.1}", a.score)),
                    coloured(
                        if a.tradeable { "yes" } else { "no" },
                        tier_colour(a.tradeable, false).filter(|_| a.tradeable),
                    ),
                    quality_cell(&a.data_quality),
                    Cell::new(if a.warnings.is_empty() {
                        "-".to_string()
                    } else {
                        a.warnings.len().to_string()
                    }),
                    Cell::new(best_text(rec)),
                ]);
            }
            Row::Failed(f) => {
                t.add_row(vec![
                    Cell::new(i + 1),
                    Cell::new(&f.ticker),
                    Cell::new(f.earnings_date.map_or("-".into(), |d| d.to_string())),
                    Cell::new(f.timing.map_or("-", |t| t.as_str())),
                    coloured(format!("error: {}", f.error), tier_colour(false, false)),
                ]);
            }
        }
    }
    t
}

/// The warnings of the analysed rows, one line each: `warning: TICKER: text`.
pub fn warning_lines(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter_map(|r| r.analysis())
        .flat_map(|a| {
            a.warnings
                .iter()
                .map(move |w| format!("warning: {}: {w}", a.ticker))
        })
        .collect()
}

/// The flat CSV columns of a row (new columns are appended, never inserted). Fields ending
/// `_pct` are percent (7.33 = 7.33 %); `best_pop` is a fraction (0.58), as in the JSON record.
pub const CSV_HEADER: [&str; 32] = [
    "ticker",
    "earnings_date",
    "timing",
    "expiration",
    "spot",
    "straddle_pct",
    "interpolated_pct",
    "event_pct",
    "hist_count",
    "hist_mean_pct",
    "hist_median_pct",
    "hist_mad_pct",
    "vrp_ratio",
    "vrp_tier",
    "edge_score",
    "liquidity_tier",
    "score",
    "tradeable",
    "strategies",
    "source",
    "stale",
    "error",
    "data_quality",
    "vrp_withheld_tier",
    "as_of",
    "days_to_event",
    "vrp_basis",
    "vrp_straddle_ratio",
    "best_strategy",
    "best_credit",
    "best_pop",
    "warnings",
];

/// Index of the `error` column in [`CSV_HEADER`].
const CSV_ERROR: usize = 21;
const _: () = assert!(matches!(CSV_HEADER[CSV_ERROR].as_bytes(), b"error"));

/// Writes rows as CSV with [`CSV_HEADER`].
///
/// # Errors
/// I/O errors of the writer.
pub fn write_csv(rows: &[Row], out: impl Write) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(CSV_HEADER)?;
    for r in rows {
        match r {
            Row::Analyzed(rec) => {
                let a = &rec.analysis;
                let f = |x: f64| format!("{x:.6}");
                let (basis, straddle_ratio) = vrp_basis(&a.vrp);
                let best = rec.best_strategy;
                w.write_record([
                    a.ticker.clone(),
                    a.earnings_date.to_string(),
                    a.timing.as_str().to_string(),
                    a.expiration.to_string(),
                    f(a.spot),
                    f(a.implied_move.straddle_pct),
                    f(a.implied_move.interpolated_pct),
                    a.implied_move.event_pct.map(f).unwrap_or_default(),
                    a.historical.count.to_string(),
                    f(a.historical.mean_pct),
                    f(a.historical.median_pct),
                    f(a.historical.mad_pct),
                    f(a.vrp.ratio),
                    a.vrp.tier.as_str().to_string(),
                    f(a.vrp.edge_score),
                    a.liquidity.tier.as_str().to_string(),
                    format!("{:.2}", a.score),
                    a.tradeable.to_string(),
                    a.strategies.len().to_string(),
                    rec.data.source.clone(),
                    rec.data.stale.to_string(),
                    String::new(),
                    quality_csv(&a.data_quality),
                    a.vrp
                        .withheld_tier
                        .map(|t| t.as_str().to_string())
                        .unwrap_or_default(),
                    a.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    rec.days_to_event.to_string(),
                    basis.unwrap_or_default(),
                    straddle_ratio.map(f).unwrap_or_default(),
                    best.map(|b| b.kind_name()).unwrap_or_default(),
                    best.map(|b| format!("{:.4}", b.credit)).unwrap_or_default(),
                    best.map(|b| format!("{:.4}", b.pop)).unwrap_or_default(),
                    a.warnings.join(" | "),
                ])?;
            }
            Row::Failed(fr) => {
                let mut rec = vec![String::new(); CSV_HEADER.len()];
                rec[0] = fr.ticker.clone();
                rec[1] = fr.earnings_date.map(|d| d.to_string()).unwrap_or_default();
                rec[2] = fr
                    .timing
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default();
                rec[CSV_ERROR] = fr.error.clone();
                w.write_record(&rec)?;
            }
        }
    }
    w.flush()?;
    Ok(())
}

/// The line above a ranked table: the as-of (New York time), the provider, the window when
/// there is one and the ranking.
pub fn caption(
    as_of: chrono::DateTime<chrono::Utc>,
    source: &str,
    window: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    rank: Option<ivcrush_app::RankBy>,
) -> String {
    let mut s = format!(
        "as of {} ({source})",
        ivcrush_app::clock::new_york_text(as_of)
    );
    if let Some((from, to)) = window {
        s.push_str(&format!("  reports {from} to {to}"));
    }
    s.push_str(match rank {
        Some(ivcrush_app::RankBy::Tradeable) => "  ranked: tradeable first, then score",
        Some(ivcrush_app::RankBy::Score) => "  ranked: by score",
        None => "  in the file's order",
    });
    s
}

/// Writes rows in the chosen format to stdout; the table gets `caption` above it and the
/// rows' warnings below it.
///
/// # Errors
/// I/O errors (a closed pipe is handled by `main`).
pub fn print_rows(
    rows: &[Row],
    format: crate::cli::OutputFormat,
    caption: &str,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        crate::cli::OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, rows)?;
            writeln!(out)?;
        }
        crate::cli::OutputFormat::Csv => write_csv(rows, &mut out)?,
        crate::cli::OutputFormat::Table => {
            writeln!(out, "{caption}")?;
            writeln!(out, "{}", rows_table(rows))?;
            for w in warning_lines(rows) {
                writeln!(out, "{w}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

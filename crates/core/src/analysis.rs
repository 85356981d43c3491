//! One ticker's full analysis: the record every surface (CLI, JSON, HTTP, database) shows.
//!
//! [`analyze`] chains the pieces: event expiry → OTM smiles and ATM vols → straddle,
//! interpolated and term-structure implied moves → historical statistics → VRP → skew → term
//! structure → liquidity → score and decision → strategies. It is pure: the caller supplies the
//! as-of instant, the quotes and the past moves.

use crate::calendar::{calendar_years, new_york_date, trading_years};
use crate::config::{AnalyticsConfig, HistoricalStat, ImpliedSource};
use crate::implied_move::{
    EventMove, EventMoveMethod, ImpliedMoveError, StraddleMove, TermPoint, event_expiry,
    event_move, straddle_move,
};
use crate::liquidity::{LiquidityTier, OptionLiquidity, option_liquidity};
use crate::moves::{HistoricalMove, MoveStats, NoData};
use crate::quality::{
    DataQuality, GateError, QualityCode, chain_notes, check_atm_distance, check_spot,
    check_spot_parity, check_time_to_expiry, push_unique, staleness_note, usable_timestamp,
};
use crate::score::{ScoreBreakdown, ScoreInputs, is_tradeable, score};
use crate::skew::{Bias, SkewFit, fit_skew, skew_bias};
use crate::smile::{ExpiryMarket, atm_vol, otm_smile};
use crate::strategy::{Strategy, StrategyContext, build_strategies};
use crate::term::{TermStructure, TermStructurePoint, term_structure};
use crate::types::{EarningsEvent, OptionChain, OptionKind, Timing};
use crate::vrp::{Vrp, VrpError, vrp};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Everything one analysis needs.
#[derive(Debug, Clone, Copy)]
pub struct AnalysisInput<'a> {
    /// Ticker symbol.
    pub ticker: &'a str,
    /// The instant the quotes are from.
    pub as_of: DateTime<Utc>,
    /// Underlying price.
    pub spot: f64,
    /// Risk-free rate (continuous).
    pub rate: f64,
    /// Dividend yield (continuous).
    pub div: f64,
    /// The upcoming report.
    pub event: EarningsEvent,
    /// Chains of the listed expirations (at least the event expiry and the next one).
    pub chains: &'a [OptionChain],
    /// Past earnings moves, oldest first.
    pub history: &'a [HistoricalMove],
    /// Force this expiration instead of the selected event expiry.
    pub expiration: Option<NaiveDate>,
    /// Data-quality notes of the fetch (stale stock quote, cached values, rate limits …);
    /// the analysis adds its own about the chains.
    pub quality: &'a [DataQuality],
}

/// Why a ticker could not be analysed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// A sanity gate failed (time to expiry, spot, parity, quotes near the money, ATM).
    #[error(transparent)]
    Gate(#[from] GateError),
    /// No listed expiration after the market reacts to the report.
    #[error("no expiration on or after the reaction to the {0} report")]
    NoEventExpiry(NaiveDate),
    /// The requested or selected expiration has no chain.
    #[error("no options listed for expiration {0}")]
    NoChain(NaiveDate),
    /// The event expiry has already expired as of the analysis.
    #[error("expiration {0} is not after the as-of time")]
    Expired(NaiveDate),
    /// The straddle could not be priced.
    #[error("implied move: {0}")]
    ImpliedMove(#[from] ImpliedMoveError),
    /// Not enough earnings history.
    #[error("{0}")]
    History(#[from] NoData),
    /// VRP undefined.
    #[error("vrp: {0}")]
    Vrp(#[from] VrpError),
}

/// The implied-move block of the record (percent units).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ImpliedMoveRecord {
    /// ATM straddle / spot × 100.
    pub straddle_pct: f64,
    /// Straddle interpolated to the forward / spot × 100.
    pub interpolated_pct: f64,
    /// Term-structure event move (trading-day time), if two post-event expiries exist.
    pub event_pct: Option<f64>,
    /// The same in calendar time, for comparison.
    pub event_calendar_pct: Option<f64>,
    /// Strike of the straddle.
    pub atm_strike: f64,
    /// Call mid + put mid.
    pub straddle_mid: f64,
    /// How the event move was extracted.
    pub method: Option<EventMoveMethod>,
    /// ±1σ move ≈ 1.2533 × the expected absolute move (interpolated), labelled as such.
    pub one_sigma_pct: f64,
}

/// The liquidity block of the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiquidityRecord {
    /// Ticker tier: the ATM straddle's worst leg.
    pub tier: LiquidityTier,
    /// ATM call.
    pub call: OptionLiquidity,
    /// ATM put.
    pub put: OptionLiquidity,
}

/// The skew block of the record.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SkewRecord {
    /// The fit, when at least five strikes were usable.
    #[serde(flatten)]
    pub fit: Option<SkewFit>,
    /// Directional bias.
    pub bias: Bias,
}

/// One ticker's analysis (stable field names; see the README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Ticker.
    pub ticker: String,
    /// As-of instant.
    pub as_of: DateTime<Utc>,
    /// Report date.
    pub earnings_date: NaiveDate,
    /// BMO / AMC / UNKNOWN.
    pub timing: Timing,
    /// Event expiry analysed.
    pub expiration: NaiveDate,
    /// Spot.
    pub spot: f64,
    /// Implied moves.
    pub implied_move: ImpliedMoveRecord,
    /// Historical move statistics (percent).
    pub historical: MoveStats,
    /// VRP.
    pub vrp: Vrp,
    /// Skew.
    pub skew: SkewRecord,
    /// Term structure.
    pub term_structure: TermStructure,
    /// Liquidity.
    pub liquidity: LiquidityRecord,
    /// Composite score 0–100.
    pub score: f64,
    /// Component scores.
    pub score_breakdown: ScoreBreakdown,
    /// Strategies (only for tradeable tickers).
    pub strategies: Vec<Strategy>,
    /// The decision.
    pub tradeable: bool,
    /// Caveats.
    pub warnings: Vec<String>,
    /// Data-quality notes `{code, detail, blocking}`; a blocking one withholds the VRP tier
    /// and the tradeable flag.
    #[serde(default)]
    pub data_quality: Vec<DataQuality>,
}

struct ExpiryView<'a> {
    chain: &'a OptionChain,
    market: ExpiryMarket,
    tau: f64,
    smile: Vec<crate::smile::SmilePoint>,
    atm_iv: Option<f64>,
}

/// Analyses one ticker.
///
/// # Errors
/// [`AnalysisError`] when the inputs cannot support an analysis (no event expiry, no straddle,
/// too little history …); each message names what is missing.
pub fn analyze(inp: &AnalysisInput<'_>, cfg: &AnalyticsConfig) -> Result<Analysis, AnalysisError> {
    check_spot(inp.spot)?;
    let gates = &cfg.gates;
    let mut warnings = Vec::new();
    let mut quality: Vec<DataQuality> = Vec::new();
    for note in inp.quality {
        push_unique(&mut quality, note.clone());
    }
    if inp.event.timing == Timing::Unknown {
        warnings.push("report timing unknown: treated as after the close (AMC)".to_string());
    }
    let as_of_day = new_york_date(inp.as_of);
    let live: Vec<&OptionChain> = {
        let mut v: Vec<&OptionChain> = inp
            .chains
            .iter()
            .filter(|c| calendar_years(inp.as_of, c.expiration) > 0.0)
            .collect();
        v.sort_by_key(|c| c.expiration);
        v
    };
    let expirations: Vec<NaiveDate> = live.iter().map(|c| c.expiration).collect();
    let expiry = match inp.expiration {
        Some(e) => {
            if calendar_years(inp.as_of, e) <= 0.0 {
                return Err(AnalysisError::Expired(e));
            }
            e
        }
        None => event_expiry(&expirations, &inp.event)
            .ok_or(AnalysisError::NoEventExpiry(inp.event.date))?,
    };
    check_time_to_expiry(expiry, calendar_years(inp.as_of, expiry), inp.as_of, gates)?;
    let make_view = |chain: &OptionChain| {
        let market = ExpiryMarket {
            spot: inp.spot,
            t: calendar_years(inp.as_of, chain.expiration),
            rate: inp.rate,
            div: inp.div,
        };
        let smile = otm_smile(chain, &market);
        let atm_iv = atm_vol(&smile);
        (
            market,
            trading_years(as_of_day, chain.expiration),
            smile,
            atm_iv,
        )
    };
    let post: Vec<ExpiryView<'_>> = live
        .iter()
        .filter(|c| c.expiration >= expiry)
        .take(4)
        .map(|c| {
            let (market, tau, smile, atm_iv) = make_view(c);
            ExpiryView {
                chain: c,
                market,
                tau,
                smile,
                atm_iv,
            }
        })
        .collect();
    let front = post
        .first()
        .filter(|v| v.chain.expiration == expiry)
        .ok_or(AnalysisError::NoChain(expiry))?;
    let forward = front.market.forward();
    check_spot_parity(
        front.chain,
        inp.spot,
        forward,
        front.market.t,
        inp.rate,
        inp.div,
        gates,
    )?;
    let sessions = (front.tau * crate::calendar::TRADING_DAYS_PER_YEAR).round();
    if sessions > 10.0 && cfg.vrp.implied != ImpliedSource::Event {
        warnings.push(format!(
            "event expiry is {sessions} sessions away: the straddle also prices that much ordinary \
             movement, so the VRP ratio overstates the event premium (compare event_pct)"
        ));
    }
    let straddle: StraddleMove = straddle_move(front.chain, inp.spot, forward)?;
    check_atm_distance(straddle.atm_strike, forward, gates)?;
    for note in chain_notes(front.chain, forward, straddle.atm_strike, gates) {
        push_unique(&mut quality, note);
    }
    for v in &post {
        vendor_notes(v.chain, inp.as_of, cfg, &mut quality);
    }

    // Event move from the post-event term structure.
    let points: Vec<TermPoint> = post
        .iter()
        .filter_map(|v| {
            Some(TermPoint {
                t_calendar: v.market.t,
                tau_trading: v.tau,
                atm_iv: v.atm_iv?,
            })
        })
        .collect();
    let ev: Option<EventMove> = match event_move(&points) {
        Ok(m) => {
            if m.negative_variance_clamped {
                warnings.push(
                    "term structure not inverted: event variance negative, event move set to 0"
                        .to_string(),
                );
            }
            Some(m)
        }
        Err(e) => {
            warnings.push(format!("no term-structure event move: {e}"));
            None
        }
    };

    // History and VRP.
    let hist = MoveStats::from_moves(
        inp.history,
        cfg.moves.metric,
        cfg.moves.lookback,
        cfg.moves.min_reports,
        cfg.moves.ewma_half_life,
    )?;
    let implied_pct = match cfg.vrp.implied {
        ImpliedSource::Straddle => straddle.straddle_pct.0,
        ImpliedSource::Interpolated => straddle.interpolated_pct.0,
        ImpliedSource::Event => match ev {
            Some(e) => e.event_pct.0,
            None => {
                warnings.push("event move unavailable: VRP uses the interpolated straddle".into());
                straddle.interpolated_pct.0
            }
        },
    };
    let hist_pct = match cfg.vrp.historical {
        HistoricalStat::Mean => hist.mean_pct,
        HistoricalStat::Median => hist.median_pct,
        HistoricalStat::Ewma => hist.ewma_pct,
    };
    let v = vrp(
        implied_pct,
        hist_pct,
        hist.mad_pct,
        hist.median_pct,
        &cfg.vrp,
    )?;

    // Skew on the event expiry.
    let fit = match fit_skew(&front.smile, front.market.t, forward) {
        Ok(f) => Some(f),
        Err(e) => {
            warnings.push(format!("skew: {e}"));
            None
        }
    };
    let bias = fit.map_or(Bias::Neutral, |f| skew_bias(&f, &cfg.skew));

    // Term structure over every live expiry from the event on (and one before, if listed).
    let ts = term_structure(
        live.iter()
            .filter(|c| c.expiration >= expiry)
            .take(6)
            .filter_map(|c| {
                let (market, _, _, atm) = if c.expiration == expiry {
                    (front.market, 0.0, Vec::new(), front.atm_iv)
                } else if let Some(pv) = post.iter().find(|p| p.chain.expiration == c.expiration) {
                    (pv.market, 0.0, Vec::new(), pv.atm_iv)
                } else {
                    make_view(c)
                };
                Some(TermStructurePoint {
                    expiration: c.expiration,
                    days: market.t * 365.0,
                    atm_iv: atm?,
                })
            })
            .collect(),
    );

    // Liquidity of the ATM straddle.
    let leg_liq = |kind| {
        front
            .chain
            .quote(kind, straddle.atm_strike)
            .map(|q| option_liquidity(q, &cfg.liquidity))
    };
    let (call_liq, put_liq) = match (leg_liq(OptionKind::Call), leg_liq(OptionKind::Put)) {
        (Some(c), Some(p)) => (c, p),
        _ => return Err(AnalysisError::ImpliedMove(ImpliedMoveError::NoStraddle)),
    };
    let liq_tier = call_liq.tier.min(put_liq.tier);

    let mad_over_median = if hist.median_pct > 0.0 {
        hist.mad_pct / hist.median_pct
    } else {
        f64::INFINITY
    };
    let breakdown = score(
        &ScoreInputs {
            vrp_ratio: v.ratio,
            liquidity: liq_tier,
            mad_over_median,
            mixon: fit.and_then(|f| f.mixon),
        },
        cfg,
    );
    let mut blocking: Vec<&str> = quality
        .iter()
        .filter(|n| n.blocking)
        .map(|n| n.code.as_str())
        .collect();
    blocking.sort_unstable();
    blocking.dedup();
    let mut v = v;
    if !blocking.is_empty() {
        warnings.push(format!(
            "not tradeable: data quality ({}) makes the figures unreliable; VRP tier {} withheld",
            blocking.join(", "),
            v.tier.as_str()
        ));
        v.withheld_tier = Some(v.tier);
        v.tier = crate::vrp::VrpTier::Skip;
    }
    let tradeable =
        blocking.is_empty() && is_tradeable(v.tier, liq_tier, breakdown.composite, &cfg.score);

    let strategies = if tradeable {
        let moves: Vec<f64> = inp
            .history
            .iter()
            .rev()
            .take(cfg.moves.lookback)
            .rev()
            .map(|m| m.signed_close_pct.fraction())
            .collect();
        let atm_iv = front.atm_iv.unwrap_or(0.0);
        let ctx = StrategyContext {
            chain: front.chain,
            market: front.market,
            smile: &front.smile,
            atm_strike: straddle.atm_strike,
            implied_move: straddle.interpolated_pct.fraction(),
            total_variance: atm_iv * atm_iv * front.market.t,
            event_std: ev.map(|e| e.event_variance.sqrt()).filter(|s| *s > 0.0),
            historical_moves: &moves,
            bias,
        };
        build_strategies(&ctx, &cfg.strategy, &cfg.liquidity)
    } else {
        Vec::new()
    };

    Ok(Analysis {
        ticker: inp.ticker.to_string(),
        as_of: inp.as_of,
        earnings_date: inp.event.date,
        timing: inp.event.timing,
        expiration: expiry,
        spot: inp.spot,
        implied_move: ImpliedMoveRecord {
            straddle_pct: straddle.straddle_pct.0,
            interpolated_pct: straddle.interpolated_pct.0,
            event_pct: ev.map(|e| e.event_pct.0),
            event_calendar_pct: ev.map(|e| e.calendar_pct.0),
            atm_strike: straddle.atm_strike,
            straddle_mid: straddle.straddle_mid,
            method: ev.map(|e| e.method),
            one_sigma_pct: straddle.interpolated_pct.0 * (std::f64::consts::PI / 2.0).sqrt(),
        },
        historical: hist,
        vrp: v,
        skew: SkewRecord { fit, bias },
        term_structure: ts,
        liquidity: LiquidityRecord {
            tier: liq_tier,
            call: call_liq,
            put: put_liq,
        },
        score: breakdown.composite,
        score_breakdown: breakdown,
        strategies,
        tradeable,
        warnings,
        data_quality: quality,
    })
}

/// Notes from a live vendor's chain metadata: stale or undated option quotes, missing vendor
/// greeks, dropped contracts.
fn vendor_notes(
    chain: &OptionChain,
    as_of: DateTime<Utc>,
    cfg: &AnalyticsConfig,
    out: &mut Vec<DataQuality>,
) {
    let Some(meta) = &chain.vendor else {
        return;
    };
    let what = format!("option quotes of {}", chain.expiration);
    let stamp = usable_timestamp(meta.quoted_at, as_of, &cfg.gates);
    if let Some(note) = staleness_note(
        &what,
        QualityCode::StaleOptionQuotes,
        stamp,
        as_of,
        &cfg.gates,
    ) {
        push_unique(out, note);
    }
    if meta.greeks_missing > 0 {
        push_unique(
            out,
            DataQuality::new(
                QualityCode::VendorGreeksMissing,
                format!(
                    "{} of {} contracts of {} came without vendor greeks; ivcrush solves every IV \
                     itself from the quotes",
                    meta.greeks_missing, meta.contracts, chain.expiration
                ),
            ),
        );
    }
    if meta.dropped > 0 {
        push_unique(
            out,
            DataQuality::new(
                QualityCode::ContractsDropped,
                format!(
                    "{} of {} contracts of the {} chain were for another expiration or \
                     underlying, or had no strike or type, and were dropped",
                    meta.dropped, meta.contracts, chain.expiration
                ),
            ),
        );
    }
}

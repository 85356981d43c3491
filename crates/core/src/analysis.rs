//! One ticker's full analysis: the record every surface (CLI, JSON, HTTP, database) shows.
//!
//! [`analyze`] chains the pieces: event expiry → each expiry's forward from its chain → OTM
//! smiles and ATM vols → straddle, interpolated and term-structure implied moves → historical
//! statistics → VRP (event basis by default) → skew → term structure and IV-crush forecast →
//! liquidity → score and decision → strategies. It is pure: the caller supplies the as-of
//! instant, the quotes and the past moves.

use crate::calendar::{TRADING_DAYS_PER_YEAR, calendar_years, trading_years_at};
use crate::config::{AnalyticsConfig, HistoricalStat, ImpliedSource};
use crate::forward::expiry_forward;
use crate::implied_move::{
    EventMove, EventMoveMethod, ImpliedMoveError, StraddleMove, TermPoint, event_expiry, fit_event,
    fit_expiries, straddle_move,
};
use crate::liquidity::{LiquidityTier, OptionLiquidity, option_liquidity};
use crate::moves::reaction_date;
use crate::moves::{HistoricalMove, MoveStats, NoData};
use crate::quality::{
    DataQuality, GateError, QualityCode, chain_notes, check_atm_distance, check_spot,
    check_spot_parity, check_time_to_expiry, push_unique, staleness_note, usable_timestamp,
};
use crate::score::{ScoreBreakdown, ScoreInputs, is_tradeable, score};
use crate::skew::{Bias, SkewFit, bias_rule, fit_skew, skew_bias};
use crate::smile::{ATM_CANDIDATES, ExpiryMarket, atm_vol, otm_smile, otm_smile_near};
use crate::strategy::{Strategy, StrategyContext, build_strategies};
use crate::term::{Forecast, TermStructure, TermStructurePoint, term_structure};
use crate::types::{EarningsEvent, OptionChain, OptionKind, Timing};
use crate::vrp::{Vrp, VrpBasis, VrpError, vrp};
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
    /// Chains of the listed expirations: the event expiry, every expiry up to
    /// `term.window_days` after it (the term-structure fit) and, when listed, the last one
    /// before the reaction (a cleaner ex-event vol). At least the event expiry and the next one.
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
    /// The requested expiration ends before the market reacts to the report: it carries no
    /// event.
    #[error(
        "expiration {expiration} ends before the reaction session {reaction}: it carries no earnings event"
    )]
    ExpiryBeforeReaction {
        /// The requested expiration.
        expiration: NaiveDate,
        /// The reaction session.
        reaction: NaiveDate,
    },
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
    /// The analysed expiry's forward (put–call parity of its chain, or rate and yield when
    /// too few pairs were two-sided; see `data_quality`).
    #[serde(default)]
    pub forward: f64,
    /// Expiries in the event-variance fit.
    #[serde(default)]
    pub fit_expiries: Option<usize>,
    /// The pre-event expiry (expiring before the reaction) that anchored the diffusion.
    #[serde(default)]
    pub pre_event_expiry: Option<NaiveDate>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkewRecord {
    /// The fit, when at least five strikes were usable.
    #[serde(flatten)]
    pub fit: Option<SkewFit>,
    /// Directional bias.
    pub bias: Bias,
    /// The 25Δ risk reversal σ25C − σ25P in vol points (−3.2 = puts 3.2 points richer).
    #[serde(default)]
    pub risk_reversal_25_vol_pts: Option<f64>,
    /// The rule the bias follows, with its thresholds.
    #[serde(default)]
    pub bias_rule: String,
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
    /// The IV-crush forecast of the analysed expiry (from the term-structure fit).
    #[serde(default)]
    pub forecast: Forecast,
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

/// One expiry as the analysis sees it: its forward, both clocks, its OTM smile and ATM vol.
struct ExpiryView<'a> {
    chain: &'a OptionChain,
    market: ExpiryMarket,
    tau: f64,
    smile: Vec<crate::smile::SmilePoint>,
    atm_iv: Option<f64>,
}

impl ExpiryView<'_> {
    fn point(&self) -> Option<TermPoint> {
        Some(TermPoint {
            t_calendar: self.market.t,
            tau_trading: self.tau,
            atm_iv: self.atm_iv?,
        })
    }
}

/// Analyses one ticker.
///
/// The forward of every expiry is implied by its own chain (put–call parity near the money,
/// [`crate::forward`]); the event move is a least-squares fit over every post-event expiry
/// within `term.window_days` of the event expiry and the last pre-event expiry, in trading-day
/// time counted from the as-of instant ([`crate::calendar::trading_years_at`]). The VRP compares
/// that event move with the mean reaction by default ([`crate::vrp`]). The chains handed in
/// decide what can be fitted: the event expiry, the expiries in the window after it and the one
/// before the reaction.
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
    let live: Vec<&OptionChain> = {
        let mut v: Vec<&OptionChain> = inp
            .chains
            .iter()
            .filter(|c| calendar_years(inp.as_of, c.expiration) > 0.0)
            .collect();
        v.sort_by_key(|c| c.expiration);
        v.dedup_by_key(|c| c.expiration);
        v
    };
    let expirations: Vec<NaiveDate> = live.iter().map(|c| c.expiration).collect();
    let reaction = reaction_date(&inp.event);
    // The event expiry the calendar implies, whatever expiry the user chose: the fit (and so the
    // event move and the event-basis VRP) must not depend on the expiry analysed.
    let natural = event_expiry(&expirations, &inp.event);
    let expiry = match inp.expiration {
        Some(e) => {
            if calendar_years(inp.as_of, e) <= 0.0 {
                return Err(AnalysisError::Expired(e));
            }
            if e < reaction {
                return Err(AnalysisError::ExpiryBeforeReaction {
                    expiration: e,
                    reaction,
                });
            }
            e
        }
        None => natural.ok_or(AnalysisError::NoEventExpiry(inp.event.date))?,
    };
    check_time_to_expiry(expiry, calendar_years(inp.as_of, expiry), inp.as_of, gates)?;
    let front_chain = *live
        .iter()
        .find(|c| c.expiration == expiry)
        .ok_or(AnalysisError::NoChain(expiry))?;

    // Which expiries are looked at: the analysed one (full smile: skew and strategies), the fit
    // window (post-event expiries up to window_days after the event expiry, and at least two of
    // them when listed) and the last pre-event expiry with enough time left.
    let event_exp = natural.unwrap_or(expiry);
    let wanted = fit_expiries(&expirations, &inp.event, inp.as_of, &cfg.term);
    let chain_of = |e: NaiveDate| live.iter().copied().find(|c| c.expiration == e);
    let pre_chain = wanted.pre.and_then(chain_of);
    let mut fit_set: Vec<&OptionChain> = wanted.post.iter().filter_map(|e| chain_of(*e)).collect();
    // (Expiring before the reaction, it is also before the analysed expiry.)
    fit_set.extend(pre_chain);
    let mut views: Vec<ExpiryView<'_>> = Vec::with_capacity(fit_set.len() + 1);
    let front = expiry_view(front_chain, true, inp, cfg, &mut quality);
    for c in &fit_set {
        if c.expiration != expiry {
            views.push(expiry_view(c, false, inp, cfg, &mut quality));
        }
    }
    let view = |e: NaiveDate| {
        if e == expiry {
            Some(&front)
        } else {
            views.iter().find(|v| v.chain.expiration == e)
        }
    };

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
    let straddle: StraddleMove = straddle_move(front.chain, inp.spot, forward)?;
    check_atm_distance(straddle.atm_strike, forward, gates)?;
    for note in chain_notes(front.chain, forward, straddle.atm_strike, gates) {
        push_unique(&mut quality, note);
    }

    // Event move: least squares over the window, the pre-event expiry without the event.
    let post_points: Vec<TermPoint> = fit_set
        .iter()
        .filter(|c| c.expiration >= reaction)
        .filter_map(|c| view(c.expiration)?.point())
        .collect();
    let pre_point: Vec<TermPoint> = pre_chain
        .and_then(|c| view(c.expiration)?.point())
        .into_iter()
        .collect();
    let ev: Option<EventMove> = match fit_event(&post_points, &pre_point) {
        Ok(m) => {
            if m.negative_variance_clamped {
                warnings.push(
                    "term structure not inverted: event variance negative, event move set to 0"
                        .to_string(),
                );
            }
            if !(m.diffusion_variance > 0.0) {
                warnings.push(
                    "term-structure fit gives no diffusion (total variance not rising with \
                     time): no ex-event vol or crush forecast"
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
    let (implied_pct, basis) = match cfg.vrp.implied {
        ImpliedSource::Straddle => (straddle.straddle_pct.0, VrpBasis::Straddle),
        ImpliedSource::Interpolated => (straddle.interpolated_pct.0, VrpBasis::Interpolated),
        ImpliedSource::Event => match ev {
            Some(e) => (e.event_pct.0, VrpBasis::Event),
            None => {
                warnings.push(
                    "no event move could be extracted from the term structure: the VRP uses the \
                     interpolated straddle (basis interpolated), which also prices every \
                     ordinary session to expiry and overstates the event premium"
                        .into(),
                );
                (straddle.interpolated_pct.0, VrpBasis::Interpolated)
            }
        },
    };
    let hist_pct = match cfg.vrp.historical {
        HistoricalStat::Mean => hist.mean_pct,
        HistoricalStat::Median => hist.median_pct,
        HistoricalStat::Ewma => hist.ewma_pct,
    };
    let mut v = vrp(
        implied_pct,
        hist_pct,
        hist.mad_pct,
        hist.median_pct,
        &cfg.vrp,
    )?;
    v.basis = basis;
    v.straddle_ratio = Some(straddle.interpolated_pct.0 / hist_pct).filter(|r| r.is_finite());
    // The share of the analysed straddle's variance that is ordinary movement, not the event.
    v.non_event_share = ev.zip(front.atm_iv).and_then(|(e, iv)| {
        let w = iv * iv * front.market.t;
        (w > 0.0).then(|| (1.0 - e.event_variance / w).clamp(0.0, 1.0))
    });
    if let Some(share) = v.non_event_share
        && share > cfg.vrp.non_event_share_warning
    {
        warnings.push(format!(
            "{:.0} % of the {expiry} straddle's variance is ordinary movement over {:.1} \
             sessions, not the event (above {:.0} %): the straddle ({:.2} %) sells mostly \
             diffusion; the event move is {:.2} %",
            share * 100.0,
            front.tau * TRADING_DAYS_PER_YEAR,
            cfg.vrp.non_event_share_warning * 100.0,
            straddle.interpolated_pct.0,
            ev.map_or(0.0, |e| e.event_pct.0),
        ));
    }

    // Skew on the analysed expiry.
    let fit = match fit_skew(&front.smile, front.market.t, forward) {
        Ok(f) => Some(f),
        Err(e) => {
            warnings.push(format!("skew: {e}"));
            None
        }
    };
    let bias = fit.map_or(Bias::Neutral, |f| skew_bias(&f, &cfg.skew));

    // Term structure from the event expiry on (the analysed expiry included), with the fit's
    // ex-event vol per expiry.
    let mut shown: Vec<&ExpiryView<'_>> = std::iter::once(&front)
        .chain(views.iter())
        .filter(|v| v.chain.expiration >= event_exp)
        .collect();
    shown.sort_by_key(|v| v.chain.expiration);
    let in_fit = |e: NaiveDate| fit_set.iter().any(|c| c.expiration == e);
    let ts = term_structure(
        shown
            .iter()
            .filter_map(|v| {
                Some(TermStructurePoint {
                    expiration: v.chain.expiration,
                    days: v.market.t * 365.0,
                    atm_iv: v.atm_iv?,
                    ex_event_iv: ev.and_then(|e| e.ex_event_iv(v.tau, v.market.t)),
                    trading_days: Some(v.tau * TRADING_DAYS_PER_YEAR),
                    in_fit: in_fit(v.chain.expiration) && ev.is_some(),
                })
            })
            .collect(),
    );

    // The IV-crush forecast of the analysed expiry.
    let next_after = expirations.iter().copied().find(|e| *e > expiry);
    let forecast = match ev.filter(|e| e.diffusion_variance > 0.0) {
        Some(e) => {
            let post = e.ex_event_iv(front.tau, front.market.t);
            Forecast {
                post_event_iv: post,
                forward_vol: next_after.and_then(|n| {
                    e.forward_vol(
                        (front.tau, front.market.t),
                        (trading_years_at(inp.as_of, n), calendar_years(inp.as_of, n)),
                    )
                }),
                crush_vol_points: post.zip(front.atm_iv).map(|(p, a)| (a - p) * 100.0),
                diffusion_vol: Some(e.diffusion_vol),
            }
        }
        None => Forecast::default(),
    };

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
            as_of: inp.as_of,
            reaction,
            atm_iv: front.atm_iv,
            event_variance: ev.map(|e| e.event_variance),
            diffusion_vol: forecast.diffusion_vol,
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
            forward,
            fit_expiries: ev.map(|e| e.expiries),
            pre_event_expiry: pre_chain
                .filter(|_| ev.is_some_and(|e| e.pre_event))
                .map(|c| c.expiration),
        },
        historical: hist,
        vrp: v,
        skew: SkewRecord {
            fit,
            bias,
            risk_reversal_25_vol_pts: fit.and_then(|f| f.risk_reversal_25).map(|r| r * 100.0),
            bias_rule: bias_rule(&cfg.skew),
        },
        term_structure: ts,
        forecast,
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

/// One expiry's view: its forward from its own chain (with a note when it fell back or
/// disagrees with rate and yield), both clocks, its OTM smile (only the strikes the ATM vol
/// needs unless `full`) and ATM vol.
fn expiry_view<'a>(
    chain: &'a OptionChain,
    full: bool,
    inp: &AnalysisInput<'_>,
    cfg: &AnalyticsConfig,
    quality: &mut Vec<DataQuality>,
) -> ExpiryView<'a> {
    let t = calendar_years(inp.as_of, chain.expiration);
    let (fwd, note) = expiry_forward(chain, inp.spot, t, inp.rate, inp.div, &cfg.forward);
    if let Some(n) = note {
        push_unique(quality, n);
    }
    let market = ExpiryMarket::with_forward(inp.spot, t, inp.rate, fwd.forward);
    let smile = if full {
        otm_smile(chain, &market)
    } else {
        otm_smile_near(chain, &market, ATM_CANDIDATES)
    };
    let atm_iv = atm_vol(&smile);
    vendor_notes(chain, inp.as_of, cfg, quality);
    ExpiryView {
        chain,
        market,
        tau: trading_years_at(inp.as_of, chain.expiration),
        smile,
        atm_iv,
    }
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

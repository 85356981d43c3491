//! One ticker's full analysis: the record every surface (CLI, JSON, HTTP, database) shows.
//!
//! [`analyze`] chains the pieces: event expiry → each expiry's forward from its chain → OTM
//! smiles and ATM vols → straddle, interpolated and term-structure implied moves → historical
//! statistics → VRP (event basis by default) → skew → term structure and IV-crush forecast →
//! liquidity → score and decision → strategies. It is pure: the caller supplies the as-of
//! instant, the quotes and the past moves.

use crate::calendar::{CalendarYears, ExpiryTime};
use crate::config::{
    AnalyticsConfig, HistoricalStat, ImpliedSource, LiquidityConfig, SkewConfig, VrpConfig,
};
use crate::forward::expiry_forward;
use crate::implied_move::{
    EventMove, EventMoveMethod, ImpliedMoveError, StraddleMove, TermPoint, event_expiry, fit_event,
    fit_expiries, straddle_move,
};
use crate::liquidity::{LiquidityTier, OptionLiquidity, option_liquidity};
use crate::moves::reaction_date;
use crate::moves::{HistoricalMove, MoveStats, NoData};
use crate::quality::{
    DataQuality, GateConfig, GateError, QualityCode, chain_notes, check_atm_distance, check_spot,
    check_spot_parity, check_time_to_expiry, push_unique, staleness_note, usable_timestamp,
};
use crate::realized::{RV_LONG_SESSIONS, RealizedVolRecord, rv_record};
use crate::score::{ScoreBreakdown, ScoreInputs, is_tradeable, score};
use crate::skew::{Bias, SkewFit, bias_rule, fit_skew, skew_bias};
use crate::smile::{ATM_CANDIDATES, ExpiryMarket, SmilePoint, atm_vol, otm_smile, otm_smile_near};
use crate::strategy::{Strategy, StrategyContext, build_strategies};
use crate::term::{Forecast, TermStructure, TermStructurePoint, term_structure};
use crate::types::{Bar, EarningsEvent, OptionChain, OptionKind, Timing};
use crate::uncertainty::{mean_interval, ratio_interval};
use crate::vrp::{Vrp, VrpBasis, VrpError, VrpTier, WithheldBy, vrp, vrp_tier};
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
    /// Daily bars, oldest first, consecutive sessions, through the last completed session at
    /// the latest (later ones are ignored): the realized volatility. Empty: no
    /// `realized_vol` block and no diffusion VRP.
    pub bars: &'a [Bar],
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
    /// Historical move statistics (percent), with the mean's confidence interval.
    pub historical: MoveStats,
    /// Realized volatility over the last 20 and 60 sessions, with and without the reaction
    /// sessions of past reports (`None` without bars covering 20 sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub realized_vol: Option<RealizedVolRecord>,
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
    time: ExpiryTime,
    smile: Vec<SmilePoint>,
    atm_iv: Option<f64>,
}

impl ExpiryView<'_> {
    fn expiration(&self) -> NaiveDate {
        self.chain.expiration
    }

    fn point(&self) -> Option<TermPoint> {
        Some(TermPoint {
            t_calendar: self.time.calendar.years(),
            tau_trading: self.time.trading.years(),
            atm_iv: self.atm_iv?,
        })
    }
}

/// What the analysis reports besides its figures: warnings and data-quality notes, in the
/// order the steps raise them.
struct Notes {
    warnings: Vec<String>,
    quality: Vec<DataQuality>,
}

/// The expiries looked at: the analysed one (full smile: skew and strategies), the fit window
/// (post-event expiries up to `term.window_days` after the event expiry, and at least two of
/// them when listed) and the last pre-event expiry with enough time left.
struct ExpiryPlan<'a> {
    /// Listed expirations not yet expired, ascending.
    expirations: Vec<NaiveDate>,
    /// The session that reacts to the report.
    reaction: NaiveDate,
    /// The analysed expiry (the requested one, else the event expiry).
    expiry: NaiveDate,
    /// The event expiry the calendar implies, whatever expiry was requested (the analysed one
    /// when the calendar implies none): the term structure starts there.
    event_expiry: NaiveDate,
    /// The analysed expiry's chain.
    front: &'a OptionChain,
    /// The fit's chains: the post-event ones, then the pre-event one.
    fit: Vec<&'a OptionChain>,
    /// The pre-event expiry's chain.
    pre: Option<&'a OptionChain>,
}

/// Every expiry's view: the analysed one and the rest of the fit.
struct Views<'a> {
    front: ExpiryView<'a>,
    others: Vec<ExpiryView<'a>>,
}

impl<'a> Views<'a> {
    fn get(&self, expiration: NaiveDate) -> Option<&ExpiryView<'a>> {
        std::iter::once(&self.front)
            .chain(&self.others)
            .find(|v| v.expiration() == expiration)
    }
}

/// The implied figure the VRP divides and the basis it is reported under.
struct VrpImplied {
    pct: f64,
    basis: VrpBasis,
}

/// The score and the decision.
struct Decision {
    breakdown: ScoreBreakdown,
    tradeable: bool,
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
///
/// # Example
/// ```
/// use ivcrush_core::{analyze, AnalysisError, AnalysisInput, AnalyticsConfig, EarningsEvent, Timing};
///
/// // Without any chain there is no expiry to analyse: a typed error, never a panic.
/// let input = AnalysisInput {
///     ticker: "AAPL",
///     as_of: "2026-01-28T20:00:00Z".parse().unwrap(),
///     spot: 251.37,
///     rate: 0.043,
///     div: 0.004,
///     event: EarningsEvent { date: "2026-01-29".parse().unwrap(), timing: Timing::Amc },
///     chains: &[],
///     history: &[],
///     bars: &[],
///     expiration: None,
///     quality: &[],
/// };
/// let err = analyze(&input, &AnalyticsConfig::default()).unwrap_err();
/// assert!(matches!(err, AnalysisError::NoEventExpiry(_)));
/// assert_eq!(err.to_string(), "no expiration on or after the reaction to the 2026-01-29 report");
///
/// // A spot that is not a positive number fails the first gate.
/// let bad = AnalysisInput { spot: f64::NAN, ..input };
/// assert!(matches!(analyze(&bad, &AnalyticsConfig::default()), Err(AnalysisError::Gate(_))));
/// ```
pub fn analyze(inp: &AnalysisInput<'_>, cfg: &AnalyticsConfig) -> Result<Analysis, AnalysisError> {
    let ImpliedStage {
        mut notes,
        plan,
        views,
        straddle,
        event,
    } = ImpliedStage::run(inp, cfg)?;
    let historical = historical_stats(inp.history, cfg)?;
    let realized_vol = realized_vol_of(inp, &mut notes.warnings);
    let mut vrp = event_vrp(
        &straddle,
        event,
        &historical,
        &views.front,
        cfg,
        &mut notes.warnings,
    )?;
    let skew = skew_record(&views.front, &cfg.skew, &mut notes.warnings);
    let term_structure = term_structure_of(&plan, &views, event);
    let forecast = forecast_of(&plan, &views.front, event, inp.as_of);
    vrp.diffusion_ratio = diffusion_ratio(&forecast, realized_vol.as_ref());
    let liquidity = straddle_liquidity(&views.front, &straddle, &cfg.liquidity)?;
    let decision = decide(&mut vrp, &historical, &liquidity, &skew, cfg, &mut notes);
    let strategies = if decision.tradeable {
        strategies_for(
            inp,
            cfg,
            &plan,
            &views.front,
            &straddle,
            event,
            &skew,
            &forecast,
        )
    } else {
        Vec::new()
    };
    Ok(Analysis {
        ticker: inp.ticker.to_string(),
        as_of: inp.as_of,
        earnings_date: inp.event.date,
        timing: inp.event.timing,
        expiration: plan.expiry,
        spot: inp.spot,
        implied_move: implied_move_record(&straddle, event, &views.front, plan.pre),
        historical,
        realized_vol,
        vrp,
        skew,
        term_structure,
        forecast,
        score: decision.breakdown.composite,
        score_breakdown: decision.breakdown,
        liquidity,
        strategies,
        tradeable: decision.tradeable,
        warnings: notes.warnings,
        data_quality: notes.quality,
    })
}

/// The implied move alone, as a live feed republishes it on every quote update: the same steps
/// as [`analyze`] up to the event move (same expiries, gates, forwards and fit), so that the
/// figure equals the `implied_move` block of an analysis of the same quotes. `history` and
/// `bars` are not used.
///
/// # Errors
/// The [`AnalysisError`]s of those steps (no event expiry, a failed gate, no straddle).
pub fn live_implied_move(
    inp: &AnalysisInput<'_>,
    cfg: &AnalyticsConfig,
) -> Result<LiveImpliedMove, AnalysisError> {
    let stage = ImpliedStage::run(inp, cfg)?;
    Ok(LiveImpliedMove {
        expiration: stage.plan.expiry,
        implied_move: implied_move_record(
            &stage.straddle,
            stage.event,
            &stage.views.front,
            stage.plan.pre,
        ),
        warnings: stage.notes.warnings,
        data_quality: stage.notes.quality,
    })
}

/// [`live_implied_move`]'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveImpliedMove {
    /// The analysed (event) expiry.
    pub expiration: NaiveDate,
    /// The implied-move block, as [`Analysis::implied_move`].
    pub implied_move: ImpliedMoveRecord,
    /// Caveats of the steps run.
    pub warnings: Vec<String>,
    /// Data-quality notes of the steps run.
    pub data_quality: Vec<DataQuality>,
}

/// The steps shared by [`analyze`] and [`live_implied_move`]: expiries, views, straddle and
/// event move.
struct ImpliedStage<'a> {
    notes: Notes,
    plan: ExpiryPlan<'a>,
    views: Views<'a>,
    straddle: StraddleMove,
    event: Option<EventMove>,
}

impl<'a> ImpliedStage<'a> {
    fn run(
        inp: &AnalysisInput<'a>,
        cfg: &AnalyticsConfig,
    ) -> Result<ImpliedStage<'a>, AnalysisError> {
        check_spot(inp.spot)?;
        let mut notes = Notes::start(inp);
        let plan = ExpiryPlan::select(inp, cfg)?;
        let views = Views::build(&plan, inp, cfg, &mut notes.quality);
        let straddle = price_straddle(&views.front, inp, &cfg.gates, &mut notes.quality)?;
        let event = fit_event_move(&plan, &views, &mut notes.warnings);
        Ok(ImpliedStage {
            notes,
            plan,
            views,
            straddle,
            event,
        })
    }
}

impl Notes {
    /// The fetch's own notes, and the timing caveat.
    fn start(inp: &AnalysisInput<'_>) -> Notes {
        let mut quality = Vec::new();
        for note in inp.quality {
            push_unique(&mut quality, note.clone());
        }
        let mut warnings = Vec::new();
        if inp.event.timing == Timing::Unknown {
            warnings.push("report timing unknown: treated as after the close (AMC)".to_string());
        }
        Notes { warnings, quality }
    }
}

impl<'a> ExpiryPlan<'a> {
    /// Selects the analysed expiry (checking it) and the chains of the fit.
    fn select(
        inp: &AnalysisInput<'a>,
        cfg: &AnalyticsConfig,
    ) -> Result<ExpiryPlan<'a>, AnalysisError> {
        let mut live: Vec<&'a OptionChain> = inp
            .chains
            .iter()
            .filter(|c| CalendarYears::to_expiry(inp.as_of, c.expiration).years() > 0.0)
            .collect();
        live.sort_by_key(|c| c.expiration);
        live.dedup_by_key(|c| c.expiration);
        let expirations: Vec<NaiveDate> = live.iter().map(|c| c.expiration).collect();
        let reaction = reaction_date(&inp.event);
        // The event expiry the calendar implies, whatever expiry the user chose: the fit (and so
        // the event move and the event-basis VRP) must not depend on the expiry analysed.
        let natural = event_expiry(&expirations, &inp.event);
        let expiry = match inp.expiration {
            Some(e) => {
                if CalendarYears::to_expiry(inp.as_of, e).years() <= 0.0 {
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
        check_time_to_expiry(
            expiry,
            CalendarYears::to_expiry(inp.as_of, expiry).years(),
            inp.as_of,
            &cfg.gates,
        )?;
        let chain_of = |e: NaiveDate| live.iter().copied().find(|c| c.expiration == e);
        let front = chain_of(expiry).ok_or(AnalysisError::NoChain(expiry))?;
        let wanted = fit_expiries(&expirations, &inp.event, inp.as_of, &cfg.term);
        let pre = wanted.pre.and_then(chain_of);
        let mut fit: Vec<&'a OptionChain> =
            wanted.post.iter().filter_map(|e| chain_of(*e)).collect();
        // (Expiring before the reaction, it is also before the analysed expiry.)
        fit.extend(pre);
        Ok(ExpiryPlan {
            expirations,
            reaction,
            expiry,
            event_expiry: natural.unwrap_or(expiry),
            front,
            fit,
            pre,
        })
    }

    fn in_fit(&self, expiration: NaiveDate) -> bool {
        self.fit.iter().any(|c| c.expiration == expiration)
    }
}

impl<'a> Views<'a> {
    /// The analysed expiry with its full smile, then the rest of the fit (ATM strikes only).
    fn build(
        plan: &ExpiryPlan<'a>,
        inp: &AnalysisInput<'_>,
        cfg: &AnalyticsConfig,
        quality: &mut Vec<DataQuality>,
    ) -> Views<'a> {
        let front = expiry_view(plan.front, true, inp, cfg, quality);
        let others = plan
            .fit
            .iter()
            .filter(|c| c.expiration != plan.expiry)
            .map(|c| expiry_view(c, false, inp, cfg, quality))
            .collect();
        Views { front, others }
    }
}

/// The analysed expiry's straddle, after the parity and ATM-distance gates; its chain's notes.
fn price_straddle(
    front: &ExpiryView<'_>,
    inp: &AnalysisInput<'_>,
    gates: &GateConfig,
    quality: &mut Vec<DataQuality>,
) -> Result<StraddleMove, AnalysisError> {
    let forward = front.market.forward();
    let t = front.time.calendar.years();
    check_spot_parity(front.chain, inp.spot, forward, t, inp.rate, inp.div, gates)?;
    let straddle = straddle_move(front.chain, inp.spot, forward)?;
    check_atm_distance(straddle.atm_strike, forward, gates)?;
    for note in chain_notes(front.chain, forward, straddle.atm_strike, gates) {
        push_unique(quality, note);
    }
    Ok(straddle)
}

/// The event move: least squares over the window, the pre-event expiry without the event.
fn fit_event_move(
    plan: &ExpiryPlan<'_>,
    views: &Views<'_>,
    warnings: &mut Vec<String>,
) -> Option<EventMove> {
    let post_points: Vec<TermPoint> = plan
        .fit
        .iter()
        .filter(|c| c.expiration >= plan.reaction)
        .filter_map(|c| views.get(c.expiration)?.point())
        .collect();
    let pre_point: Vec<TermPoint> = plan
        .pre
        .and_then(|c| views.get(c.expiration)?.point())
        .into_iter()
        .collect();
    match fit_event(&post_points, &pre_point) {
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
    }
}

/// The implied figure of the configured basis; the interpolated straddle, with a warning, when
/// the event basis has no event move.
fn vrp_implied(
    cfg: &VrpConfig,
    straddle: &StraddleMove,
    event: Option<EventMove>,
    warnings: &mut Vec<String>,
) -> VrpImplied {
    let interpolated = VrpImplied {
        pct: straddle.interpolated_pct.0,
        basis: VrpBasis::Interpolated,
    };
    match cfg.implied {
        ImpliedSource::Straddle => VrpImplied {
            pct: straddle.straddle_pct.0,
            basis: VrpBasis::Straddle,
        },
        ImpliedSource::Interpolated => interpolated,
        ImpliedSource::Event => match event {
            Some(e) => VrpImplied {
                pct: e.event_pct.0,
                basis: VrpBasis::Event,
            },
            None => {
                warnings.push(
                    "no event move could be extracted from the term structure: the VRP uses the \
                     interpolated straddle (basis interpolated), which also prices every \
                     ordinary session to expiry and overstates the event premium"
                        .into(),
                );
                interpolated
            }
        },
    }
}

/// The VRP of the configured basis and statistic, with the straddle's ratio and the share of
/// its variance that is ordinary movement (warned about when large).
fn event_vrp(
    straddle: &StraddleMove,
    event: Option<EventMove>,
    hist: &MoveStats,
    front: &ExpiryView<'_>,
    cfg: &AnalyticsConfig,
    warnings: &mut Vec<String>,
) -> Result<Vrp, AnalysisError> {
    let implied = vrp_implied(&cfg.vrp, straddle, event, warnings);
    let hist_pct = match cfg.vrp.historical {
        HistoricalStat::Mean => hist.mean_pct,
        HistoricalStat::Median => hist.median_pct,
        HistoricalStat::Ewma => hist.ewma_pct,
    };
    let mut v = vrp(
        implied.pct,
        hist_pct,
        hist.mad_pct,
        hist.median_pct,
        &cfg.vrp,
    )?;
    v.basis = implied.basis;
    v.ratio_ci = hist
        .mean_ci
        .map(|ci| ratio_interval(v.ratio, hist.mean_pct, &ci));
    v.straddle_ratio = Some(straddle.interpolated_pct.0 / hist_pct).filter(|r| r.is_finite());
    // The share of the analysed straddle's variance that is ordinary movement, not the event.
    v.non_event_share = event.zip(front.atm_iv).and_then(|(e, iv)| {
        let w = iv * iv * front.time.calendar.years();
        (w > 0.0).then(|| (1.0 - e.event_variance / w).clamp(0.0, 1.0))
    });
    if let Some(share) = v.non_event_share
        && share > cfg.vrp.non_event_share_warning
    {
        warnings.push(format!(
            "{:.0} % of the {} straddle's variance is ordinary movement over {:.1} \
             sessions, not the event (above {:.0} %): the straddle ({:.2} %) sells mostly \
             diffusion; the event move is {:.2} %",
            share * 100.0,
            front.expiration(),
            front.time.trading.sessions(),
            cfg.vrp.non_event_share_warning * 100.0,
            straddle.interpolated_pct.0,
            event.map_or(0.0, |e| e.event_pct.0),
        ));
    }
    Ok(v)
}

/// Skew on the analysed expiry.
fn skew_record(front: &ExpiryView<'_>, cfg: &SkewConfig, warnings: &mut Vec<String>) -> SkewRecord {
    let fit = match fit_skew(
        &front.smile,
        front.time.calendar.years(),
        front.market.forward(),
    ) {
        Ok(f) => Some(f),
        Err(e) => {
            warnings.push(format!("skew: {e}"));
            None
        }
    };
    SkewRecord {
        fit,
        bias: fit.map_or(Bias::Neutral, |f| skew_bias(&f, cfg)),
        risk_reversal_25_vol_pts: fit.and_then(|f| f.risk_reversal_25).map(|r| r * 100.0),
        bias_rule: bias_rule(cfg),
    }
}

/// The term structure from the event expiry on (the analysed expiry included), with the fit's
/// ex-event vol per expiry.
fn term_structure_of(
    plan: &ExpiryPlan<'_>,
    views: &Views<'_>,
    event: Option<EventMove>,
) -> TermStructure {
    let mut shown: Vec<&ExpiryView<'_>> = std::iter::once(&views.front)
        .chain(views.others.iter())
        .filter(|v| v.expiration() >= plan.event_expiry)
        .collect();
    shown.sort_by_key(|v| v.expiration());
    term_structure(
        shown
            .iter()
            .filter_map(|v| {
                let (calendar, trading) = (v.time.calendar, v.time.trading);
                Some(TermStructurePoint {
                    expiration: v.expiration(),
                    days: calendar.days(),
                    atm_iv: v.atm_iv?,
                    ex_event_iv: event
                        .and_then(|e| e.ex_event_iv(trading.years(), calendar.years())),
                    trading_days: Some(trading.sessions()),
                    in_fit: plan.in_fit(v.expiration()) && event.is_some(),
                })
            })
            .collect(),
    )
}

/// The IV-crush forecast of the analysed expiry (none without a diffusion in the fit).
fn forecast_of(
    plan: &ExpiryPlan<'_>,
    front: &ExpiryView<'_>,
    event: Option<EventMove>,
    as_of: DateTime<Utc>,
) -> Forecast {
    let Some(e) = event.filter(|e| e.diffusion_variance > 0.0) else {
        return Forecast::default();
    };
    let (tau, t) = (front.time.trading.years(), front.time.calendar.years());
    let post = e.ex_event_iv(tau, t);
    let next_after = plan.expirations.iter().copied().find(|e| *e > plan.expiry);
    Forecast {
        post_event_iv: post,
        forward_vol: next_after.and_then(|n| {
            let next = ExpiryTime::to_expiry(as_of, n);
            e.forward_vol((tau, t), (next.trading.years(), next.calendar.years()))
        }),
        crush_vol_points: post.zip(front.atm_iv).map(|(p, a)| (a - p) * 100.0),
        diffusion_vol: Some(e.diffusion_vol),
    }
}

/// Liquidity of the ATM straddle: the ticker's tier is its worse leg.
fn straddle_liquidity(
    front: &ExpiryView<'_>,
    straddle: &StraddleMove,
    cfg: &LiquidityConfig,
) -> Result<LiquidityRecord, AnalysisError> {
    let leg = |kind| {
        front
            .chain
            .quote(kind, straddle.atm_strike)
            .map(|q| option_liquidity(q, cfg))
    };
    match (leg(OptionKind::Call), leg(OptionKind::Put)) {
        (Some(call), Some(put)) => Ok(LiquidityRecord {
            tier: call.tier.min(put.tier),
            call,
            put,
        }),
        _ => Err(AnalysisError::ImpliedMove(ImpliedMoveError::NoStraddle)),
    }
}

/// The statistics of the last reports' moves, with the confidence interval of their mean.
fn historical_stats(
    history: &[HistoricalMove],
    cfg: &AnalyticsConfig,
) -> Result<MoveStats, AnalysisError> {
    let mut stats = MoveStats::from_moves(
        history,
        cfg.moves.metric,
        cfg.moves.lookback,
        cfg.moves.min_reports,
        cfg.moves.ewma_half_life,
    )?;
    let start = history.len().saturating_sub(cfg.moves.lookback);
    let moves: Vec<f64> = history[start..]
        .iter()
        .map(|m| cfg.moves.metric.of(m))
        .collect();
    stats.mean_ci = mean_interval(&moves, cfg.vrp.confidence_level);
    Ok(stats)
}

/// The realized volatility of the bars up to the last completed session before the as-of, the
/// reaction sessions of past reports dropped in the `_ex_earnings` windows. Bars that end more
/// than a few sessions before the as-of describe another period: none then, with a warning.
fn realized_vol_of(
    inp: &AnalysisInput<'_>,
    warnings: &mut Vec<String>,
) -> Option<RealizedVolRecord> {
    if inp.bars.is_empty() {
        return None;
    }
    let end = inp
        .bars
        .partition_point(|b| crate::calendar::close_of(b.date) <= inp.as_of);
    let bars = &inp.bars[end.saturating_sub(RV_LONG_SESSIONS + 1)..end];
    let today = crate::calendar::new_york_date(inp.as_of);
    let Some(last) = bars.last() else {
        warnings.push(format!(
            "realized volatility: no completed session among the bars before {today}"
        ));
        return None;
    };
    // The last bar and today count themselves: a bar of yesterday gives 2.
    let behind = crate::calendar::trading_days_inclusive(last.date, today);
    if behind > MAX_SESSIONS_BEHIND {
        warnings.push(format!(
            "realized volatility: the bars end {}, {} sessions before {today}: not computed",
            last.date,
            behind - 1
        ));
        return None;
    }
    let reactions: Vec<NaiveDate> = inp.history.iter().map(|m| m.reaction_date).collect();
    match rv_record(bars, &reactions) {
        Ok(rv) => Some(rv),
        Err(e) => {
            warnings.push(format!(
                "realized volatility over the {} bars to {}: {e}",
                bars.len(),
                last.date
            ));
            None
        }
    }
}

/// Bars ending more sessions before the as-of than this (counting both ends) are too old for
/// the realized volatility: a vendor a day or two late is fine, a backfill from last quarter not.
const MAX_SESSIONS_BEHIND: u32 = 4;

/// The diffusion VRP: the term-structure fit's diffusion vol (ex-event, trading-day time, as
/// realized vol is) over the 20-session Yang–Zhang realized vol without the reaction sessions.
fn diffusion_ratio(forecast: &Forecast, rv: Option<&RealizedVolRecord>) -> Option<f64> {
    let implied = forecast.diffusion_vol?;
    let realized = rv?.rv20_ex_earnings?.yang_zhang;
    (realized > 0.0)
        .then(|| implied / realized)
        .filter(|r| r.is_finite())
}

/// Awards the tier of the ratio interval's lower bound when it is below the point estimate's:
/// the point tier is kept in `withheld_tier` with the reason, which is returned for the
/// warnings.
fn withhold_by_uncertainty(v: &mut Vrp, reports: usize, cfg: &VrpConfig) -> Option<String> {
    let ci = v.ratio_ci?;
    let awarded = vrp_tier(ci.lower, cfg).min(v.tier);
    if awarded >= v.tier {
        return None;
    }
    let upper = ci
        .upper
        .map_or_else(|| "unbounded".to_string(), |u| format!("{u:.2}"));
    let clears = if awarded == VrpTier::Skip {
        "clears no tier".to_string()
    } else {
        format!("clears only {}", awarded.as_str())
    };
    let reason = format!(
        "VRP {:.2} would be {}; its {:.0} % interval [{:.2}, {upper}] {clears} (withheld by \
         uncertainty: {} past reports)",
        v.ratio,
        v.tier.as_str(),
        ci.level * 100.0,
        ci.lower,
        reports,
    );
    v.withheld_tier = Some(v.tier);
    v.withheld_by = Some(WithheldBy::Uncertainty);
    v.withheld_reason = Some(reason.clone());
    v.tier = awarded;
    Some(reason)
}

/// The score and the decision; the VRP tier is awarded on its interval's lower bound
/// ([`withhold_by_uncertainty`]); a blocking data-quality note withholds it (said in a
/// warning) and the tradeable flag.
fn decide(
    v: &mut Vrp,
    hist: &MoveStats,
    liquidity: &LiquidityRecord,
    skew: &SkewRecord,
    cfg: &AnalyticsConfig,
    notes: &mut Notes,
) -> Decision {
    let mad_over_median = if hist.median_pct > 0.0 {
        hist.mad_pct / hist.median_pct
    } else {
        f64::INFINITY
    };
    let breakdown = score(
        &ScoreInputs {
            vrp_ratio: v.ratio,
            liquidity: liquidity.tier,
            mad_over_median,
            mixon: skew.fit.and_then(|f| f.mixon),
        },
        cfg,
    );
    if let Some(reason) = withhold_by_uncertainty(v, hist.count, &cfg.vrp) {
        notes.warnings.push(reason);
    }
    let mut blocking: Vec<&str> = notes
        .quality
        .iter()
        .filter(|n| n.blocking)
        .map(|n| n.code.as_str())
        .collect();
    blocking.sort_unstable();
    blocking.dedup();
    if !blocking.is_empty() {
        let point_tier = v.withheld_tier.unwrap_or(v.tier);
        let reason = format!(
            "not tradeable: data quality ({}) makes the figures unreliable; VRP tier {} withheld",
            blocking.join(", "),
            point_tier.as_str()
        );
        notes.warnings.push(reason.clone());
        v.withheld_reason = Some(match v.withheld_reason.take() {
            Some(uncertain) => format!("{reason}; {uncertain}"),
            None => reason,
        });
        v.withheld_tier = Some(point_tier);
        v.withheld_by = Some(WithheldBy::DataQuality);
        v.tier = VrpTier::Skip;
    }
    let tradeable = blocking.is_empty()
        && is_tradeable(v.tier, liquidity.tier, breakdown.composite, &cfg.score);
    Decision {
        breakdown,
        tradeable,
    }
}

/// The strategies on the analysed expiry (for a tradeable ticker).
#[allow(clippy::too_many_arguments)]
fn strategies_for(
    inp: &AnalysisInput<'_>,
    cfg: &AnalyticsConfig,
    plan: &ExpiryPlan<'_>,
    front: &ExpiryView<'_>,
    straddle: &StraddleMove,
    event: Option<EventMove>,
    skew: &SkewRecord,
    forecast: &Forecast,
) -> Vec<Strategy> {
    let moves: Vec<f64> = inp
        .history
        .iter()
        .rev()
        .take(cfg.moves.lookback)
        .rev()
        .map(|m| m.signed_close_pct.fraction())
        .collect();
    let atm_iv = front.atm_iv.unwrap_or(0.0);
    let t = front.time.calendar.years();
    let ctx = StrategyContext {
        chain: front.chain,
        market: front.market,
        smile: &front.smile,
        atm_strike: straddle.atm_strike,
        implied_move: straddle.interpolated_pct.fraction(),
        total_variance: atm_iv * atm_iv * t,
        event_std: event.map(|e| e.event_variance.sqrt()).filter(|s| *s > 0.0),
        historical_moves: &moves,
        bias: skew.bias,
        as_of: inp.as_of,
        reaction: plan.reaction,
        atm_iv: front.atm_iv,
        event_variance: event.map(|e| e.event_variance),
        diffusion_vol: forecast.diffusion_vol,
    };
    build_strategies(&ctx, &cfg.strategy, &cfg.liquidity)
}

/// The implied-move block: the straddle, the event move and the ±1σ figure.
fn implied_move_record(
    straddle: &StraddleMove,
    event: Option<EventMove>,
    front: &ExpiryView<'_>,
    pre: Option<&OptionChain>,
) -> ImpliedMoveRecord {
    ImpliedMoveRecord {
        straddle_pct: straddle.straddle_pct.0,
        interpolated_pct: straddle.interpolated_pct.0,
        event_pct: event.map(|e| e.event_pct.0),
        event_calendar_pct: event.map(|e| e.calendar_pct.0),
        atm_strike: straddle.atm_strike,
        straddle_mid: straddle.straddle_mid,
        method: event.map(|e| e.method),
        // E|X| = σ·√(2/π) for a normal move, so σ = E|X|·√(π/2).
        one_sigma_pct: straddle.interpolated_pct.0 * (std::f64::consts::PI / 2.0).sqrt(),
        forward: front.market.forward(),
        fit_expiries: event.map(|e| e.expiries),
        pre_event_expiry: pre
            .filter(|_| event.is_some_and(|e| e.pre_event))
            .map(|c| c.expiration),
    }
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
    let time = ExpiryTime::to_expiry(inp.as_of, chain.expiration);
    let t = time.calendar.years();
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
        time,
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

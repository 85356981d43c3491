//! The implicit backfill (`ensure_history`) asks the vendor only when the stored moves may be
//! incomplete, and then only for the missing range. The simulated market is wrapped in
//! counters of `past_reports` and `daily_bars` calls; the store is a temporary SQLite file
//! shared by apps of different as-of dates, as successive days of a deployment share it.

use chrono::{Duration, NaiveDate};
use ivcrush_app::{App, AppConfig, MOVES_PROGRESS};
use ivcrush_core::calendar::{next_trading_day, previous_trading_day};
use ivcrush_core::moves::reaction_date;
use ivcrush_core::{Bar, EarningsEvent};
use ivcrush_market::sim::SimMarket;
use ivcrush_market::{EarningsCalendar, EarningsRecord, MarketData, MarketError, PriceHistory};
use ivcrush_store::{Store, open_store};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

const SEED: u64 = 42;

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, MarketError>> + Send + 'a>>;

/// Vendor calls seen: `daily_bars` ranges and `past_reports` symbols.
#[derive(Default, Debug)]
struct Calls {
    bars: Vec<(String, NaiveDate, NaiveDate)>,
    past: Vec<String>,
}

#[derive(Clone)]
struct Counting {
    history: Arc<dyn PriceHistory>,
    calendar: Arc<dyn EarningsCalendar>,
    calls: Arc<Mutex<Calls>>,
}

// The traits are `#[async_trait]`; written out by hand (this crate does not depend on it).
impl PriceHistory for Counting {
    fn daily_bars<'life0, 'life1, 'async_trait>(
        &'life0 self,
        symbol: &'life1 str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BoxFut<'async_trait, Vec<Bar>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            self.calls
                .lock()
                .expect("calls lock")
                .bars
                .push((symbol.to_string(), from, to));
            self.history.daily_bars(symbol, from, to).await
        })
    }
}

impl EarningsCalendar for Counting {
    fn calendar<'life0, 'async_trait>(
        &'life0 self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BoxFut<'async_trait, Vec<EarningsRecord>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move { self.calendar.calendar(from, to).await })
    }

    fn past_reports<'life0, 'life1, 'async_trait>(
        &'life0 self,
        symbol: &'life1 str,
    ) -> BoxFut<'async_trait, Vec<EarningsEvent>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            self.calls
                .lock()
                .expect("calls lock")
                .past
                .push(symbol.to_string());
            self.calendar.past_reports(symbol).await
        })
    }
}

/// An app on the simulated market as of `date`, over `store`, counting into `calls`.
fn app(date: NaiveDate, store: &Arc<dyn Store>, calls: &Arc<Mutex<Calls>>) -> App {
    let sim = SimMarket::new(SEED, date);
    let as_of = sim.as_of();
    let inner = sim.into_market_data();
    let counting = Arc::new(Counting {
        history: inner.history.clone(),
        calendar: inner.calendar.clone(),
        calls: calls.clone(),
    });
    let market = MarketData {
        source: inner.source,
        options: inner.options.clone(),
        history: counting.clone(),
        calendar: counting,
    };
    App::with_parts(
        AppConfig::default(),
        market,
        store.clone(),
        as_of,
        format!("sim:{SEED}:{date}"),
    )
}

fn take(calls: &Arc<Mutex<Calls>>) -> Calls {
    std::mem::take(&mut *calls.lock().expect("calls lock"))
}

fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

async fn temp_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = open_store(&url).await.expect("store");
    (dir, store)
}

/// A ticker reporting after `from` + 2 days and before `from` + 40: its report and reaction.
async fn upcoming(from: NaiveDate) -> (String, EarningsEvent) {
    let sim = SimMarket::new(SEED, from);
    let mut cal = sim
        .calendar(from + Duration::days(2), from + Duration::days(40))
        .await
        .expect("sim calendar");
    cal.sort_by(|a, b| (a.event.date, &a.ticker).cmp(&(b.event.date, &b.ticker)));
    let r = cal.into_iter().next().expect("a report within 40 days");
    (r.ticker, r.event)
}

#[tokio::test]
async fn complete_history_is_read_from_the_store_without_any_vendor_call() {
    let day = d("2026-02-02");
    let (_dir, store) = temp_store().await;
    let calls = Arc::new(Mutex::new(Calls::default()));
    let (ticker, report) = upcoming(day).await;

    // First analysis: the whole window is fetched once.
    let first = app(day, &store, &calls);
    let moves = first.history().ensure(&ticker).await.expect("history");
    assert!(moves.len() >= 8, "{} moves", moves.len());
    let c = take(&calls);
    let window_start = day - Duration::days(3 * 365 + 10);
    assert_eq!(c.past, vec![ticker.clone()]);
    assert_eq!(
        c.bars,
        vec![(ticker.clone(), window_start, previous_trading_day(day))]
    );
    let coverage = store
        .get_progress(&ticker, MOVES_PROGRESS)
        .await
        .expect("progress")
        .and_then(|p| p.coverage());
    assert_eq!(coverage, Some((window_start, previous_trading_day(day))));

    // Same day again: nothing asked.
    assert_eq!(first.history().ensure(&ticker).await.expect("again"), moves);
    let c = take(&calls);
    assert!(c.past.is_empty() && c.bars.is_empty(), "{c:?}");

    // The next trading day, before the ticker's next report reacts: still nothing asked, the
    // same moves, even with the upcoming report known (a calendar sync stored it).
    let next = next_trading_day(day);
    assert!(reaction_date(&report) > next, "{report:?}");
    let tomorrow = app(next, &store, &calls);
    tomorrow
        .calendar()
        .sync(next, next + Duration::days(40))
        .await
        .expect("calendar sync");
    assert_eq!(
        tomorrow.history().ensure(&ticker).await.expect("next day"),
        moves
    );
    let c = take(&calls);
    assert!(c.past.is_empty() && c.bars.is_empty(), "{c:?}");

    // The day after the known report reacted: only the sessions after the coverage are
    // fetched, and the new move is there.
    let reaction = reaction_date(&report);
    let after = app(next_trading_day(reaction), &store, &calls);
    let updated = after
        .history()
        .ensure(&ticker)
        .await
        .expect("after the report");
    let c = take(&calls);
    assert_eq!(c.past, vec![ticker.clone()]);
    assert_eq!(
        c.bars,
        vec![(
            ticker.clone(),
            previous_trading_day(day) + Duration::days(1),
            reaction
        )],
        "from the day after the coverage through the reaction"
    );
    assert_eq!(updated.len(), moves.len() + 1);
    assert_eq!(updated[..moves.len()], moves[..]);
    let last = updated.last().expect("a move");
    assert_eq!(
        (last.report_date, last.reaction_date),
        (report.date, reaction)
    );
    assert_eq!(
        store
            .get_progress(&ticker, MOVES_PROGRESS)
            .await
            .expect("progress")
            .and_then(|p| p.coverage()),
        Some((window_start, reaction))
    );
}

#[tokio::test]
async fn a_coverage_starting_after_the_window_fetches_only_the_earlier_sessions() {
    let day = d("2026-02-02");
    let (_dir, store) = temp_store().await;
    let calls = Arc::new(Mutex::new(Calls::default()));
    let (ticker, _) = upcoming(day).await;
    let app = app(day, &store, &calls);
    let last = previous_trading_day(day);

    let one = app.history().backfill(&ticker, 1).await.expect("one year");
    assert!(!one.skipped);
    let one_year = day - Duration::days(365 + 10);
    assert_eq!(take(&calls).bars, vec![(ticker.clone(), one_year, last)]);

    // The scan's window is three years: only the two missing years are fetched.
    let moves = app.history().ensure(&ticker).await.expect("history");
    let three_years = day - Duration::days(3 * 365 + 10);
    let c = take(&calls);
    assert_eq!(
        c.bars,
        vec![(ticker.clone(), three_years, one_year - Duration::days(1))]
    );
    assert_eq!(c.past, vec![ticker.clone()]);
    assert!(moves.len() > one.moves, "{} vs {}", moves.len(), one.moves);

    // Asked again for one or three years: covered, skipped, nothing fetched.
    for years in [1, 3] {
        let again = app.history().backfill(&ticker, years).await.expect("again");
        assert!(again.skipped, "{years} years");
        assert_eq!(again.moves, moves.len());
    }
    let c = take(&calls);
    assert!(c.past.is_empty() && c.bars.is_empty(), "{c:?}");

    // Same moves as a fresh three-year backfill.
    let (_dir2, fresh_store) = temp_store().await;
    let fresh = self::app(day, &fresh_store, &calls);
    fresh.history().backfill(&ticker, 3).await.expect("fresh");
    assert_eq!(
        fresh_store.historical_moves(&ticker).await.expect("moves"),
        moves
    );
    assert_eq!(
        fresh_store
            .bars(&ticker, three_years, last)
            .await
            .expect("bars"),
        store.bars(&ticker, three_years, last).await.expect("bars")
    );
}

#[tokio::test]
async fn a_store_written_by_later_runs_gives_the_same_moves_as_a_fresh_one() {
    // MRVL as of 2026-06-01: its next report (2026-08-27) and later ones have moves in a store
    // that apps of later dates have filled; none of them may reach the earlier analysis.
    let day = d("2026-06-01");
    let calls = Arc::new(Mutex::new(Calls::default()));
    let (_fresh_dir, fresh_store) = temp_store().await;
    let fresh = app(day, &fresh_store, &calls)
        .history()
        .ensure("MRVL")
        .await
        .expect("fresh history");
    assert!(fresh.len() >= 8, "{} moves", fresh.len());
    for m in &fresh {
        assert!(m.reaction_date < day, "{m:?}");
    }

    let (_warm_dir, warm_store) = temp_store().await;
    for later in ["2026-09-01", "2027-01-15"] {
        let moves = app(d(later), &warm_store, &calls)
            .history()
            .ensure("MRVL")
            .await
            .expect("later history");
        assert!(
            moves.iter().any(|m| m.reaction_date > day),
            "{later}: the store now knows moves after {day}"
        );
    }
    let warm = app(day, &warm_store, &calls)
        .history()
        .ensure("MRVL")
        .await
        .expect("warm history");
    assert_eq!(warm, fresh, "only what was known at the as-of");
}

/// A report still upcoming at the last backfill (so unknown to the store) and past now is
/// fetched: before the fix the coverage looked complete and its move was never added.
#[tokio::test]
async fn a_report_that_was_upcoming_at_the_last_backfill_is_added_once_it_reacted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}/t.db", dir.path().display());
    let app_at = |date: &str| {
        let db = db.clone();
        let date: NaiveDate = date.parse().expect("date");
        async move {
            App::open(AppConfig {
                as_of: Some(date.into()),
                database_url: db,
                ..AppConfig::default()
            })
            .await
            .expect("app opens")
        }
    };
    // IONQ reports 2026-09-02 before the open.
    let before = app_at("2026-09-01").await;
    let moves = before.history().ensure("IONQ").await.expect("history");
    assert!(
        moves
            .iter()
            .all(|m| m.report_date < NaiveDate::from_ymd_opt(2026, 9, 2).expect("date"))
    );
    let later = app_at("2026-11-25").await;
    let moves = later.history().ensure("IONQ").await.expect("history");
    assert_eq!(
        moves.last().map(|m| m.report_date),
        NaiveDate::from_ymd_opt(2026, 9, 2),
        "the 2026-09-02 move is there"
    );
}

//! Each sanity gate trips on hostile vendor data with a message naming the field and value;
//! weaker problems are data-quality notes, and blocking ones withhold the tier and the trade.

use crate::{TICKER, analyze_through_mock, day, mock, open, vendor_config};
use chrono::{Duration, NaiveDate};
use ivcrush_app::AnalyzeOptions;
use ivcrush_core::QualityCode;

#[tokio::test]
async fn a_spot_that_disagrees_with_put_call_parity_is_an_error() {
    let e = analyze_through_mock(TICKER, |c| c.spot_offset_pct = 10.0)
        .await
        .expect_err("spot 10 % off the chain");
    let msg = e.to_string();
    assert!(
        msg.contains("disagrees with put-call parity") && msg.contains("implied spot"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_chain_of_another_expiration_is_an_error_not_a_number() {
    let e = analyze_through_mock(TICKER, |c| c.wrong_expiration = true)
        .await
        .expect_err("wrong expiration served");
    let msg = e.to_string();
    assert!(
        msg.contains("unexpected chains answer") && msg.contains("asked for IONQ"),
        "{msg}"
    );
}

#[tokio::test]
async fn stale_quotes_withhold_the_tier_and_the_trade() {
    let r = analyze_through_mock(TICKER, |c| {
        c.stale_quotes = Some(std::time::Duration::from_secs(2 * 3600));
    })
    .await
    .expect("stale but analysable");
    let a = &r.analysis;
    let stale: Vec<_> = a.data_quality.iter().filter(|n| n.blocking).collect();
    assert!(
        stale.iter().any(|n| n.code == QualityCode::StaleQuote
            && n.detail.contains("stock quote of IONQ: quoted 2.0 h ago")),
        "{:?}",
        a.data_quality
    );
    assert!(
        stale
            .iter()
            .any(|n| n.code == QualityCode::StaleOptionQuotes)
    );
    assert!(!a.tradeable);
    assert!(a.strategies.is_empty());
    assert_eq!(a.vrp.tier, ivcrush_core::vrp::VrpTier::Skip);
    assert!(a.vrp.withheld_tier.is_some(), "{:?}", a.vrp);
    assert!(
        a.warnings.iter().any(|w| w.contains("stale_quote")),
        "{:?}",
        a.warnings
    );
}

#[tokio::test]
async fn crossed_and_one_sided_quotes_near_the_money_are_noted() {
    let crossed = analyze_through_mock(TICKER, |c| c.crossed_near_atm = true).await;
    match crossed {
        Ok(r) => assert!(
            r.analysis
                .data_quality
                .iter()
                .any(|n| n.code == QualityCode::CrossedOrLocked),
            "{:?}",
            r.analysis.data_quality
        ),
        Err(e) => assert!(e.to_string().contains("two-sided"), "{e}"),
    }
    let one_sided = analyze_through_mock(TICKER, |c| c.one_sided_near_atm = true).await;
    match one_sided {
        Ok(r) => assert!(
            r.analysis
                .data_quality
                .iter()
                .any(|n| n.code == QualityCode::ZeroBidNearAtm),
            "{:?}",
            r.analysis.data_quality
        ),
        Err(e) => assert!(e.to_string().contains("two-sided"), "{e}"),
    }
}

#[tokio::test]
async fn time_to_expiry_beyond_five_years_is_an_error() {
    // A clock six years early: every listed expiry lies more than five years ahead.
    let mock = mock(day(), |_| {}).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let early = crate::mock_as_of(day()) - Duration::days(6 * 365);
    let app = open(vendor_config(&mock, &dir), early).await;
    let opts = AnalyzeOptions {
        earnings_date: Some(NaiveDate::from_ymd_opt(2026, 12, 3).expect("date")),
        ..AnalyzeOptions::default()
    };
    let e = app
        .analyzer()
        .analyze(TICKER, &opts)
        .await
        .expect_err("six years to expiry");
    let msg = e.to_string();
    assert!(msg.contains("outside (0, 5 years]"), "{msg}");
}

//! The as-of is our clock: vendor timestamps that are missing or 0 change nothing but the
//! data-quality notes.

use crate::{TICKER, analyze_sim, analyze_through_mock, day, mock_as_of, numbers};
use ivcrush_core::QualityCode;
use ivcrush_mockvendor::{GreeksMode, QuoteDates};

fn codes(r: &ivcrush_app::AnalysisRecord) -> Vec<QualityCode> {
    r.analysis.data_quality.iter().map(|n| n.code).collect()
}

#[tokio::test]
async fn the_vendor_path_matches_the_simulated_market_it_serves() {
    let truth = analyze_sim(TICKER).await;
    let vendor = analyze_through_mock(TICKER, |_| {})
        .await
        .expect("analysis with dates");
    assert_eq!(vendor.analysis.as_of, mock_as_of(day()));
    assert_eq!(numbers(&vendor), numbers(&truth));
    assert!(
        vendor.analysis.data_quality.iter().all(|n| !n.blocking),
        "{:?}",
        vendor.analysis.data_quality
    );
    assert!(!codes(&vendor).contains(&QualityCode::QuoteWithoutDate));
}

#[tokio::test]
async fn quotes_without_dates_or_with_zero_dates_give_the_same_analysis() {
    let with = analyze_through_mock(TICKER, |_| {})
        .await
        .expect("analysis with dates");
    for mode in [QuoteDates::Missing, QuoteDates::Zero] {
        let r = analyze_through_mock(TICKER, |c| c.quote_dates = mode)
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        // Never the epoch, never 56 years to expiry: the as-of is the clock.
        assert_eq!(r.analysis.as_of, mock_as_of(day()), "{mode:?}");
        assert_eq!(numbers(&r), numbers(&with), "{mode:?}");
        let undated: Vec<&str> = r
            .analysis
            .data_quality
            .iter()
            .filter(|n| n.code == QualityCode::QuoteWithoutDate)
            .map(|n| n.detail.as_str())
            .collect();
        assert!(
            undated.iter().any(|d| d.contains("stock quote of IONQ")),
            "{mode:?}: {undated:?}"
        );
        assert!(
            undated.iter().any(|d| d.contains("option quotes of")),
            "{mode:?}: {undated:?}"
        );
        assert_eq!(r.analysis.tradeable, with.analysis.tradeable, "{mode:?}");
    }
}

#[tokio::test]
async fn missing_or_zero_vendor_greeks_are_noted_and_change_nothing() {
    let with = analyze_through_mock(TICKER, |_| {})
        .await
        .expect("analysis with greeks");
    for mode in [GreeksMode::Null, GreeksMode::Zero] {
        let r = analyze_through_mock(TICKER, |c| c.greeks = mode)
            .await
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(numbers(&r), numbers(&with), "{mode:?}");
        let note = r
            .analysis
            .data_quality
            .iter()
            .find(|n| n.code == QualityCode::VendorGreeksMissing)
            .unwrap_or_else(|| panic!("{mode:?}: {:?}", r.analysis.data_quality));
        assert!(note.detail.contains("solves every IV"), "{}", note.detail);
        assert!(!note.blocking);
    }
}

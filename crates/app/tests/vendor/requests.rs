//! What a scan costs in vendor requests, counted at the mock: cold, and on the next trading day
//! (expirations kept until a listed expiry passes, history until a report passes).

use crate::{mock, mock_as_of, open, vendor_config};
use chrono::NaiveDate;
use ivcrush_app::ScanRequest;

fn tradier_requests(mock: &ivcrush_mockvendor::MockVendor) -> u64 {
    mock.requests_by_path()
        .iter()
        .filter(|(p, _)| p.starts_with("/v1/"))
        .map(|(_, n)| n)
        .sum()
}

#[tokio::test]
async fn a_scan_on_the_next_trading_day_costs_the_chains_and_a_share_of_the_quote() {
    // Tuesday then Wednesday: no listed expiry passes in between.
    let d1 = NaiveDate::from_ymd_opt(2026, 11, 17).expect("date");
    let d2 = NaiveDate::from_ymd_opt(2026, 11, 18).expect("date");
    let request = ScanRequest {
        from: Some(NaiveDate::from_ymd_opt(2026, 11, 19).expect("date")),
        to: Some(NaiveDate::from_ymd_opt(2026, 12, 11).expect("date")),
        ..ScanRequest::default()
    };
    let dir = tempfile::tempdir().expect("temp dir");

    let m1 = mock(d1, |_| {}).await;
    let app = open(vendor_config(&m1, &dir), mock_as_of(d1)).await;
    let first = app
        .scanner()
        .run(&request, "day-1", None)
        .await
        .expect("scan day 1");
    let tickers1 = first.rows.len() as f64;
    for r in first.failed() {
        eprintln!("day 1 failed: {} {:?}", r.ticker(), r.error());
    }
    let cold = tradier_requests(&m1) as f64 / tickers1;
    drop(app);

    let m2 = mock(d2, |_| {}).await;
    let app = open(vendor_config(&m2, &dir), mock_as_of(d2)).await;
    let second = app
        .scanner()
        .run(&request, "day-2", None)
        .await
        .expect("scan day 2");
    let analysed = second
        .rows
        .iter()
        .filter(|r| r.analysis().is_some())
        .count();
    let tickers2 = second.rows.len() as f64;
    for r in second.failed() {
        eprintln!("day 2 failed: {} {:?}", r.ticker(), r.error());
    }
    let next_day = tradier_requests(&m2) as f64 / tickers2;
    eprintln!(
        "cold: {} Tradier requests for {tickers1} tickers = {cold:.2}/ticker {:?}; next day: {} for \
         {tickers2} tickers ({analysed} analysed) = {next_day:.2}/ticker {:?}",
        tradier_requests(&m1),
        m1.requests_by_path(),
        tradier_requests(&m2),
        m2.requests_by_path()
    );
    assert!(tickers2 >= 10.0, "the window holds reports on both days");
    assert!(analysed as f64 >= tickers2 * 0.8, "{:?}", second.rows);
    assert!(
        next_day <= 2.1,
        "next-day scan: {next_day:.2} Tradier requests per ticker"
    );
    assert!(
        cold <= 4.1,
        "cold scan: {cold:.2} Tradier requests per ticker"
    );
}

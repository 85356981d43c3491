#!/usr/bin/env python3
"""Writes the seed inputs of every target into fuzz/corpus/<target>/ (selector byte + body),
from the repository's vendor fixtures and small hand-written samples. Run from the repo root."""
import hashlib, json, os, pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIX = ROOT / "testdata/fixtures/vendors"
OUT = ROOT / "fuzz/corpus"

def put(target, selector, body):
    if isinstance(body, str):
        body = body.encode()
    data = (bytes([selector]) if selector is not None else b"") + body
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)

def fx(name):
    return (FIX / name).read_text()

def small_chain(name, n=4):
    body = json.loads(fx(name))
    opts = body["options"]["option"]
    mid = len(opts) // 2
    body["options"]["option"] = opts[mid:mid + n]
    return json.dumps(body)

def small_history(name, n=6):
    body = json.loads(fx(name))
    body["history"]["day"] = body["history"]["day"][:n]
    return json.dumps(body)

# tradier_json: 0 chain contracts, 1 chain, 2 expiration info, 3 expirations, 4 quotes,
# 5 history, 6 clock, 7 flexible number
for sel in (0, 1):
    for f in ("tradier_chain_single_object_quirk.json", "tradier_chain_empty_null.json"):
        put("tradier_json", sel, fx(f))
    for f in ("tradier_chain_AAPL_2026-01-30.json", "tradier_chain_AAPL_2026-02-06.json"):
        put("tradier_json", sel, small_chain(f))
put("tradier_json", 1, fx("tradier_chain_AAPL_2026-01-30.json"))
for sel in (2, 3):
    for f in ("tradier_expirations_AAPL.json", "tradier_expirations_AAPL_with_strikes.json",
              "tradier_expirations_single_string_quirk.json", "tradier_expirations_none_null.json"):
        put("tradier_json", sel, fx(f))
for f in ("tradier_quote_AAPL.json", "tradier_quotes_all_unmatched.json",
          "tradier_quotes_multi_with_unmatched.json"):
    put("tradier_json", 4, fx(f))
put("tradier_json", 5, small_history("tradier_history_AAPL_daily_60d.json"))
put("tradier_json", 5, fx("tradier_history_none_null.json"))
for f in ("tradier_clock_open.json", "tradier_clock_closed.json"):
    put("tradier_json", 6, fx(f))
for s in ("251.3700", "None", "-", "1e308", " 12 "):
    put("tradier_json", 7, s)

# tradier_stream: 0 stream lines, 1 OCC symbol, 2 symbol list
events = fx("tradier_stream_events_AAPL.ndjson")
put("tradier_stream", 0, events)
for line in events.splitlines():
    if line.strip():
        put("tradier_stream", 0, line)
put("tradier_stream", 0, fx("tradier_ws_error.json"))
for s in ("AAPL260130C00250000", "BRK.B260220P00480500", "SPY991231C99999999"):
    put("tradier_stream", 1, s)
put("tradier_stream", 2, "aapl, MSFT\n# comment\nkvlt  spy # trailing\nbrk-b aapl260130c00250000\n")

# alphavantage: 0 calendar CSV, 1 EARNINGS, 2 TIME_SERIES_DAILY, 3 error bodies
for f in ("av_earnings_calendar_3month.csv", "av_earnings_calendar_headers_only.csv"):
    text = fx(f)
    put("alphavantage", 0, "\r\n".join(text.splitlines()[:12]) + "\r\n")
put("alphavantage", 1, fx("av_earnings_AAPL.json"))
for f in ("av_time_series_daily_AAPL_compact.json", "av_time_series_daily_adjusted_AAPL_compact.json"):
    body = json.loads(fx(f))
    key = "Time Series (Daily)"
    body[key] = dict(list(body[key].items())[:5])
    put("alphavantage", 2, json.dumps(body))
for f in ("av_error_message_invalid_call.json", "av_information_premium_endpoint.json",
          "av_information_outputsize_full_premium.json", "av_information_daily_limit.json",
          "av_note_rate_limit.json"):
    for sel in (1, 3):
        put("alphavantage", sel, fx(f))

# import_files: 0 calendar CSV, 1 bars CSV, 2 chains CSV, 3 Tradier JSON snapshot
put("import_files", 0, "ticker,date,timing,name\nNEWCO,2026-03-03,BMO,New Co\nBAD,2026-13-01,AMC,x\n"
    "OTHER,2026-03-04,LUNCH,y\nNEWB,2026-03-05,,z\n")
put("import_files", 1, "ticker,date,open,high,low,close,volume\nAAPL,2026-01-26,250,252.5,248.1,251.37,51000000\n"
    "AAPL,2026-01-27,251,253,250,252,None\nBAD,2026-01-27,1,0.5,2,1,-3\n")
put("import_files", 2, "as_of,underlying,spot,expiration,strike,type,bid,ask,last,volume,open_interest,iv,delta\n"
    "2026-01-28T20:00:00Z,AAPL,251.37,2026-01-30,250,call,5.2,5.35,5.3,1200,8000,0.69,0.52\n"
    "2026-01-28 15:00,AAPL,251.37,2026-01-30,250,put,5.1,5.25,,,,\n"
    "2026-01-28,aapl,,2026-02-06,0,C,-1,2,x,1,2,3,4\n")
put("import_files", 3, small_chain("tradier_chain_AAPL_2026-01-30.json"))
put("import_files", 3, fx("tradier_chain_single_object_quirk.json"))

# config: TOML, NUL, NAME=value lines
put("config", None, (ROOT / "ivcrush.toml.example").read_text())
put("config", None, '[server]\nscan_cron = "0 45 9 * * Mon-Fri"\nscan_timezone = "America/New_York"\n'
    '\0IVCRUSH_SCAN__CONCURRENCY=4\nIVCRUSH_API_KEYS=abcdefghijklmnopqr,0123456789abcdef\n'
    'TRADIER_API_KEY=x\nIVCRUSH_SCNA__DAYS=3\n')
put("config", None, 'provider = "tradier"\n[tradier]\napi_key = "k"\n\0ALPHAVANTAGE_API_KEY=y\n')
put("config", None, 'risk_free_rate = 0.04\n[scan]\ndays = 7\n[ticker]\nfeed = "sim"\n')

# batch_csv: 0 batch file, 1 comma-separated symbol list, 2 one symbol
put("batch_csv", 0, "ticker,earnings_date\nIONQ,2026-12-03\n")
put("batch_csv", 0, "ticker,earnings_date,expiration\nMRVL,2026-11-27,2026-11-27\nbrk-b,,\nAA$,2026-13-01,x,extra\n")
put("batch_csv", 0, "ticker,earnings_date,strike\nAAPL,2026-01-29,250\n")
put("batch_csv", 1, "b,a, B,brk/b")
put("batch_csv", 2, " brk-b ")
put("batch_csv", 2, "../etc")

# http_request: bit 0 API key, bit 1 POST; then the request target
for t in ("/health/live", "/health/ready", "/metrics", "/", "/assets/app.js", "/nope",
          "/api/v1/scan?from=2026-02-02&to=2026-02-06&min_score=50&limit=5&rank=score",
          "/api/v1/scan?refresh=true", "/api/v1/analyze/AAPL",
          "/api/v1/analyze/aapl?earnings_date=2026-02-05&expiration=2026-02-06&as_of=2026-02-02",
          "/api/v1/calendar?from=2026-02-02&to=2026-02-09", "/api/v1/history/AAPL?limit=3",
          "/api/v1/backtest?from=2025-10-01&to=2026-01-15&strategy=best&exit=reaction",
          "/api/v1/breakers", "/api/v1/openapi.json", "/api/v1/analyze/..%2Fetc"):
    put("http_request", 1, t)
put("http_request", 0, "/api/v1/scan")
put("http_request", 3, "/api/v1/breakers/tradier/reset")
put("http_request", 3, "/api/v1/breakers/tradier/force-open")

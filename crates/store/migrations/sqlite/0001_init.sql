-- ivcrush store schema v1 (SQLite dialect). Never edit an applied migration: add a new file.
-- Dates are ISO-8601 TEXT (YYYY-MM-DD); instants are RFC 3339 TEXT in UTC (+00:00).

CREATE TABLE tickers (
    symbol      TEXT PRIMARY KEY NOT NULL CHECK (symbol <> ''),
    name        TEXT,
    sector      TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE earnings_events (
    id                  INTEGER PRIMARY KEY,
    ticker              TEXT NOT NULL REFERENCES tickers (symbol) ON DELETE CASCADE,
    report_date         TEXT NOT NULL,
    timing              TEXT NOT NULL CHECK (timing IN ('BMO', 'AMC', 'UNKNOWN')),
    source              TEXT NOT NULL,
    fiscal_date_ending  TEXT,
    updated_at          TEXT NOT NULL,
    UNIQUE (ticker, report_date)
);
CREATE INDEX earnings_events_report_date ON earnings_events (report_date);

CREATE TABLE daily_bars (
    ticker  TEXT NOT NULL CHECK (ticker <> ''),
    date    TEXT NOT NULL,
    open    REAL NOT NULL CHECK (open > 0),
    high    REAL NOT NULL CHECK (high > 0),
    low     REAL NOT NULL CHECK (low > 0 AND low <= high),
    close   REAL NOT NULL CHECK (close > 0),
    volume  INTEGER NOT NULL CHECK (volume >= 0),
    source  TEXT NOT NULL,
    PRIMARY KEY (ticker, date)
);

CREATE TABLE historical_moves (
    ticker             TEXT NOT NULL CHECK (ticker <> ''),
    report_date        TEXT NOT NULL,
    timing             TEXT NOT NULL CHECK (timing IN ('BMO', 'AMC', 'UNKNOWN')),
    reaction_date      TEXT NOT NULL,
    reference_close    REAL NOT NULL CHECK (reference_close > 0),
    close_move_pct     REAL NOT NULL,
    gap_move_pct       REAL NOT NULL,
    intraday_move_pct  REAL NOT NULL,
    signed_close_pct   REAL NOT NULL,
    PRIMARY KEY (ticker, report_date)
);

CREATE TABLE analyses (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id          TEXT NOT NULL,
    ticker          TEXT NOT NULL CHECK (ticker <> ''),
    as_of           TEXT NOT NULL,
    earnings_date   TEXT,
    expiration      TEXT,
    score           REAL,
    vrp_ratio       REAL,
    vrp_tier        TEXT,
    liquidity_tier  TEXT,
    tradeable       INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    record          TEXT,
    created_at      TEXT NOT NULL,
    CHECK ((error IS NULL) <> (record IS NULL))
);
CREATE INDEX analyses_ticker_created ON analyses (ticker, created_at);
CREATE INDEX analyses_run ON analyses (run_id);
CREATE INDEX analyses_created ON analyses (created_at);

CREATE TABLE cache_entries (
    key         TEXT PRIMARY KEY NOT NULL,
    value       BLOB NOT NULL,
    fetched_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX cache_entries_expires ON cache_entries (expires_at);

CREATE TABLE backfill_progress (
    ticker             TEXT NOT NULL CHECK (ticker <> ''),
    kind               TEXT NOT NULL CHECK (kind <> ''),
    completed_through  TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    PRIMARY KEY (ticker, kind)
);

CREATE TABLE health_probe (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at  TEXT NOT NULL
);

-- ivcrush store schema v1 (PostgreSQL dialect). Never edit an applied migration: add a new file.

CREATE TABLE tickers (
    symbol      TEXT PRIMARY KEY CHECK (symbol <> ''),
    name        TEXT,
    sector      TEXT,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE earnings_events (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticker              TEXT NOT NULL REFERENCES tickers (symbol) ON DELETE CASCADE,
    report_date         DATE NOT NULL,
    timing              TEXT NOT NULL CHECK (timing IN ('BMO', 'AMC', 'UNKNOWN')),
    source              TEXT NOT NULL,
    fiscal_date_ending  DATE,
    updated_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (ticker, report_date)
);
CREATE INDEX earnings_events_report_date ON earnings_events (report_date);

CREATE TABLE daily_bars (
    ticker  TEXT NOT NULL CHECK (ticker <> ''),
    date    DATE NOT NULL,
    open    DOUBLE PRECISION NOT NULL CHECK (open > 0 AND open <> 'NaN'),
    high    DOUBLE PRECISION NOT NULL CHECK (high > 0 AND high <> 'NaN'),
    low     DOUBLE PRECISION NOT NULL CHECK (low > 0 AND low <= high),
    close   DOUBLE PRECISION NOT NULL CHECK (close > 0 AND close <> 'NaN'),
    volume  BIGINT NOT NULL CHECK (volume >= 0),
    source  TEXT NOT NULL,
    PRIMARY KEY (ticker, date)
);

CREATE TABLE historical_moves (
    ticker             TEXT NOT NULL CHECK (ticker <> ''),
    report_date        DATE NOT NULL,
    timing             TEXT NOT NULL CHECK (timing IN ('BMO', 'AMC', 'UNKNOWN')),
    reaction_date      DATE NOT NULL,
    reference_close    DOUBLE PRECISION NOT NULL CHECK (reference_close > 0),
    close_move_pct     DOUBLE PRECISION NOT NULL,
    gap_move_pct       DOUBLE PRECISION NOT NULL,
    intraday_move_pct  DOUBLE PRECISION NOT NULL,
    signed_close_pct   DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (ticker, report_date)
);

CREATE TABLE analyses (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          TEXT NOT NULL,
    ticker          TEXT NOT NULL CHECK (ticker <> ''),
    as_of           TIMESTAMPTZ NOT NULL,
    earnings_date   DATE,
    expiration      DATE,
    score           DOUBLE PRECISION,
    vrp_ratio       DOUBLE PRECISION,
    vrp_tier        TEXT,
    liquidity_tier  TEXT,
    tradeable       BOOLEAN NOT NULL DEFAULT FALSE,
    error           TEXT,
    record          JSONB,
    created_at      TIMESTAMPTZ NOT NULL,
    CHECK ((error IS NULL) <> (record IS NULL))
);
CREATE INDEX analyses_ticker_created ON analyses (ticker, created_at);
CREATE INDEX analyses_run ON analyses (run_id);
CREATE INDEX analyses_created ON analyses (created_at);

CREATE TABLE cache_entries (
    key         TEXT PRIMARY KEY,
    value       BYTEA NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX cache_entries_expires ON cache_entries (expires_at);

CREATE TABLE backfill_progress (
    ticker             TEXT NOT NULL CHECK (ticker <> ''),
    kind               TEXT NOT NULL CHECK (kind <> ''),
    completed_through  DATE NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (ticker, kind)
);

CREATE TABLE health_probe (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    checked_at  TIMESTAMPTZ NOT NULL
);

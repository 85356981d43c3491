-- Alerts (calendar changes, threshold crossings, breakers, health) and their webhook
-- deliveries. `key` makes an alert idempotent: the same change seen twice is one alert.
CREATE TABLE alerts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE CHECK (key <> ''),
    kind        TEXT NOT NULL,
    ticker      TEXT,
    message     TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX alerts_created ON alerts (created_at);

-- One row per alert and webhook endpoint, claimed ('sending') before the first attempt, so
-- that an alert is sent at most once per endpoint whatever the number of processes.
CREATE TABLE alert_deliveries (
    alert_id    BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    endpoint    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('sending', 'delivered', 'failed')),
    attempts    INTEGER NOT NULL,
    last_error  TEXT,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (alert_id, endpoint)
);

-- A run stores each ticker once: scan workers may process the same job twice (a worker dies
-- after storing, before acknowledging), and the second write must replace the first, not add a
-- row. Older duplicates of a (run, ticker) are dropped so that the unique index can be built;
-- the latest row of each is kept.
DELETE FROM analyses
WHERE EXISTS (
    SELECT 1 FROM analyses AS newer
    WHERE newer.run_id = analyses.run_id
      AND newer.ticker = analyses.ticker
      AND newer.id > analyses.id
);
DROP INDEX IF EXISTS analyses_run;
CREATE UNIQUE INDEX analyses_run_ticker ON analyses (run_id, ticker);

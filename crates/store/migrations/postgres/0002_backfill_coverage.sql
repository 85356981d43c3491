-- ivcrush store schema v2 (PostgreSQL dialect): backfill coverage.
-- A backfill records the range of sessions whose bars it has stored, [covered_from,
-- completed_through], instead of a bare "done through" date, so that a wider request fetches
-- only what is missing and the moves are recomputed over the whole range.
-- NULL: the start is unknown (a progress row written by `mark_progress`).

ALTER TABLE backfill_progress ADD COLUMN covered_from DATE
    CHECK (covered_from IS NULL OR covered_from <= completed_through);

-- Rows written before coverage was tracked: a backfill stored its bars contiguously from the
-- start of its window through `completed_through`, so the oldest stored bar up to that date
-- is where the coverage starts. Without such a bar the start stays unknown (NULL) and the next
-- backfill fetches its whole window again. Nothing is deleted.
UPDATE backfill_progress
SET covered_from = (
    SELECT MIN(d.date) FROM daily_bars d
    WHERE d.ticker = backfill_progress.ticker
      AND d.date <= backfill_progress.completed_through
);

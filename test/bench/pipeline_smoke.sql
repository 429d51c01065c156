-- Quick smoke run of the pipeline benchmark (50 pairs, one run per variant):
-- checks the benchmark still works, measures nothing meaningful. It empties
-- the pipeline's tables, so the suite runs it last.
\set n 50
\set reps 1
\ir pipeline_bench.sql

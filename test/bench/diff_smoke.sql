-- Quick smoke run of the bt_diff benchmark (tiny size, one run per query):
-- checks the benchmark still works, measures nothing meaningful.
\set sizes '100'
\set reps 1
\ir diff_bench.sql

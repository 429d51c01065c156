-- Quick smoke run of the revisions benchmark (test/bench/smoke.sh, part of
-- the suite): builds its drawings at 1,000 objects and checks the diffs,
-- times nothing.  With stable ids match_geometry on and off give the same
-- jsonb (20 moves; and with 10 objects removed and 10 added elsewhere, none
-- paired); a full re-export re-identifies all 1,000 objects under their
-- old ids (0 added, 0 removed, the same 20 moves), a half re-export 500.
-- pg_temp.check_revisions raises an error otherwise.
\set sizes '1000'
\set check_only 1
\ir revisions_bench.sql

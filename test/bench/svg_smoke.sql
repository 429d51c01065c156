-- Quick smoke run of the bt_svg benchmark: checks its pictures, times nothing.
\set sizes '300'
\set check_only 1
\ir svg_bench.sql

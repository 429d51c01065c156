
-- ---------------------------------------------------------------------------
-- Percentiles with a relative error bound: the bt_sketch type, the
-- bt_percentile / bt_sketch / bt_sketch_merge aggregates and readers.
-- A DDSketch-style logarithmic sketch (src/sketch.c): every estimate is
-- within relative_accuracy * |true value| of the true order statistic while
-- the sketch has not collapsed (then within bt_sketch_relative_accuracy).
-- All C, immutable, parallel safe.
-- ---------------------------------------------------------------------------

CREATE TYPE buildtrace.bt_sketch;

CREATE FUNCTION buildtrace.bt_sketch_in(cstring) RETURNS buildtrace.bt_sketch
AS 'MODULE_PATHNAME', 'bt_sketch_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_out(buildtrace.bt_sketch) RETURNS cstring
AS 'MODULE_PATHNAME', 'bt_sketch_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_recv(internal) RETURNS buildtrace.bt_sketch
AS 'MODULE_PATHNAME', 'bt_sketch_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_send(buildtrace.bt_sketch) RETURNS bytea
AS 'MODULE_PATHNAME', 'bt_sketch_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE buildtrace.bt_sketch (
    INPUT = buildtrace.bt_sketch_in,
    OUTPUT = buildtrace.bt_sketch_out,
    RECEIVE = buildtrace.bt_sketch_recv,
    SEND = buildtrace.bt_sketch_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE buildtrace.bt_sketch IS
    'quantile sketch with a relative error bound (DDSketch/UDDSketch); merge with bt_sketch_merge or bt_sketch_add';
COMMENT ON FUNCTION buildtrace.bt_sketch_in(cstring) IS 'Text input of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_out(buildtrace.bt_sketch) IS 'Text output of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_recv(internal) IS 'Binary input of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_send(buildtrace.bt_sketch) IS 'Binary output of bt_sketch.';

-- Aggregate support (shared by every aggregate below).
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[])
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[], float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_percentile_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_trans(internal, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_sketch_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_trans(internal, float8, float8)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_sketch_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_merge_trans(internal, buildtrace.bt_sketch)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_sketch_merge_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_agg_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_agg_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_agg_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'bt_agg_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_agg_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'bt_agg_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentile_final(internal)
RETURNS float8 AS 'MODULE_PATHNAME', 'bt_percentile_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_percentiles_final(internal)
RETURNS float8[] AS 'MODULE_PATHNAME', 'bt_percentiles_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION buildtrace.bt_sketch_final(internal)
RETURNS buildtrace.bt_sketch AS 'MODULE_PATHNAME', 'bt_sketch_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[]) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8, float8) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[], float8) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_sketch_trans(internal, float8) IS 'Transition function of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_trans(internal, float8, float8) IS 'Transition function of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_merge_trans(internal, buildtrace.bt_sketch) IS 'Transition function of bt_sketch_merge.';
COMMENT ON FUNCTION buildtrace.bt_agg_combine(internal, internal) IS 'Combine function of the sketch aggregates.';
COMMENT ON FUNCTION buildtrace.bt_agg_serialize(internal) IS 'Serialize function of the sketch aggregates.';
COMMENT ON FUNCTION buildtrace.bt_agg_deserialize(bytea, internal) IS 'Deserialize function of the sketch aggregates.';
COMMENT ON FUNCTION buildtrace.bt_percentile_final(internal) IS 'Final function of bt_percentile with one quantile.';
COMMENT ON FUNCTION buildtrace.bt_percentiles_final(internal) IS 'Final function of bt_percentile with an array of quantiles.';
COMMENT ON FUNCTION buildtrace.bt_sketch_final(internal) IS 'Final function of bt_sketch and bt_sketch_merge.';

-- bt_percentile(value, q [, relative_accuracy]) -> float8
-- bt_percentile(value, qs [, relative_accuracy]) -> float8[]
CREATE AGGREGATE buildtrace.bt_percentile(value float8, q float8) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentile_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8) IS
    'The q-quantile (0 to 1) of the values, within 1 % of the true value (relative error) while the sketch has not collapsed.';
CREATE AGGREGATE buildtrace.bt_percentile(value float8, qs float8[]) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentiles_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8[]) IS
    'The quantiles qs (each 0 to 1) of the values, within 1 % of the true values (relative error) while the sketch has not collapsed.';
CREATE AGGREGATE buildtrace.bt_percentile(value float8, q float8, relative_accuracy float8) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentile_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8, float8) IS
    'The q-quantile (0 to 1) of the values, within relative_accuracy (0.0001 to 0.5) of the true value while the sketch has not collapsed.';
CREATE AGGREGATE buildtrace.bt_percentile(value float8, qs float8[], relative_accuracy float8) (
    SFUNC = buildtrace.bt_percentile_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_percentiles_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8[], float8) IS
    'The quantiles qs (each 0 to 1) of the values, within relative_accuracy (0.0001 to 0.5) of the true values while the sketch has not collapsed.';

-- bt_sketch(value [, relative_accuracy]) -> bt_sketch; bt_sketch_merge(bt_sketch) -> bt_sketch
CREATE AGGREGATE buildtrace.bt_sketch(value float8) (
    SFUNC = buildtrace.bt_sketch_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_sketch_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE buildtrace.bt_sketch(float8) IS
    'A bt_sketch of the values at 1 % relative accuracy, to store and merge later.';
CREATE AGGREGATE buildtrace.bt_sketch(value float8, relative_accuracy float8) (
    SFUNC = buildtrace.bt_sketch_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_sketch_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE buildtrace.bt_sketch(float8, float8) IS
    'A bt_sketch of the values at relative_accuracy (0.0001 to 0.5), to store and merge later.';
CREATE AGGREGATE buildtrace.bt_sketch_merge(sketch buildtrace.bt_sketch) (
    SFUNC = buildtrace.bt_sketch_merge_trans, STYPE = internal,
    FINALFUNC = buildtrace.bt_sketch_final,
    COMBINEFUNC = buildtrace.bt_agg_combine,
    SERIALFUNC = buildtrace.bt_agg_serialize, DESERIALFUNC = buildtrace.bt_agg_deserialize,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE buildtrace.bt_sketch_merge(buildtrace.bt_sketch) IS
    'The union of the sketches (of one relative accuracy); NULLs are ignored.';

-- Reading stored sketches.
CREATE FUNCTION buildtrace.bt_sketch_quantile(sketch buildtrace.bt_sketch, q float8)
RETURNS float8 AS 'MODULE_PATHNAME', 'bt_sketch_quantile_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_quantile(buildtrace.bt_sketch, float8) IS
    'The q-quantile (0 to 1) of the values in the sketch, within its relative accuracy.';
CREATE FUNCTION buildtrace.bt_sketch_quantiles(sketch buildtrace.bt_sketch, qs float8[])
RETURNS float8[] AS 'MODULE_PATHNAME', 'bt_sketch_quantiles_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_quantiles(buildtrace.bt_sketch, float8[]) IS
    'The quantiles qs (each 0 to 1) of the values in the sketch, within its relative accuracy.';
CREATE FUNCTION buildtrace.bt_sketch_count(sketch buildtrace.bt_sketch)
RETURNS bigint AS 'MODULE_PATHNAME', 'bt_sketch_count_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_count(buildtrace.bt_sketch) IS
    'The number of values in the sketch.';
CREATE FUNCTION buildtrace.bt_sketch_relative_accuracy(sketch buildtrace.bt_sketch)
RETURNS float8 AS 'MODULE_PATHNAME', 'bt_sketch_relative_accuracy_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_relative_accuracy(buildtrace.bt_sketch) IS
    'the relative error bound that holds for this sketch (larger than requested only if it was collapsed)';
-- Not strict: a NULL side is ignored, so it works as a running merge.
CREATE FUNCTION buildtrace.bt_sketch_add(a buildtrace.bt_sketch, b buildtrace.bt_sketch)
RETURNS buildtrace.bt_sketch AS 'MODULE_PATHNAME', 'bt_sketch_add_fn'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_add(buildtrace.bt_sketch, buildtrace.bt_sketch) IS
    'The union of two sketches of one relative accuracy; a NULL side is ignored.';
CREATE FUNCTION buildtrace.bt_sketch_quantile_bounds(
    sketch buildtrace.bt_sketch, q float8, confidence float8 DEFAULT 0.95,
    OUT estimate float8, OUT lower float8, OUT upper float8,
    OUT lower_rank bigint, OUT upper_rank bigint)
RETURNS record AS 'MODULE_PATHNAME', 'bt_sketch_quantile_bounds_fn'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION buildtrace.bt_sketch_quantile_bounds(buildtrace.bt_sketch, float8, float8) IS
    'q-quantile estimate with a distribution-free confidence interval for the population quantile';

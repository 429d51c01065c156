-- Hourly volume spikes from check_uploads(): per drawing and system-wide
-- (per tenant), at the spike_factor edge, with the small-baseline floor,
-- once per hour.
BEGIN;
SELECT plan(10);
SET LOCAL buildtrace.spike_min_changes = 5;
SET LOCAL buildtrace.spike_factor = 10;

-- One pair that adds n doors, its change row stamped at t.
CREATE FUNCTION pg_temp.pair_at(drawing text, n int, t timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE id bigint;
BEGIN
    INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
    SELECT drawing, '[]', coalesce(jsonb_agg(jsonb_build_object('id', 'D' || i, 'type', 'door',
                              'x', i, 'y', 0, 'width', 1, 'height', 2)), '[]')
    FROM generate_series(1, n) i
    RETURNING pair_id INTO id;
    UPDATE buildtrace.changes SET computed_at = t WHERE pair_id = id;
END $$;

-- Drawing V: 5 changes 09:00–10:00, 50 in 10:00–11:00 (exactly 10×).
SELECT pg_temp.pair_at('vol-V', 5, '2026-02-02 09:30+00');
SELECT pg_temp.pair_at('vol-V', 50, '2026-02-02 10:30+00');
-- Drawing W: 4 → 400, but a baseline under spike_min_changes.
SELECT pg_temp.pair_at('vol-W', 4, '2026-02-02 09:30+00');
SELECT pg_temp.pair_at('vol-W', 400, '2026-02-02 10:30+00');
-- Drawing X: 6 → 59, just under 10×.
SELECT pg_temp.pair_at('vol-X', 6, '2026-02-02 09:30+00');
SELECT pg_temp.pair_at('vol-X', 59, '2026-02-02 10:30+00');

SELECT is((buildtrace.check_uploads('2026-02-02 11:00+00') ->> 'volume_spike')::int, 2,
          'two volume spikes: drawing V and the whole system');
SELECT results_eq(
    $$SELECT drawing_id, details ->> 'changes_last_hour', details ->> 'changes_hour_before'
      FROM buildtrace.anomalies WHERE kind = 'volume_spike' ORDER BY drawing_id NULLS FIRST$$,
    $$VALUES (NULL::text, '509', '15'), ('vol-V', '50', '5')$$,
    'system-wide 509 vs 15, drawing V 50 vs 5 (exactly the factor counts)');
SELECT is_empty($$SELECT 1 FROM buildtrace.anomalies WHERE drawing_id IN ('vol-W', 'vol-X')$$,
                'a tiny baseline (W) and a ratio under the factor (X) are no spike');
SELECT is((buildtrace.check_uploads('2026-02-02 11:20+00') ->> 'volume_spike')::int, 0,
          'no second volume spike within the hour');
SET LOCAL buildtrace.spike_factor = 100;
SELECT pg_temp.pair_at('vol-Y', 5, '2026-02-02 12:00+00');
SELECT pg_temp.pair_at('vol-Y', 499, '2026-02-02 13:00+00');
SELECT is((buildtrace.check_uploads('2026-02-02 13:30+00') ->> 'volume_spike')::int, 0,
          'buildtrace.spike_factor is honoured (100×: 499 vs 5 is no spike)');
SELECT pg_temp.pair_at('vol-Y', 500, '2026-02-02 14:00+00');
SELECT is((buildtrace.check_uploads('2026-02-02 14:30+00') ->> 'volume_spike')::int, 0,
          '500 vs 499 the hour before is no spike');
SELECT is((SELECT count(*)::int FROM buildtrace.anomalies WHERE kind = 'volume_spike'), 2,
          'still exactly two volume spikes');
SET LOCAL buildtrace.spike_factor = 2.2;
SELECT pg_temp.pair_at('vol-Z', 25, '2026-02-02 15:00+00');
SELECT pg_temp.pair_at('vol-Z', 55, '2026-02-02 16:00+00');
SELECT is((buildtrace.check_uploads('2026-02-02 16:30+00') ->> 'volume_spike')::int, 2,
          'exactly 2.2× is a spike at factor 2.2, for the drawing and the system');

-- Tenants: the whole of each tenant's uploads is judged on its own and
-- recorded under it, never summed over tenants under the default one (its
-- readers would read the others' counts, and any tenant could spike them).
CREATE ROLE vol_t1 NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE vol_t2 NOLOGIN IN ROLE buildtrace_tenant;
SET LOCAL buildtrace.spike_factor = 10;
SET LOCAL buildtrace.tenant = 'vol_t1';
SELECT pg_temp.pair_at('vol-t1', 5, '2026-02-03 09:30+00');
SELECT pg_temp.pair_at('vol-t1', 50, '2026-02-03 10:30+00');
SET LOCAL buildtrace.tenant = 'vol_t2';
SELECT pg_temp.pair_at('vol-t2', 100, '2026-02-03 09:30+00');
SELECT pg_temp.pair_at('vol-t2', 100, '2026-02-03 10:30+00');
RESET buildtrace.tenant;
SELECT is((buildtrace.check_uploads('2026-02-03 11:00+00') ->> 'volume_spike')::int, 2,
          'tenants: a spike of one tenant''s drawing and of that tenant''s whole');
SELECT results_eq(
    $$SELECT drawing_id, tenant, details ->> 'changes_last_hour', details ->> 'changes_hour_before'
      FROM buildtrace.anomalies WHERE kind = 'volume_spike' AND detected_at = '2026-02-03 11:00+00'
      ORDER BY drawing_id NULLS FIRST$$,
    $$VALUES (NULL::text, 'vol_t1'::text, '50', '5'), ('vol-t1', 'vol_t1', '50', '5')$$,
    'the tenant''s whole counts its own changes only, under its own name');

SELECT * FROM finish();
ROLLBACK;

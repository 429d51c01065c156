-- Shared by the benchmarks that time queries over one stored pair.

-- Median (ms) of q over one pair, which it finds by the key it takes as $1,
-- its runs back to back after one warm-up.
CREATE FUNCTION pg_temp.median_ms(q text, pair_key int, reps int) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  times float8[] := '{}';
  dummy boolean;
BEGIN
  EXECUTE q INTO dummy USING pair_key;
  FOR i IN 1 .. reps LOOP
    t0 := clock_timestamp();
    EXECUTE q INTO dummy USING pair_key;
    times := times || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
  END LOOP;
  RETURN (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(times) t);
END $$;

-- Medians (ms) of q1 and q2 over one pair, which both find by the key they
-- take as $1 (its size, or its row's number), run interleaved (the first of
-- each round alternates) after one warm-up each.
CREATE FUNCTION pg_temp.median_pair_ms(q1 text, q2 text, pair_key int, reps int, OUT ms1 float8, OUT ms2 float8)
LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz;
  t1 float8[] := '{}';
  t2 float8[] := '{}';
  dummy boolean;
BEGIN
  EXECUTE q1 INTO dummy USING pair_key;
  EXECUTE q2 INTO dummy USING pair_key;
  FOR i IN 1 .. reps LOOP
    FOR k IN 0 .. 1 LOOP
      t0 := clock_timestamp();
      IF (i + k) % 2 = 0 THEN
        EXECUTE q1 INTO dummy USING pair_key;
        t1 := t1 || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
      ELSE
        EXECUTE q2 INTO dummy USING pair_key;
        t2 := t2 || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
      END IF;
    END LOOP;
  END LOOP;
  ms1 := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(t1) t);
  ms2 := (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t) FROM unnest(t2) t);
END $$;

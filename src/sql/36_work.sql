
-- ---------------------------------------------------------------------------
-- The change pipeline, part 5: deferred processing.
--
-- With buildtrace.processing = 'deferred' an INSERT only stores its pairs,
-- pending. CALL buildtrace.work() diffs them later, through the very triggers
-- that diff inline pairs (fired by an UPDATE of status), so changes, spikes,
-- anomalies and rollups come out as inline. Any number of workers may run.
--
-- A batch is claimed in a transaction of its own before it is processed
-- (attempts + 1, next_attempt_at a backoff away), so an attempt counts even
-- when the worker dies or its processing is rolled back; a pair is due again
-- after its backoff, and after buildtrace.max_attempts attempts it is failed
-- and waits in dead_letters. Invalid input is no passing failure: it fails
-- the pair on the first attempt, as inline. A pair whose attempt came to
-- nothing is claimed alone the next time, so that one pair that stops its
-- worker every time is not charged with its batch.
--
-- Order: a drawing's pairs are taken oldest first and only up to its first
-- pair that is not due, so a claimed pair (not due while it is claimed)
-- keeps every other worker off the newer pairs of its drawing until it is
-- processed or its claim runs out; two workers never claim one drawing at
-- once (its oldest pending pair is locked while claiming).
-- ---------------------------------------------------------------------------

-- The worker's processing step: an UPDATE of status from 'pending' to 'done'
-- fires the pipeline's row and statement triggers, which set the real status.
CREATE TRIGGER pairs_work_diff
    BEFORE UPDATE OF status ON buildtrace.pairs
    FOR EACH ROW
    WHEN (OLD.status = 'pending' AND NEW.status = 'done')
    EXECUTE FUNCTION buildtrace._pairs_before_insert();

CREATE TRIGGER pairs_work_processed
    AFTER UPDATE OF status ON buildtrace.pairs
    FOR EACH ROW
    WHEN (OLD.status = 'pending' AND NEW.status <> 'pending')
    EXECUTE FUNCTION buildtrace._pairs_after_insert_row();

CREATE TRIGGER pairs_work_store
    AFTER UPDATE OF status ON buildtrace.pairs
    FOR EACH STATEMENT
    EXECUTE FUNCTION buildtrace._pairs_after_statement();

-- The queue: pending pairs in order, and a drawing's pending pairs (its
-- oldest, whether a pair is it), which a drawing's history of done pairs
-- would otherwise make workers read through. Inline pairs are never
-- pending when written, so neither index costs their INSERT anything.
CREATE INDEX pairs_pending_idx ON buildtrace.pairs (pair_id) WHERE status = 'pending';
CREATE INDEX pairs_pending_drawing_idx ON buildtrace.pairs (drawing_id, pair_id) WHERE status = 'pending';

-- Locks a drawing's oldest pending pair and returns it, if the pair is due,
-- no other worker is claiming it and no other transaction holds the drawing
-- (a writer's upload left open); else NULL. A worker takes a drawing's
-- pairs only behind this lock, which it holds until its claim commits. A
-- held drawing is passed over before anything is claimed: claimed and given
-- back, its pairs would use up the batch and be first in line again, and so
-- a writer holding its own drawings would starve every tenant's work. Its
-- state row is locked as processing locks it (FOR UPDATE), so that what
-- would make processing skip the drawing makes taking skip it.
CREATE FUNCTION buildtrace._work_lock_oldest(drawing_id text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    oldest bigint;
BEGIN
    SELECT p.pair_id INTO oldest
    FROM buildtrace.pairs p
    WHERE p.pair_id = (SELECT min(o.pair_id) FROM buildtrace.pairs o
                       WHERE o.drawing_id = _work_lock_oldest.drawing_id AND o.status = 'pending')
      AND coalesce(p.next_attempt_at, '-infinity') <= now()
    FOR NO KEY UPDATE SKIP LOCKED;
    IF oldest IS NOT NULL THEN
        PERFORM FROM buildtrace.drawing_state s
        WHERE s.drawing_id = _work_lock_oldest.drawing_id
        FOR UPDATE SKIP LOCKED;
        -- (a drawing without a state row is held by no one)
        IF NOT FOUND AND EXISTS (SELECT FROM buildtrace.drawing_state s
                                 WHERE s.drawing_id = _work_lock_oldest.drawing_id) THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN oldest;
END
$$;

-- Takes up to max_pairs due pending pairs, drawing by drawing, oldest
-- drawing first, skipping drawings another worker is claiming (each taken
-- drawing's oldest pending pair is locked until the claim commits) or
-- another transaction holds, however many they are. Within a
-- drawing, pairs are taken in order up to the first one not due. A row lock,
-- not an advisory lock: any role may take an advisory lock, and so stall a
-- drawing's processing; locking a pair takes the UPDATE privilege.
CREATE FUNCTION buildtrace._work_take(max_pairs integer)
RETURNS TABLE (pair_id bigint, drawing_id text, tenant text, attempts integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    n integer;
    taken integer := 0;
BEGIN
    -- Drawings whose oldest pending pair is due: the newer pairs of one
    -- whose oldest is claimed by another worker or backing off wait for it,
    -- so such drawings are left out here rather than each locked in vain.
    FOR d IN SELECT p.drawing_id
             FROM buildtrace.pairs p
             WHERE p.status = 'pending'
             GROUP BY p.drawing_id
             HAVING min(p.pair_id) = min(p.pair_id) FILTER (WHERE coalesce(p.next_attempt_at, '-infinity') <= now())
             ORDER BY min(p.pair_id) LOOP
        EXIT WHEN taken >= max_pairs;
        CONTINUE WHEN buildtrace._work_lock_oldest(d.drawing_id) IS NULL;
        RETURN QUERY
        SELECT q.pair_id, q.drawing_id, q.tenant, q.attempts
        FROM (SELECT p.pair_id, p.drawing_id, p.tenant, p.attempts,
                     bool_and(coalesce(p.next_attempt_at, '-infinity') <= now())
                         OVER (ORDER BY p.pair_id) AS due
              FROM buildtrace.pairs p
              WHERE p.drawing_id = d.drawing_id AND p.status = 'pending'
              ORDER BY p.pair_id) q
        WHERE q.due
        ORDER BY q.pair_id
        LIMIT max_pairs - taken;
        GET DIAGNOSTICS n = ROW_COUNT;
        taken := taken + n;
    END LOOP;
END
$$;

-- The next batch to claim, from the pairs _work_take takes: "fresh", the
-- pairs before the first one tried before whose attempt came to nothing
-- (its worker was terminated, crashed or cancelled, or a passing failure);
-- or, when the batch begins with such a pair, "tried", the tried pairs
-- taken, each to be taken again, claimed and processed alone
-- (_work_take_one). Whatever stops a worker stops its whole batch, which
-- every attempt is charged to: a pair that stopped its worker once is
-- therefore claimed alone, so that if it stops the next one too, it is
-- charged alone and fails alone after buildtrace.max_attempts, instead of
-- taking the good pairs of its batch with it.
CREATE FUNCTION buildtrace._work_next_batch(max_pairs integer, OUT fresh bigint[], OUT tried bigint[])
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    taken bigint[];
    first_tried bigint;
BEGIN
    SELECT array_agg(t.pair_id ORDER BY t.n), min(t.n) FILTER (WHERE t.attempts > 0),
           array_agg(t.pair_id ORDER BY t.n) FILTER (WHERE t.attempts > 0)
    INTO taken, first_tried, tried
    FROM buildtrace._work_take(max_pairs) WITH ORDINALITY AS t(pair_id, drawing_id, tenant, attempts, n);
    fresh := coalesce(taken[1 : coalesce(first_tried - 1, cardinality(taken))], '{}');
    IF first_tried IS DISTINCT FROM 1 THEN
        tried := '{}';
    END IF;
END
$$;

-- Takes one pair again, alone: if it is still pending and due, is the
-- oldest pending pair of its drawing, and no other worker is claiming it.
CREATE FUNCTION buildtrace._work_take_one(pair_id bigint)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    drawing text;
BEGIN
    SELECT p.drawing_id INTO drawing
    FROM buildtrace.pairs p WHERE p.pair_id = _work_take_one.pair_id AND p.status = 'pending';
    IF FOUND AND buildtrace._work_lock_oldest(drawing) = pair_id THEN
        RETURN ARRAY[pair_id];
    END IF;
    RETURN '{}';
END
$$;

-- Claims taken pairs for one attempt: the ones out of attempts fail (and
-- wait in dead_letters), the others count one more attempt and are not due
-- again before a backoff of 2^attempts seconds (at most an hour), whatever
-- becomes of this one. Returns the pairs to process now.
CREATE FUNCTION buildtrace._work_claim(pair_ids bigint[])
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_attempts integer := buildtrace.setting('buildtrace.max_attempts'::text)::integer;
    claimed bigint[];
BEGIN
    PERFORM buildtrace._work_fail(
        ARRAY(SELECT p.pair_id FROM buildtrace.pairs p
              WHERE p.pair_id = ANY (pair_ids) AND p.status = 'pending'
                AND p.attempts >= max_attempts),
        '55000', format('processing gave up after %s attempts', max_attempts),
        'could not be processed for a passing reason (a lock timeout, a serialization failure, a worker that stopped) as often as buildtrace.max_attempts allows');

    WITH c AS (
        UPDATE buildtrace.pairs p
        SET attempts = p.attempts + 1,
            next_attempt_at = now() + least(interval '1 second' * power(2, least(p.attempts, 12)), interval '1 hour')
        WHERE p.pair_id = ANY (pair_ids) AND p.status = 'pending'
        RETURNING p.pair_id)
    SELECT array_agg(c.pair_id ORDER BY c.pair_id) INTO claimed FROM c;
    RETURN coalesce(claimed, '{}');
END
$$;

-- Fails claimed pairs that will not be processed, to wait in dead_letters:
-- out of attempts, or unprocessable for a lasting reason (the drawing is
-- another tenant's, say). Their problem says why; reason completes "Pair N
-- of drawing "D" …". Each is flagged as a processing_failed anomaly with
-- that problem, as a pair of invalid input is flagged (a dead letter that
-- nothing flags waits unseen), and counted in no rollup: the rollup of its
-- drawing may be another tenant's.
CREATE FUNCTION buildtrace._work_fail(pair_ids bigint[], sqlstate text, message text, reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH failed AS (
        UPDATE buildtrace.pairs p
        SET status = 'failed', processed_at = now(),
            error = jsonb_build_array(jsonb_build_object(
                'sqlstate', _work_fail.sqlstate, 'message', _work_fail.message,
                'detail', format('Pair %s of drawing "%s" %s.', p.pair_id, p.drawing_id, _work_fail.reason)))
        WHERE p.pair_id = ANY (_work_fail.pair_ids) AND p.status = 'pending'
        RETURNING p.pair_id, p.drawing_id, p.error, p.tenant)
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
    SELECT 'processing_failed', 'high', f.drawing_id, f.pair_id,
           jsonb_build_object('problems', f.error), f.tenant
    FROM failed f;
END;

-- Processes claimed pairs one at a time, oldest first: what a batch falls
-- back to when it failed, so that one pair that cannot be processed fails
-- alone. A pair that failed for a passing reason (lock timeout,
-- serialization failure, deadlock) stays claimed, to be tried again after
-- its backoff, and so do the newer pairs of its drawing.
CREATE FUNCTION buildtrace._work_one_by_one(pair_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    stalled text[] := '{}';
    processed bigint := 0;
BEGIN
    FOR p IN SELECT q.pair_id, q.drawing_id FROM buildtrace.pairs q
             WHERE q.pair_id = ANY (pair_ids) ORDER BY q.pair_id LOOP
        CONTINUE WHEN p.drawing_id = ANY (stalled);
        BEGIN
            UPDATE buildtrace.pairs q SET status = 'done'
            WHERE q.pair_id = p.pair_id AND q.status = 'pending';
            processed := processed + 1;
        EXCEPTION
            WHEN lock_not_available OR serialization_failure OR deadlock_detected THEN
                stalled := stalled || p.drawing_id;
                RAISE WARNING 'buildtrace.work() will retry pair % of drawing "%"', p.pair_id, p.drawing_id
                    USING DETAIL = format('Processing it failed with %s: %s.', SQLSTATE, SQLERRM);
            WHEN OTHERS THEN
                PERFORM buildtrace._work_fail(ARRAY[p.pair_id], SQLSTATE, SQLERRM, 'could not be processed');
        END;
    END LOOP;
    RETURN processed;
END
$$;

-- Locks the drawings of claimed pairs ahead of processing them, skipping
-- those another transaction holds (a writer's upload to its own drawing,
-- left open, say): their pairs stay pending, are not charged the attempt,
-- and wait for their backoff, so that a held drawing holds up its own pairs
-- only and not every tenant's work. Returns the pairs to process now.
CREATE FUNCTION buildtrace._work_lock_drawings(pair_ids bigint[])
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    locked        text[];
    held_pairs    bigint[];
    held_drawings text[];
BEGIN
    SELECT coalesce(array_agg(l.drawing_id), '{}') INTO locked
    FROM (SELECT s.drawing_id FROM buildtrace.drawing_state s
          WHERE s.drawing_id IN (SELECT p.drawing_id FROM buildtrace.pairs p
                                 WHERE p.pair_id = ANY (pair_ids))
          ORDER BY s.drawing_id
          FOR UPDATE SKIP LOCKED) l;
    WITH held AS (
        UPDATE buildtrace.pairs p SET attempts = greatest(p.attempts - 1, 0)
        WHERE p.pair_id = ANY (pair_ids)
          AND p.drawing_id <> ALL (locked)
          AND EXISTS (SELECT FROM buildtrace.drawing_state s WHERE s.drawing_id = p.drawing_id)
        RETURNING p.pair_id, p.drawing_id)
    SELECT array_agg(h.pair_id), array_agg(DISTINCT h.drawing_id) INTO held_pairs, held_drawings
    FROM held h;
    IF held_pairs IS NULL THEN
        RETURN pair_ids;
    END IF;
    RAISE WARNING 'buildtrace.work() will retry % pairs of drawings another transaction holds',
        cardinality(held_pairs)
        USING DETAIL = format('Drawings %s.', array_to_string(held_drawings, ', '));
    RETURN ARRAY(SELECT i FROM unnest(pair_ids) i WHERE i <> ALL (held_pairs) ORDER BY i);
END
$$;

-- Processes claimed pairs: one statement per tenant (the pipeline stores a
-- statement's pairs under one tenant), or, if that statement fails, one pair
-- at a time. Returns the pairs processed.
CREATE FUNCTION buildtrace._work_process(pair_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    ids bigint[];
    n bigint;
    processed bigint := 0;
    unheld bigint[] := buildtrace._work_lock_drawings(pair_ids);
BEGIN
    FOR t, ids IN SELECT p.tenant, array_agg(p.pair_id ORDER BY p.pair_id) FROM buildtrace.pairs p
                  WHERE p.pair_id = ANY (unheld) GROUP BY p.tenant ORDER BY 1 LOOP
        BEGIN
            UPDATE buildtrace.pairs p SET status = 'done'
            WHERE p.pair_id = ANY (ids) AND p.status = 'pending';
            GET DIAGNOSTICS n = ROW_COUNT;
        EXCEPTION WHEN OTHERS THEN
            n := buildtrace._work_one_by_one(ids);
        END;
        processed := processed + n;
    END LOOP;
    RETURN processed;
END
$$;

-- CALL buildtrace.work(max_pairs, max_seconds, poll_ms): processes pending
-- pairs in batches, each claimed and processed in transactions of their own,
-- until max_pairs were taken or max_seconds have passed, or the queue has
-- nothing due: then, with poll_ms above 0, it commits and looks again every
-- poll_ms milliseconds until max_seconds have passed (a pg_cron job that
-- starts it each minute for 55 seconds so processes a pair within about
-- poll_ms of its INSERT), and with poll_ms 0 it returns. Returns the pairs
-- processed. Batches are of at most 1,000 pairs.
--
-- A procedure, for its commits, which rule out a SET clause: as in purge(),
-- every name and operator is qualified and the work is done by functions
-- whose search_path is pinned. Run it as the owner or a superuser (pg_cron's
-- job, or a client in a loop): row-level security would leave it other
-- tenants' pairs.
CREATE PROCEDURE buildtrace.work(max_pairs integer DEFAULT 1000,
                                 max_seconds integer DEFAULT 60,
                                 poll_ms integer DEFAULT 0,
                                 INOUT processed bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    stop_at pg_catalog.timestamptz;
    batch bigint[];
    tried bigint[];
    one bigint;
    taken integer := 0;
BEGIN
    IF max_pairs IS NULL OR max_pairs OPERATOR(pg_catalog.<) 1
       OR max_seconds IS NULL OR max_seconds OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'work limits must be at least 1' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('Arguments "max_pairs" and "max_seconds" are %s and %s.',
                                       coalesce(max_pairs::pg_catalog.text, 'null'),
                                       coalesce(max_seconds::pg_catalog.text, 'null'));
    END IF;
    IF poll_ms IS NULL OR poll_ms OPERATOR(pg_catalog.<) 0 THEN
        RAISE EXCEPTION 'poll_ms must be at least 0' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('Argument "poll_ms" is %s.',
                                       coalesce(poll_ms::pg_catalog.text, 'null'));
    END IF;
    stop_at := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+)
               (max_seconds OPERATOR(pg_catalog.*) interval '1 second');
    processed := 0;
    LOOP
        SELECT b.fresh, b.tried INTO batch, tried
        FROM buildtrace._work_next_batch(LEAST(1000, max_pairs OPERATOR(pg_catalog.-) taken)) b;
        IF pg_catalog.cardinality(batch) OPERATOR(pg_catalog.>) 0 THEN
            taken := taken OPERATOR(pg_catalog.+) pg_catalog.cardinality(batch);
            batch := buildtrace._work_claim(batch);
            COMMIT;
            processed := processed OPERATOR(pg_catalog.+) buildtrace._work_process(batch);
            COMMIT;
        ELSIF pg_catalog.cardinality(tried) OPERATOR(pg_catalog.=) 0 THEN
            EXIT WHEN poll_ms OPERATOR(pg_catalog.=) 0;
            -- Nothing due: no transaction stays open while it waits, so the
            -- wait holds back neither vacuum nor a schema change.
            COMMIT;
            PERFORM pg_catalog.pg_sleep(LEAST(poll_ms OPERATOR(pg_catalog./) 1000.0,
                GREATEST(0, pg_catalog.date_part('epoch', stop_at OPERATOR(pg_catalog.-)
                                                           pg_catalog.clock_timestamp()))));
        ELSE
            -- Pairs whose attempt came to nothing: one claim and one
            -- processing transaction each (see _work_next_batch).
            COMMIT;
            FOREACH one IN ARRAY tried LOOP
                -- (another worker may have taken it since)
                batch := buildtrace._work_take_one(one);
                CONTINUE WHEN pg_catalog.cardinality(batch) OPERATOR(pg_catalog.=) 0;
                taken := taken OPERATOR(pg_catalog.+) 1;
                batch := buildtrace._work_claim(batch);
                COMMIT;
                processed := processed OPERATOR(pg_catalog.+) buildtrace._work_process(batch);
                COMMIT;
                EXIT WHEN taken OPERATOR(pg_catalog.>=) max_pairs
                       OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
            END LOOP;
        END IF;
        EXIT WHEN taken OPERATOR(pg_catalog.>=) max_pairs
               OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE buildtrace.work(integer, integer, integer, bigint) IS
    'Processes pending (deferred) pairs in committed batches, whole drawings at a time; with poll_ms, waits for more until max_seconds; any number may run at once.';

REVOKE ALL ON FUNCTION buildtrace._work_take(integer), buildtrace._work_next_batch(integer),
    buildtrace._work_lock_oldest(text), buildtrace._work_take_one(bigint),
    buildtrace._work_claim(bigint[]), buildtrace._work_fail(bigint[], text, text, text),
    buildtrace._work_one_by_one(bigint[]), buildtrace._work_process(bigint[]),
    buildtrace._work_lock_drawings(bigint[]) FROM PUBLIC;
REVOKE ALL ON PROCEDURE buildtrace.work(integer, integer, integer, bigint) FROM PUBLIC;

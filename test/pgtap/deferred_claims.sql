-- Deferred pairs' drawings are claimed for their tenant by the end of their
-- statement (src/claims.c): with statements nested in theirs (a versions
-- insert in the same query, whose trigger inserts pairs in a statement of
-- its own), with a trigger of the site's whose caught error aborts a
-- subtransaction meanwhile, and not for a statement rolled back to a
-- savepoint.
BEGIN;
SELECT plan(6);

CREATE ROLE dc_t1 NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE dc_t2 NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE dc_w1 NOLOGIN IN ROLE dc_t1, buildtrace_writer;
CREATE ROLE dc_w2 NOLOGIN IN ROLE dc_t2, buildtrace_writer;
SET LOCAL buildtrace.processing = deferred;

-- A versions insert in the same query: its trigger's statement ends first.
WITH v AS (INSERT INTO buildtrace.versions (drawing_id, payload)
           SELECT 'dc-version-' || g, '[]' FROM generate_series(1, 3) g RETURNING drawing_id)
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'dc-pair-' || substr(drawing_id, 12), '[]', '[]' FROM v;
SELECT results_eq(
    $$SELECT p.drawing_id, s.tenant FROM buildtrace.pairs p
      LEFT JOIN buildtrace.drawing_state s USING (drawing_id)
      WHERE p.drawing_id LIKE 'dc-pair-%' ORDER BY 1$$,
    $$VALUES ('dc-pair-1', ''), ('dc-pair-2', ''), ('dc-pair-3', '')$$,
    'the pairs'' drawings are claimed though a nested statement ended before theirs');

-- Nor does that let a pair into another tenant's drawing.
SET LOCAL ROLE dc_w2;
SET LOCAL buildtrace.tenant = 'dc_t2';
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('dc-of-t2', '[]', '[]');
SET LOCAL ROLE dc_w1;
SET LOCAL buildtrace.tenant = 'dc_t1';
SELECT throws_ok(
    $$WITH v AS (INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('dc-t1-version', '[]')
                 RETURNING drawing_id)
      INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) SELECT 'dc-of-t2', '[]', '[]' FROM v$$,
    '42501', 'drawing "dc-of-t2" belongs to another tenant',
    'a pair into another tenant''s drawing is refused, a nested statement or not');
RESET ROLE;
RESET buildtrace.tenant;

-- A trigger of the site's that catches an error: its subtransaction aborts
-- while the statement's drawings are noted.
CREATE TABLE pg_temp.dc_audit (drawing_id text PRIMARY KEY);
CREATE FUNCTION pg_temp.dc_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        INSERT INTO pg_temp.dc_audit VALUES (NEW.drawing_id);
    EXCEPTION WHEN unique_violation THEN NULL;
    END;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_dc_audit AFTER INSERT ON buildtrace.pairs
    FOR EACH ROW EXECUTE FUNCTION pg_temp.dc_audit_row();
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('dc-audit-1', '[]', '[]'), ('dc-audit-1', '[]', '[]'),
       ('dc-audit-2', '[]', '[]'), ('dc-audit-2', '[]', '[]');
DROP TRIGGER zz_dc_audit ON buildtrace.pairs;
SELECT results_eq(
    $$SELECT drawing_id FROM buildtrace.drawing_state WHERE drawing_id LIKE 'dc-audit-%' ORDER BY 1$$,
    $$VALUES ('dc-audit-1'), ('dc-audit-2')$$,
    'a subtransaction of another trigger aborting meanwhile loses no claim');

-- A statement rolled back to a savepoint claims nothing; the next one
-- claims its own drawings only.
SAVEPOINT before_failure;
SELECT throws_ok(
    $$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
      VALUES ('dc-rolled-back', '[]', '[]'), ('dc-of-t2', '[]', '[]')$$,
    '42501', NULL, 'a statement with another tenant''s drawing fails');
ROLLBACK TO SAVEPOINT before_failure;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('dc-after', '[]', '[]');
SELECT is_empty($$SELECT 1 FROM buildtrace.drawing_state WHERE drawing_id = 'dc-rolled-back'$$,
                'the failed statement''s drawing is not claimed');
SELECT isnt_empty($$SELECT 1 FROM buildtrace.drawing_state WHERE drawing_id = 'dc-after'$$,
                  'the next statement''s drawing is');

SELECT * FROM finish();
ROLLBACK;

-- Crash test checks (test/crash/run.sh): what pgbench acknowledged against
-- what the server holds after crash recovery, row by row. Variables: round
-- (the round just run) and crashed (true when that round ended in a crash).
--
-- acked: one row per committed transaction of the load, written in the same
-- transaction as its pair or version; id is that row's job_id.
-- ack_log: one row per transaction pgbench acknowledged (its -l log), with
-- the client's transaction number n, which run.sh also counts into acked.n.
-- One row per check; the last statement fails when any check fails.
\set ON_ERROR_STOP 1
CREATE TEMP TABLE crash_checks AS
WITH l AS (SELECT * FROM ack_log WHERE round = :round),
     a AS (SELECT * FROM acked WHERE round = :round),
     -- Committed transactions pgbench did not acknowledge, with the client's
     -- last acknowledged transaction number (0 when it has none).
     unacked AS (SELECT a.*, coalesce((SELECT max(l.n) FROM l WHERE l.client = a.client), 0) AS last_acked
                 FROM a WHERE NOT EXISTS (SELECT 1 FROM l WHERE (l.client, l.n) = (a.client, a.n))),
     p AS (SELECT * FROM buildtrace.pairs),
     v AS (SELECT * FROM buildtrace.versions)
SELECT * FROM (VALUES
 ('pgbench''s log numbers each client''s transactions 1..N',
  NOT EXISTS (SELECT 1 FROM l GROUP BY client HAVING min(n) <> 1 OR max(n) <> count(*)),
  format('%s transactions acknowledged to %s clients',
         (SELECT count(*) FROM l), (SELECT count(DISTINCT client) FROM l))),
 ('every acknowledged transaction is committed, as the same script',
  NOT EXISTS (SELECT 1 FROM l WHERE NOT EXISTS
              (SELECT 1 FROM a WHERE (a.client, a.n, a.script) = (l.client, l.n, l.script))),
  format('%s acknowledged transactions missing',
         (SELECT count(*) FROM l WHERE NOT EXISTS
          (SELECT 1 FROM a WHERE (a.client, a.n, a.script) = (l.client, l.n, l.script))))),
 ('committed but unacknowledged: only the transaction in flight per client, and only in a crash',
  NOT EXISTS (SELECT 1 FROM unacked WHERE n <> last_acked + 1 OR NOT :crashed),
  format('%s committed transactions whose acknowledgement was lost in the crash',
         (SELECT count(*) FROM unacked))),
 ('every acked row has its pair or version',
  NOT EXISTS (SELECT 1 FROM acked x
              WHERE (x.script = 'pairs' AND
                     (SELECT count(*) FROM p WHERE p.job_id = x.id::text AND p.from_version IS NULL) <> 1)
                 OR (x.script = 'versions' AND
                     (SELECT count(*) FROM v WHERE v.job_id = x.id::text) <> 1)),
  format('%s acked rows in all rounds', (SELECT count(*) FROM acked))),
 ('nothing is stored without its acked row',
  NOT EXISTS (SELECT 1 FROM p WHERE p.from_version IS NULL AND NOT EXISTS
              (SELECT 1 FROM acked x WHERE x.id::text = p.job_id AND x.script = 'pairs'))
  AND NOT EXISTS (SELECT 1 FROM v WHERE NOT EXISTS
              (SELECT 1 FROM acked x WHERE x.id::text = v.job_id AND x.script = 'versions'))
  AND NOT EXISTS (SELECT 1 FROM p JOIN v ON v.version_id = p.to_version
                  WHERE p.job_id IS DISTINCT FROM v.job_id),
  format('%s pairs submitted + %s versions stored (+ %s pairs made from versions)',
         (SELECT count(*) FROM p WHERE from_version IS NULL), (SELECT count(*) FROM v),
         (SELECT count(*) FROM p WHERE from_version IS NOT NULL)))
) AS t(check_name, ok, detail);

SELECT check_name, CASE WHEN ok THEN 'ok' ELSE 'FAILED' END AS result, detail FROM crash_checks;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM crash_checks WHERE NOT ok) THEN
        RAISE EXCEPTION 'crash test checks failed';
    END IF;
END $$;

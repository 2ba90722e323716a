-- The statements the service sends on PostgreSQL for the benchmark's writes, in the same mix
-- (seen in PostgreSQL's statement log). Each case goes round three steps, one write each: the
-- city returns it, the township answers the return, the township resubmits it. Each write carries
-- an Idempotency-Key, as the console sends with every write. The service reads the case with its
-- household, without a lock and outside any transaction (the step names the version it read), and
-- then sends the write as one statement, its own transaction: it moves the case if nobody moved
-- it since the read (an UPDATE in a CTE guarded by the version), appends the chained event (the
-- INSERT selecting from it) and, after setting the wait for a claim in flight, inserts the key's
-- record with the answer (about the size of the facts), all only when the move touched its case.
-- The resubmission (one write in three, :step = 3 here) reads the department data for the data
-- comparison before its write, and its write appends two events, the step's and the comparison's
-- (its state unchanged), with one move. Every step's move changes the state, so its UPDATE writes
-- a new entry into each of the case's indexes (never a HOT update). The facts are bound as a
-- parameter (:facts, read with the case: those of one of the service's own cases in the run, so
-- the same size and compressed alike), kept as json as the service keeps them (revision 0039).
-- Each client moves its own cases (:per of them), as each of the API's clients does. The literal
-- 'system:comparison' is written with its colon escaped: pgbench would take ':comparison' for a
-- variable. Run by bench/transitions.py with pgbench as the ceiling.
\set step random(1, 3)
\set n :client_id * :per + random(1, :per)
\set key random(1, 1000000000000)
SELECT c.id, c.household_id, c.area_code, c.channel, c.state, c.version AS v, c.workflow_version,
       c.policy_version, c.is_open, c.monitoring_type, c.facts, c.last_hash, c.opened_at,
       c.identification_due_at, c.measures_due_at, c.acceptance_due_at, c.updated_at,
       c.notice_ends_at, c.elimination_due_at, c.risk_types, c.due_at, c.due_kind,
       h.id, h.village_code, h.head_name, h.head_id_number_masked, h.head_id_digest, h.size,
       h.village_group
  FROM monitoring_case c JOIN household h ON h.id = c.household_id
 WHERE c.id = 'pgb-' || :n AND c.area_code LIKE '220281%' \gset
\if :step = 3
SELECT newest.id, theirs.dataset, theirs.id_masked, theirs.attributes,
       EXISTS (SELECT blind_index_alias.digest FROM blind_index_alias) AS rotated
  FROM (SELECT department_snapshot.id AS id
          FROM department_snapshot
          JOIN (SELECT dataset, max(imported_at) AS at FROM department_snapshot GROUP BY dataset)
            AS latest ON latest.dataset = department_snapshot.dataset
                     AND latest.at = department_snapshot.imported_at) AS newest
  LEFT OUTER JOIN (SELECT snapshot_id, dataset, id_masked, attributes
                     FROM department_record
                    WHERE id_digest = ANY (ARRAY[:head_id_digest])) AS theirs
    ON theirs.snapshot_id = newest.id;
WITH first AS (
  UPDATE monitoring_case
     SET state = CASE state WHEN 'township_verification' THEN 'city_confirmation'
                            ELSE 'township_verification' END,
         version = :v + 2, is_open = true, monitoring_type = NULL,
         facts = :facts::json,
         last_hash = '24b0897b1d955c3bb20346e5297163c9455a3855e99301f0a1b2c3d4e5f60718',
         measures_due_at = NULL, acceptance_due_at = NULL, notice_ends_at = NULL,
         elimination_due_at = NULL, risk_types = NULL, updated_at = now(),
         due_at = now() + interval '15 days', due_kind = 'identification'
   WHERE id = 'pgb-' || :n AND version = :v
  RETURNING id),
waited AS (SELECT set_config('lock_timeout', '250ms', true) AS lock_timeout FROM first),
kept AS (
  INSERT INTO idempotency_record (subject, method, path, key, request_sha256, created_at,
                                  status_code, response_headers, response_body)
  SELECT 'township.baishishan', 'POST', '/api/v1/cases/pgb-' || :n || '/actions/submit_to_city',
         'pgb-' || :client_id || '-' || :key, repeat('c', 64), now(), 200,
         '{"etag": "\"11\"", "content-type": "application/json"}'::jsonb,
         convert_to(:facts, 'UTF8')
    FROM waited)
INSERT INTO case_event (case_id, seq, name, from_state, to_state, actor_sub, actor_role,
                        actor_area, occurred_at, workflow_version, policy_version, payload,
                        prev_hash, hash)
SELECT id, :v + 1, 'submit_to_city', 'township_verification', 'city_confirmation',
       'township.baishishan', 'township_official', '220281102', now(), 'case-v1', 'jiaohe-2022.1',
       '{}'::jsonb,
       '24b0897b1d955c3bb20346e5297163c9455a3855e99301f0a1b2c3d4e5f60718',
       'e85e9936e11647cb7013aff88682b4bfdc04f74e432fb6a8ef11437f6ea8f9da'
  FROM first
UNION ALL
SELECT id, :v + 2, 'data_comparison', 'city_confirmation', 'city_confirmation',
       E'system\x3acomparison', 'system', '', now(), 'case-v1', 'jiaohe-2022.1',
       '{"findings": [{"id": "f1", "member": "**************001X", "dataset": "vehicles", "summary": "车辆登记: 1 辆", "contradicts": true}], "snapshots": ["ac0ffcb9-6bc9-4611-8af3-ea38c751cbb2"]}'::jsonb,
       '24b0897b1d955c3bb20346e5297163c9455a3855e99301f0a1b2c3d4e5f60718',
       'e85e9936e11647cb7013aff88682b4bfdc04f74e432fb6a8ef11437f6ea8f9da'
  FROM first;
\else
WITH first AS (
  UPDATE monitoring_case
     SET state = CASE state WHEN 'township_verification' THEN 'city_confirmation'
                            ELSE 'township_verification' END,
         version = :v + 1, is_open = true, monitoring_type = NULL,
         facts = :facts::json,
         last_hash = '24b0897b1d955c3bb20346e5297163c9455a3855e99301f0a1b2c3d4e5f60718',
         measures_due_at = NULL, acceptance_due_at = NULL, notice_ends_at = NULL,
         elimination_due_at = NULL, risk_types = NULL, updated_at = now(),
         due_at = now() + interval '15 days', due_kind = 'identification'
   WHERE id = 'pgb-' || :n AND version = :v
  RETURNING id),
waited AS (SELECT set_config('lock_timeout', '250ms', true) AS lock_timeout FROM first),
kept AS (
  INSERT INTO idempotency_record (subject, method, path, key, request_sha256, created_at,
                                  status_code, response_headers, response_body)
  SELECT 'bureau.jiaohe', 'POST', '/api/v1/cases/pgb-' || :n || '/actions/return_to_township',
         'pgb-' || :client_id || '-' || :key, repeat('c', 64), now(), 200,
         '{"etag": "\"11\"", "content-type": "application/json"}'::jsonb,
         convert_to(:facts, 'UTF8')
    FROM waited)
INSERT INTO case_event (case_id, seq, name, from_state, to_state, actor_sub, actor_role,
                        actor_area, occurred_at, workflow_version, policy_version, payload,
                        prev_hash, hash)
SELECT id, :v + 1, 'return_to_township', 'city_confirmation', 'township_verification',
       'bureau.jiaohe', 'city_bureau', '220281', now(), 'case-v1', 'jiaohe-2022.1',
       '{"reason": "补充材料"}'::jsonb,
       '24b0897b1d955c3bb20346e5297163c9455a3855e99301f0a1b2c3d4e5f60718',
       'e85e9936e11647cb7013aff88682b4bfdc04f74e432fb6a8ef11437f6ea8f9da'
  FROM first;
\endif

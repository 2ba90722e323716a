-- Cases for the pgbench ceiling: :ncases households and cases like the service's own, their
-- facts those of one of the service's cases in the run (bench/transition.sql writes back the
-- facts it read, as the service does, so they keep its size), and a record of each head in the
-- newest snapshot of each department dataset loaded, as the service's cases have (so the
-- resubmission's data comparison finds one, as in service).
INSERT INTO household (id, village_code, head_name, head_id_number_encrypted,
                       head_id_number_masked, head_id_digest, size, created_at)
SELECT 'pgbh-' || g, '220281102200', '王德福', 'sealed', '220281********0029',
       md5('pgb' || g) || md5('x' || g), 4, now()
  FROM generate_series(1, :ncases) g;
INSERT INTO monitoring_case (id, household_id, area_code, channel, state, version, workflow_version,
                             policy_version, is_open, monitoring_type, facts, last_hash, opened_at,
                             identification_due_at, updated_at)
SELECT 'pgb-' || g, 'pgbh-' || g, '220281102200', 'self_declared', 'city_confirmation', 1,
       'case-v1', 'jiaohe-2022.1', true, NULL,
       (SELECT facts FROM monitoring_case WHERE id NOT LIKE 'pgb-%' ORDER BY id LIMIT 1),
       repeat('0', 64), now(), now() + interval '15 days', now()
  FROM generate_series(1, :ncases) g;
INSERT INTO department_record (snapshot_id, dataset, id_digest, id_masked, attributes)
SELECT s.id, s.dataset, md5('pgb' || g) || md5('x' || g), '**************0029', '{"count": 1}'
  FROM generate_series(1, :ncases) g
  CROSS JOIN (SELECT DISTINCT ON (dataset) id, dataset
                FROM department_snapshot ORDER BY dataset, imported_at DESC) s;

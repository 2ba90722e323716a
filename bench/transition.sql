-- The statements one transition sends on PostgreSQL (return_to_township shown), as the
-- service sends them now (seen in PostgreSQL's statement log): the case read with its household
-- (no lock: the write is guarded by the version read), then one statement that moves the case
-- if nobody moved it first and appends the chained event (an UPDATE in a CTE, the INSERT
-- selecting from it), committed alone, with no BEGIN or COMMIT around it. The move changes the
-- state, as every transition does, so the UPDATE writes a new entry into each of the case's
-- indexes (never a HOT update). Each client moves its own cases (``:per`` of them), as each of
-- the API's clients does. The facts are json, as the service keeps them (revision 0039). Run by
-- bench/transitions.py with pgbench as the ceiling.
\set n :client_id * :per + random(1, :per)
SELECT c.id, c.household_id, c.area_code, c.channel, c.state, c.version AS v, c.workflow_version,
       c.policy_version, c.is_open, c.monitoring_type, c.facts, c.last_hash, c.opened_at,
       c.identification_due_at, c.measures_due_at, c.acceptance_due_at, c.updated_at,
       c.notice_ends_at, c.elimination_due_at, c.risk_types, c.due_at, c.due_kind,
       h.id, h.village_code, h.head_name, h.head_id_number_masked, h.head_id_digest, h.size,
       h.village_group
  FROM monitoring_case c JOIN household h ON h.id = c.household_id
 WHERE c.id = 'pgb-' || :n AND c.area_code LIKE '220281%' \gset
WITH first AS (
  UPDATE monitoring_case
     SET state = CASE state WHEN 'township_verification' THEN 'city_confirmation'
                            ELSE 'township_verification' END,
         version = :v + 1, is_open = true, monitoring_type = NULL,
         facts = '{"channel": "self_declared", "reports": [{"source": null, "channel": "self_declared", "reported_at": "2026-03-02T01:30:00+00:00"}], "returns": [{"at": "2026-03-08T01:30:00+00:00", "action": "return_to_township", "reason": "补充材料", "from_state": "city_confirmation"}], "measures": [], "opened_at": "2026-03-02T01:30:00+00:00", "procedures": {"elimination": {"notice": null, "review": null, "home_visit": null, "objections": {}}, "identification": {"notice": {"days": 5, "location": "村务公开栏", "published_at": "2026-03-02T01:30:00+00:00"}, "review": {"held_on": "2026-03-03", "present": 21, "procedure": "identification", "votes_for": 15, "abstentions": 2, "recorded_at": "2026-03-02T01:30:00+00:00", "votes_against": 4, "minutes_sha256": "224e3ec6c09bad0c70a7d0714d511f127de91c3077f47ac246f0bf8b4e87261b", "eligible_members": 30}, "home_visit": {"opinion": "建议纳入监测", "findings": "因病支出大, 收入骤减", "procedure": "identification", "visited_by": ["李乡长", "张干事"], "visited_on": "2026-03-12", "recorded_at": "2026-03-08T01:30:00+00:00"}, "objections": {}}}, "confirmed_at": null, "township_code": null, "classification": null, "commitment_form": {"signed_on": "2026-03-02", "recorded_at": "2026-03-02T01:30:00+00:00", "signatory_name": "王德福", "covered_members": [{"id_number_digest": "e343b139a2735bce14fe78d6b223ab6e97c6e161826fa7c780c3331cde3584d7", "id_number_masked": "220281********0027"}], "document_sha256": "97db759be4234ccd8147fdadb0b520e9da1ad328dce046bc252ed0d4f420bbb8", "signatory_is_proxy": false}}'::json,
         last_hash = '24b0897b1d955c3bb20346e5297163c9455a3855e99301f0a1b2c3d4e5f60718',
         measures_due_at = NULL, acceptance_due_at = NULL, notice_ends_at = NULL,
         elimination_due_at = NULL, risk_types = NULL, updated_at = now(),
         due_at = now() + interval '15 days', due_kind = 'identification'
   WHERE id = 'pgb-' || :n AND version = :v
  RETURNING id)
INSERT INTO case_event (case_id, seq, name, from_state, to_state, actor_sub, actor_role,
                        actor_area, occurred_at, workflow_version, policy_version, payload,
                        prev_hash, hash)
SELECT id, :v + 1, 'return_to_township', 'city_confirmation', 'township_verification',
       'bureau.jiaohe', 'city_bureau', '220281', now(), 'case-v1', 'jiaohe-2022.1',
       '{"reason": "补充材料"}'::jsonb,
       '24b0897b1d955c3bb20346e5297163c9455a3855e99301f0a1b2c3d4e5f60718',
       'e85e9936e11647cb7013aff88682b4bfdc04f74e432fb6a8ef11437f6ea8f9da'
  FROM first;

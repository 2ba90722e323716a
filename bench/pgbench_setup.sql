-- Cases for the pgbench ceiling: :ncases households and cases like the service's own.
INSERT INTO household (id, village_code, head_name, head_id_number_encrypted,
                       head_id_number_masked, head_id_digest, size, created_at)
SELECT 'pgbh-' || g, '220281102200', '王德福', 'sealed', '220281********0029',
       md5('pgb' || g) || md5('x' || g), 4, now()
  FROM generate_series(1, :ncases) g;
INSERT INTO monitoring_case (id, household_id, area_code, channel, state, version, workflow_version,
                             policy_version, is_open, monitoring_type, facts, last_hash, opened_at,
                             identification_due_at, updated_at)
SELECT 'pgb-' || g, 'pgbh-' || g, '220281102200', 'self_declared', 'city_confirmation', 1,
       'case-v1', 'jiaohe-2022.1', true, NULL, '{"channel": "self_declared", "reports": [{"source": null, "channel": "self_declared", "reported_at": "2026-03-02T01:30:00+00:00"}], "returns": [{"at": "2026-03-08T01:30:00+00:00", "action": "return_to_township", "reason": "补充材料", "from_state": "city_confirmation"}], "measures": [], "opened_at": "2026-03-02T01:30:00+00:00", "procedures": {"elimination": {"notice": null, "review": null, "home_visit": null, "objections": {}}, "identification": {"notice": {"days": 5, "location": "村务公开栏", "published_at": "2026-03-02T01:30:00+00:00"}, "review": {"held_on": "2026-03-03", "present": 21, "procedure": "identification", "votes_for": 15, "abstentions": 2, "recorded_at": "2026-03-02T01:30:00+00:00", "votes_against": 4, "minutes_sha256": "224e3ec6c09bad0c70a7d0714d511f127de91c3077f47ac246f0bf8b4e87261b", "eligible_members": 30}, "home_visit": {"opinion": "建议纳入监测", "findings": "因病支出大, 收入骤减", "procedure": "identification", "visited_by": ["李乡长", "张干事"], "visited_on": "2026-03-12", "recorded_at": "2026-03-08T01:30:00+00:00"}, "objections": {}}}, "confirmed_at": null, "township_code": null, "classification": null, "commitment_form": {"signed_on": "2026-03-02", "recorded_at": "2026-03-02T01:30:00+00:00", "signatory_name": "王德福", "covered_members": [{"id_number_digest": "e343b139a2735bce14fe78d6b223ab6e97c6e161826fa7c780c3331cde3584d7", "id_number_masked": "220281********0027"}], "document_sha256": "97db759be4234ccd8147fdadb0b520e9da1ad328dce046bc252ed0d4f420bbb8", "signatory_is_proxy": false}}'::jsonb, repeat('0', 64), now(),
       now() + interval '15 days', now()
  FROM generate_series(1, :ncases) g;

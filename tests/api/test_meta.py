"""nomadjail.api._meta: QueryMeta and WriteMeta read from X-Nomad-* headers."""

from __future__ import annotations

from nomadjail.api._meta import QueryMeta, WriteMeta, header, query_meta, write_meta


def test_query_meta_reads_every_header_and_turns_last_contact_into_ns():
    meta = query_meta({"X-Nomad-Index": "42", "X-Nomad-KnownLeader": "true",
                       "X-Nomad-LastContact": "3", "X-Nomad-NextToken": "web-2"})
    assert meta == QueryMeta(last_index=42, known_leader=True, last_contact=3_000_000,
                             next_token="web-2")


def test_header_names_match_in_any_case():
    headers = {"x-nomad-index": "7", "X-NOMAD-KNOWNLEADER": "true"}
    assert header(headers, "X-Nomad-Index") == "7"
    assert query_meta(headers) == QueryMeta(last_index=7, known_leader=True)


def test_missing_or_unreadable_values_read_as_zero_and_false():
    assert query_meta({}) == QueryMeta()
    assert header({}, "X-Nomad-Index") == ""
    meta = query_meta({"X-Nomad-Index": "soon", "X-Nomad-LastContact": "",
                       "X-Nomad-KnownLeader": "True"})
    assert meta == QueryMeta(last_index=0, known_leader=False, last_contact=0)


def test_write_meta_is_the_commit_index():
    assert write_meta({"X-Nomad-Index": "9", "X-Nomad-KnownLeader": "true"}) == WriteMeta(9)
    assert write_meta({"X-Nomad-Index": "x"}) == WriteMeta(0)

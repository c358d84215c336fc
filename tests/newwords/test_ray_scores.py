"""The pure pieces of scoring in the partitions (``ray_scores``): a row's characters and its
substring keys are the counter's own keys, and the partitions' top rows merge in the local order.
The whole path against the local one: tests/newwords/test_ray.py."""

from __future__ import annotations

from components.newwords.counting import merge, shard_tables
from components.newwords.ray_scores import chars_of, global_top, sub_key

TEXT = "阿奇霉素片治疗支原体肺炎。阿奇霉素片的用法用量，肺炎支原体感染的阿奇霉素片疗程。"


def test_characters_and_substring_keys_are_the_counters_keys():
    tables = shard_tables(TEXT, 8, chars=True)
    for n, t in enumerate(tables, 1):
        assert len(t["keys"]), n
        assert ("head" in t) == (n > 4)  # hashed keys carry their characters
        ids = chars_of(t, n)
        assert ids.shape == (len(t["keys"]), n)
        assert (sub_key(ids, 0, n) == t["keys"]).all(), n
        assert (ids[:, -1] == t["last"]).all(), n
        if n > 1:
            assert (sub_key(ids, 0, n - 1) == t["prefix"]).all(), n
            assert (sub_key(ids, 1, n) == t["suffix"]).all(), n
    # A merge keeps the characters of every key (its first row's, like the other columns).
    half = len(TEXT) // 2
    a, b = shard_tables(TEXT[:half], 6, chars=True), shard_tables(TEXT[half:], 6, chars=True)
    merged = merge([a[5], b[5]])
    assert (sub_key(chars_of(merged, 6), 0, 6) == merged["keys"]).all()
    assert "head" not in shard_tables(TEXT, 6)[5]  # the local counter does not pay for them


def test_global_top_keeps_the_local_order_on_ties():
    # (score, length, key, row): equal scores go by length, then key, as the local stable sort
    top = [
        (1.0, 3, 9, "c"),
        (2.0, 4, 1, "a"),
        (1.0, 2, 50, "b"),
        (1.0, 3, 4, "d"),
        (0.5, 2, 1, "e"),
    ]
    assert [r[3] for r in global_top(top, 4)] == ["a", "b", "d", "c"]
    assert [r[3] for r in global_top(top, 10)] == ["a", "b", "d", "c", "e"]
    assert global_top([], 3) == []

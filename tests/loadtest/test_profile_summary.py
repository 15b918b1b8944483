"""The gateway profiler's summary of a py-spy file; tests/loadtest/test_profile.py profiles a real gateway."""

from pathlib import Path

import pytest

from loadtest.profile import top_functions

pytestmark = pytest.mark.fast


def test_top_functions_share_samples_by_own_time_and_with_callees(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "main (a.py:1);serve (a.py:2);parse (b.py:3) 6\n"
        "main (a.py:1);serve (a.py:2);infer (c.py:4) 3\n"
        "main (a.py:1);idle (a.py:9) 1\n"
    )
    own, inclusive = top_functions(raw, count=10)
    assert own == [("parse (b.py:3)", 0.6), ("infer (c.py:4)", 0.3), ("idle (a.py:9)", 0.1)]
    # main is in every sample (the server's own stack) and is left out; serve holds parse and infer.
    assert inclusive[0] == ("serve (a.py:2)", 0.9)
    assert "main (a.py:1)" not in dict(inclusive)

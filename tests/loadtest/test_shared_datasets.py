"""The shared data sets load whole: every row of SST-2 dev, UCI (Yelp) and CR, with no line refused."""

import pytest
from support import SHARED_DIR, require_shared

from contract.labelled_data import load_tsv

pytestmark = pytest.mark.slow  # reads ../shared


@pytest.mark.parametrize(
    ("name", "rows"), [("sst2/dev.tsv", 872), ("uci/yelp_labelled.txt", 1000), ("cr/test.tsv", 377)]
)
def test_shared_data_sets_load_completely(name: str, rows: int) -> None:
    path = SHARED_DIR / "data" / name
    require_shared(path)
    assert len(load_tsv(path)) == rows

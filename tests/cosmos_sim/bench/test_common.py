import json

import pytest

from cosmos_sim.bench import run_benchmark
from cosmos_sim.bench.common import BenchResult, markdown_table, write_result


def test_write_result_has_the_documented_shape(tmp_path):
    res = BenchResult(
        name="toy",
        figures={"steps_per_s": 812.5},
        rows=[{"env": "a", "sps": 812.5}, {"env": "b"}],
        notes="method",
        command="cosmos-sim bench toy --out x",
    )
    jpath, mpath = write_result(res, tmp_path)
    data = json.loads(jpath.read_text())
    assert set(data) >= {"name", "figures", "rows", "machine", "command"}
    assert data["figures"] == {"steps_per_s": 812.5} and data["rows"][1] == {"env": "b"}
    assert (
        data["machine"]["load_avg_1min"] is not None
        and data["machine"]["cpu_count"] >= 1
        and data["command"].startswith("cosmos-sim bench")
    )
    md = mpath.read_text()
    assert "| env | sps |" in md and "| a | 812.5 |" in md and "| b |  |" in md and "method" in md


def test_markdown_table_formats_numbers():
    assert "1,234.6" in markdown_table([{"x": 1234.56}]) and "0.123" in markdown_table([{"x": 0.12345}])


def test_unknown_benchmark_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'nope'; available"):
        run_benchmark("nope", str(tmp_path))


def test_rows_with_cases_get_one_table_each(tmp_path):
    res = BenchResult(
        name="two", rows=[{"case": "a", "x": 1.0}, {"case": "b", "y": 2.0}, {"case": "a", "x": 3.0}]
    )
    md = write_result(res, tmp_path)[1].read_text()
    assert "## a" in md and "## b" in md
    assert md.index("| x |") < md.index("## b") < md.index("| y |")

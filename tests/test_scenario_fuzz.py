"""Generated scenario files, valid and broken: loading one either succeeds or raises a
ScenarioError whose every problem names a field (the CLI's exit 2), never another exception."""
import copy

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gscsim.cli import main
from gscsim.io import ScenarioError
from gscsim.run.scenario import expand, validate

BASE = {
    "name": "fuzz", "seed": 1,
    "dataset": {"name": "samples", "options": {"size": 64, "limit": 2}},
    "transceivers": [{"name": "softcast", "options": {"chunks_per_side": 4}}],
    "channels": [{"name": "awgn"}],
    "sweep": {"snr_db": [0, 10], "cbr": ["1/12"]},
    "metrics": ["psnr"], "batch_size": 2,
}
PATHS = [("name",), ("seed",), ("dataset",), ("dataset", "name"), ("dataset", "options"),
         ("transceivers",), ("channels",), ("sweep",), ("sweep", "snr_db"), ("sweep", "cbr"),
         ("metrics",), ("batch_size",), ("device",), ("output",), ("timing",), ("keep_frames",),
         ("sweep", "stream_snr_db"), ("sweep", "users"), ("sweep", "cross_at")]
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 100), st.floats(allow_nan=True),
    st.text(max_size=12), st.lists(st.one_of(st.integers(-20, 20), st.floats(-30, 30),
                                             st.text(max_size=5)), max_size=4),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
    st.sampled_from(["1/48", "1/0", "-1", "awgn", "softcast", "x" * 200, "..", "cuda"]))
MUTATION = st.tuples(st.sampled_from(["set", "drop", "extra"]), st.sampled_from(PATHS), VALUES)


def mutate(raw: dict, mutations) -> dict:
    out = copy.deepcopy(raw)
    for kind, path, value in mutations:
        parent = out
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                parent[key] = {}
            parent = parent[key]
        if kind == "set":
            parent[path[-1]] = value
        elif kind == "drop":
            parent.pop(path[-1], None)
        else:
            parent[f"unknown_{path[-1]}"] = value
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MUTATION, max_size=4))
@example([("set", ("seed",), [])])                        # found by this test: no trials
def test_generated_scenarios_load_or_name_their_fields(mutations):
    raw = mutate(BASE, mutations)
    try:
        scenario = validate(raw)
    except ScenarioError as err:
        assert err.problems and all(isinstance(path, str) and message
                                    for path, message in err.problems), err
        return
    assert expand(scenario)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(MUTATION, min_size=1, max_size=3))
def test_the_cli_exits_2_with_a_message_never_a_traceback(tmp_path, capsys, mutations):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(mutate(BASE, mutations)))
    code = main(["validate", "--schema-only", str(path)])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert err.startswith(f"error: {path}")

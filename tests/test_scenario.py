import copy

import pytest
import yaml
from conftest import REPO

from gscsim.cli import main
from gscsim.io import ScenarioError
from gscsim.run.scenario import expand, load, seed_key, trial_id, validate

# Every shipped run scenario (ber_ldpc.yaml is a `gscsim ber` file).
REPO_SCENARIOS = sorted(f"scenarios/{p.name}" for p in (REPO / "scenarios").glob("*.yaml")
                        if p.name != "ber_ldpc.yaml")


@pytest.mark.parametrize("path", REPO_SCENARIOS)
def test_shipped_scenarios_validate(path):
    scenario = load(REPO / path)
    assert expand(scenario)


def test_extra_draws_repeat_fig3_trials_with_other_seeds():
    """paper_fig3_draws holds paper_fig3's TarGSC trials at -13 and -10 dB: with fig3's seed
    in place of its own, each trial draws exactly what fig3's did."""
    import dataclasses

    from conftest import REPO

    fig3 = load(REPO / "scenarios/paper_fig3.yaml")
    draws = load(REPO / "scenarios/paper_fig3_draws.yaml")
    fig3_keys = {seed_key(fig3, t) for t in expand(fig3)}
    (fig3_seed,) = fig3.seeds
    trials = expand(draws)
    assert fig3_seed not in {t.seed for t in trials} and len(trials) == 5 * 2 * 2
    for t in trials:
        assert seed_key(draws, dataclasses.replace(t, seed=fig3_seed)) in fig3_keys


def test_expansion_covers_every_combination(tiny_scenario):
    trials = expand(validate(tiny_scenario))
    assert len(trials) == 1 * 2 * 2 * 2
    assert {t.cbr for t in trials} == {1 / 12, 1 / 6}
    scenario = validate(tiny_scenario)
    assert len({trial_id(scenario, t) for t in trials}) == len(trials)


def test_cross_sweep_runs_the_snr_line_and_the_cbr_line(tiny_scenario, tmp_path):
    from gscsim.io import read_csv
    from gscsim.run.runner import run_loaded

    tiny_scenario["channels"] = [{"name": "awgn"}]
    tiny_scenario["sweep"] = {"snr_db": [0, 5, 10], "cbr": ["1/24", "1/12", "1/6"],
                              "cross_at": {"snr_db": 10, "cbr": "1/12"}}
    scenario = validate(tiny_scenario)
    points = [(t.snr_db, t.cbr) for t in expand(scenario)]
    assert points == [(0, 1 / 12), (5, 1 / 12), (10, 1 / 12), (10, 1 / 24), (10, 1 / 6)]
    out = run_loaded(scenario, tmp_path / "out", progress=False)
    assert len(read_csv(out / "summary.csv")) == 5
    assert {p.name for p in (out / "plots").glob("*.png")} == {
        f"{m}_vs_{x}.png" for m in ("psnr", "ssim") for x in ("snr_db", "cbr")}
    tiny_scenario["sweep"]["cross_at"] = {"snr_db": 3, "cbr": "1/12"}
    with pytest.raises(ScenarioError, match="cross_at.snr_db must be one of snr_db"):
        validate(tiny_scenario)


def test_option_sweeps_become_trials_and_columns(tiny_scenario):
    tiny_scenario["transceivers"][0]["sweep"] = {"meta_repetition": [2, 4, 8]}
    trials = expand(validate(tiny_scenario))
    assert len(trials) == 3 * 2 * 2 * 2
    assert {t.keys()["softcast.meta_repetition"] for t in trials} == {2, 4, 8}
    tiny_scenario["channels"][1]["sweep"] = {"pilots_per_block": [2, 4]}
    tiny_scenario["channels"][1]["options"] = {"csi": "pilots"}
    trials = expand(validate(tiny_scenario))
    assert len(trials) == 3 * (1 + 2) * 2 * 2
    assert {t.channel_options.get("pilots_per_block") for t in trials} == {None, 2, 4}


def _problems(raw) -> str:
    with pytest.raises(ScenarioError) as info:
        validate(raw, source="bad.yaml")
    return str(info.value)


def test_unknown_transceiver_lists_known_ones(tiny_scenario):
    tiny_scenario["transceivers"][0]["name"] = "nosuch"
    message = _problems(tiny_scenario)
    assert "bad.yaml" in message
    assert "transceivers[0].name: unknown transceiver 'nosuch'; known:" in message
    assert "softcast" in message


def test_every_problem_is_reported_with_its_field_path(tiny_scenario):
    raw = copy.deepcopy(tiny_scenario)
    raw["sweep"]["cbr"] = ["1/12", "abc"]
    raw["batch_size"] = 0
    raw["colour"] = "red"
    del raw["dataset"]
    message = _problems(raw)
    assert "4 problems" in message
    assert "sweep.cbr: cbr values are numbers or fractions" in message
    assert "batch_size: Input should be greater than or equal to 1" in message
    assert "colour: unknown field" in message
    assert "dataset: required field is missing" in message


def test_plugin_options_are_validated(tiny_scenario):
    tiny_scenario["channels"][1]["options"] = {"equaliser": "zf"}
    tiny_scenario["transceivers"][0]["sweep"] = {"chunks_per_side": [4, 0]}
    message = _problems(tiny_scenario)
    assert "channels[1].options.equaliser: unknown field" in message
    assert "transceivers[0].options.chunks_per_side: Input should be greater than or equal to 1" \
        in message


def test_unknown_metric_and_duplicate_labels(tiny_scenario):
    tiny_scenario["metrics"] = ["psnr", "vmaf"]
    tiny_scenario["transceivers"].append({"name": "softcast"})
    message = _problems(tiny_scenario)
    assert "metrics[1]: unknown metric 'vmaf'" in message
    assert "share a label" in message


def test_validate_command_reports_file_and_field(tmp_path, tiny_scenario, capsys):
    tiny_scenario["channels"][0]["name"] = "awgnn"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "channels[0].name: unknown channel 'awgnn'" in err
    assert "rayleigh_block" in err


def test_malformed_yaml_names_the_file(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="(?s)x.yaml.*not valid YAML.*line 1"):
        load(path)

"""The generated reference: every scenario field and plugin option documented, and
`gscsim list NAME` showing a plugin's options from the same models."""
import pytest

from gscsim import registry
from gscsim.cli import main
from gscsim.reference import _nested, options_text, plugin_reference, rows, scenario_reference
from gscsim.run.scenario import Scenario


def _scenario_models():
    seen, queue = [], [Scenario]
    while queue:
        model = queue.pop(0)
        if model not in seen:
            seen.append(model)
            queue += [m for info in model.model_fields.values() for m in _nested(info.annotation)]
    return seen


def test_every_scenario_field_has_a_meaning_in_the_reference():
    text = scenario_reference()
    for model in _scenario_models():
        for name, _, _, meaning in rows(model):
            assert meaning, f"{model.__name__}.{name} has no description"
            assert f"| `{name}` |" in text


@pytest.mark.parametrize("kind", list(registry.KINDS))
def test_every_plugin_option_has_a_meaning(kind):
    text = plugin_reference(kind)
    for name in registry.available(kind):
        assert f"### `{name}`" in text
        for field, _, _, meaning in rows(registry.resolve(kind, name).Options):
            assert meaning, f"{kind} {name}: option {field} has no description"


def test_list_name_shows_options_types_and_defaults(capsys):
    assert main(["list", "softcast"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("softcast (transceiver): ")
    assert "chunks_per_side" in out and "int, default" in out
    assert "awgn (channel)" in options_text("awgn") and "no options" in options_text("awgn")
    assert main(["list", "nonesuch"]) == 1
    assert "no plugin named 'nonesuch'; known: awgn" in capsys.readouterr().err

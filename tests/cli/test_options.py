"""The command line is generated from the recipes' configs: options, types, defaults, help."""

import dataclasses
import json
import typing
from pathlib import Path

import docstring_parser
import pytest

from mdlkit import __version__
from mdlkit.cli import COMMANDS, main


@pytest.mark.parametrize("name", list(COMMANDS))
def test_help_lists_every_config_field_with_its_documentation(
    name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # one line per option, so texts can be found whole
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    config = COMMANDS[name].config
    hints = typing.get_type_hints(config)
    docs = {  # a subclass's fields keep their parents' documentation
        p.arg_name: p.description
        for cls in reversed(config.__mro__)
        if dataclasses.is_dataclass(cls)
        for p in docstring_parser.parse_from_object(cls).params
    }
    for f in dataclasses.fields(config):
        option = "--" + f.name.replace("_", "-")
        if hints[f.name] is bool and f.default is True:
            option = "--no-" + option[2:]
        if f.default is dataclasses.MISSING:
            option = f"\n  {f.name} "  # a positional argument
        if f.name in COMMANDS[name].positional:
            option = f"\n  {f.name.upper()} "  # an optional positional argument
        assert option in out
        assert docs[f.name] and docs[f.name] in out  # the string under the field is its help
    assert "--out" in out


def test_generated_options_reach_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "cl"
    argv = ["codelength", "--data", "digits", "--codes", "uniform", "--hidden", "16,8"]
    argv += ["--threads", "1", "--workers", "2"]
    assert main([*argv, "--no-verify", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "description length of 1,077 digits labels" in printed and str(out) in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "codelength.png",
        "config.json",
        "results.json",
        "table.txt",
    ]
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["hidden"] == [16, 8] and config["codes"] == ["uniform"]
    assert config["verify"] is False
    assert (config["threads"], config["workers"]) == (1, 2)  # a decoder elsewhere needs threads
    results = json.loads((out / "results.json").read_text())
    assert results["codes"]["uniform"]["ratio_to_uniform"] == 1.0
    assert "uniform" in (out / "table.txt").read_text()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mdlkit {__version__}"

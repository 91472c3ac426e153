"""`livemarket --help` and every command's help read whole in an 80-column terminal."""

import click
import pytest
import typer
from typer.testing import CliRunner

from livemarket.cli import app

COLUMNS = 80
GROUP = typer.main.get_command(app)
COMMANDS = sorted(GROUP.commands)


def render(args: list[str]) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": str(COLUMNS)}, terminal_width=COLUMNS)
    assert result.exit_code == 0, result.output
    return result.output


def squeezed(text: str) -> str:
    """Text without white space: wrapping (even inside a hyphenated word) changes nothing."""
    return "".join(text.split())


def first_sentence(help_text: str) -> str:
    paragraph = " ".join(help_text.split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


def test_every_command_is_checked():
    assert {"run", "sweep", "figures", "validate", "calibrate", "explore"} <= set(COMMANDS)


def test_the_command_list_gives_each_summary_whole():
    text = render([])
    assert max(map(len, text.splitlines())) <= COLUMNS
    assert "…" not in text and "..." not in text.split("Commands:")[1], text
    for name in COMMANDS:
        summary = first_sentence(GROUP.commands[name].help or "")
        assert summary and squeezed(summary) in squeezed(text), (name, summary)


@pytest.mark.parametrize("name", COMMANDS)
def test_help_fits_80_columns_and_no_option_help_is_cut(name):
    text = render([name])
    wide = [line for line in text.splitlines() if len(line) > COLUMNS]
    assert not wide, wide
    assert "…" not in text
    command = GROUP.commands[name]
    for param in command.params:
        if isinstance(param, click.Option | click.Argument) and getattr(param, "help", None):
            assert squeezed(param.help) in squeezed(text), (name, param.name, param.help)
        for opt in getattr(param, "opts", []):
            assert opt in text, (name, opt)
    paragraphs = [" ".join(p.split()) for p in (command.help or "").split("\n\n")]
    for paragraph in paragraphs:  # every paragraph re-wrapped, none cut, none left with hard breaks
        assert squeezed(paragraph) in squeezed(text), (name, paragraph)

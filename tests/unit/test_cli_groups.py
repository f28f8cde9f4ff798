"""``popreg`` builds only the command group it runs; building more later adds each group once."""

from __future__ import annotations

import typer.main

from popreg import cli


def _names() -> list[str]:
    group = typer.main.get_group(cli.build())
    return sorted(group.commands)


def test_a_partial_command_grows_into_the_whole_one_without_repeating_a_group() -> None:
    cli.build("import")
    names = _names()
    assert names == sorted({*cli.GROUPS, "synth", "db", "serve", "demo"})
    assert len(names) == len(set(names))
    assert len(cli.core.registered_groups) == len({group.name for group in cli.core.registered_groups})

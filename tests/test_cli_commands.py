"""The command line loads a command's module only when that command runs."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import digest.cli
from digest.cli import COMMAND_MODULES, main


def test_every_command_module_is_in_the_map_and_registers_exactly_its_commands():
    modules = {m.name for m in pkgutil.iter_modules(digest.cli.__path__) if m.name.endswith("_commands")}
    assert modules == set(COMMAND_MODULES.values())  # a new command module must be listed
    for module in modules:
        importlib.import_module(f"digest.cli.{module}")
    assert set(main.commands) == set(COMMAND_MODULES)


def test_report_runs_without_loading_the_render_and_send_stack():
    probe = ("import sys; from click.testing import CliRunner; from digest.cli import main; "
             "result = CliRunner().invoke(main, ['report', '--help']); assert result.exit_code == 0, result.output; "
             "print(sorted(m for m in ('digest.render', 'digest.deliver.plan', 'digest.ingest', 'premailer', "
             "'mjml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

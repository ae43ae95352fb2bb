"""Every hookspec is documented (docstring and docs/) and exercised by a test, as datasette does."""

import datetime as dt
import inspect
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gdpo.storage import hookimpl, hookspecs, open_storage
from gdpo.storage.memory import MemoryBackend
from gdpo.storage.plugins import get_plugin_manager

DOCS = Path(__file__).parent.parent / "docs" / "DATABASE_ARCHITECTURE.md"
HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("gdpo_"))


def test_there_are_hooks():
    assert "gdpo_register_storage_backends" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_docstring(hook):
    assert (getattr(hookspecs, hook).__doc__ or "").strip()


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    assert f"`{hook}(" in DOCS.read_text(), f"{hook} is not documented in {DOCS.name}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    tests = "".join(p.read_text() for p in Path(__file__).parent.rglob("test_*.py") if p.name != "test_hookspecs.py")
    tests += inspect.getsource(TestHooksWork)
    assert f"def {hook}(" in tests, f"no test implements {hook}"


class TestHooksWork:
    async def test_gdpo_register_storage_backends(self, tmp_path):
        class Plugin:
            @hookimpl
            def gdpo_register_storage_backends(self, register):
                register("hooktest", MemoryBackend, description="registered by a test")

        pm = get_plugin_manager()
        pm.register(Plugin(), name="hooktest")
        try:
            async with open_storage({"backend": "hooktest"}) as storage:
                ts = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
                await storage.write("system_state", [{"ts": ts, "state": "starting"}])
                assert (await storage.latest("system_state")).state == "starting"
        finally:
            pm.unregister(name="hooktest")

    def test_gdpo_register_commands(self):
        class Plugin:
            @hookimpl
            def gdpo_register_commands(self, cli):
                @cli.command(name="hello-from-plugin")
                def hello():
                    click.echo("hello")

        from gdpo.cli import cli

        pm = get_plugin_manager()
        pm.register(Plugin(), name="cmdtest")
        try:
            pm.hook.gdpo_register_commands(cli=cli)
            result = CliRunner().invoke(cli, ["hello-from-plugin"])
            assert result.exit_code == 0 and result.output == "hello\n"
        finally:
            pm.unregister(name="cmdtest")
            cli.commands.pop("hello-from-plugin", None)


@pytest.mark.parametrize("kind", __import__("gdpo.storage", fromlist=["KIND_NAMES"]).KIND_NAMES)
def test_every_field_of_every_kind_is_documented(kind):
    from gdpo.storage.records import KINDS

    text = DOCS.read_text()
    section = text.split(f"### `{kind}`", 1)[1].split("\n### ", 1)[0]
    for f in KINDS[kind].fields:
        assert f"| `{f.name}` |" in section, f"{kind}.{f.name} is not documented"

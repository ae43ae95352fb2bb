"""A starting configuration written from the schemas themselves (``gdpo config init``).

Every section and key appears with its help text, its choices or bounds and its default. The
few values a household must choose are set; everything else is commented out, so the file
stays valid as defaults change. Generated from the same schemas that validate the config, it
can never name a key that does not exist.
"""

from __future__ import annotations

from typing import Any

import yaml

from gdpo.settings_schema import Option

#: The values every installation should look at, written uncommented.
CHOSEN = {
    ("inverter", "host"): "your inverter's address, e.g. 192.168.1.50 (127.0.0.1: the simulator)",
    ("tariffs", "tariff"): "your distribution tariff",
    ("battery", "capacity_kwh"): "usable capacity of your battery",
    ("data_storage", "backend"): "where everything is stored",
}

HEADER = """\
# gdpo configuration, written by `gdpo config init`.
#
# Set the values that are not commented out for your installation; every other key shows its
# default and can be uncommented to change it. `gdpo config check {path}` validates this file
# and prints every effective value and where it came from. Docs: docs/COORDINATOR.md (rules),
# docs/PRICES.md (tariffs), docs/storage-service.md (storage), docs/INVERTER.md (inverter).
"""


def _scalar(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip()
    return text[:-4].strip() if text.endswith("\n...") or text.endswith(" ...") else text.replace("\n...", "")


def _describe(spec: Option) -> str:
    bits = [spec.help] if spec.help else []
    if spec.choices:
        bits.append("one of: " + ", ".join(str(c) for c in spec.choices))
    if spec.min is not None or spec.max is not None:
        bits.append(f"range {'' if spec.min is None else spec.min:g}..{'' if spec.max is None else spec.max:g}"
                    if isinstance(spec.min, (int, float)) and isinstance(spec.max, (int, float))
                    else f"at least {spec.min:g}" if spec.min is not None else f"at most {spec.max:g}")
    if spec.env:
        bits.append(f"environment: {spec.env}")
    return "; ".join(bits)


def _lines(schema: dict[str, Any], path: tuple[str, ...]) -> list[tuple[int, str, bool]]:
    """(depth, text, active) per line: inactive lines are written commented out."""
    depth = len(path)
    out: list[tuple[int, str, bool]] = []
    for key, spec in schema.items():
        here = (*path, key)
        if spec is None:  # an unavailable plugin's section
            continue
        if isinstance(spec, dict):
            out.append((depth, f"{key}:", any(c[:len(here)] == here for c in CHOSEN)))
            out += _lines(spec, here)
            continue
        about = _describe(spec)
        if spec.secret:
            about = (about + "; " if about else "") + "a secret: prefer a file or the environment"
        if here in CHOSEN:
            about = f"{CHOSEN[here]} ({about})" if about else CHOSEN[here]
        if about:
            out.append((depth, f"# {about}", False))
        out.append((depth, f"{key}: {_scalar(spec.default)}", here in CHOSEN))
    return out


def render(path: str) -> str:
    """The whole starting configuration as YAML text (``path`` is named in its header)."""
    from gdpo.config import section_schemas

    schemas = {k: v for k, v in section_schemas().items() if v is not None}
    order = ["inverter", "tariffs", "battery", "data_storage"]
    body: list[str] = []
    for name in order + [n for n in schemas if n not in order]:
        if name not in schemas:
            continue
        body.append("")
        for depth, text, active in [(0, f"{name}:", any(c[0] == name for c in CHOSEN))] + _lines(schemas[name], (name,)):
            pad = "  " * depth
            body.append(f"{pad}{text}" if active or text.startswith("#") else f"{pad}# {text}")
    return HEADER.format(path=path) + "\n".join(body) + "\n"

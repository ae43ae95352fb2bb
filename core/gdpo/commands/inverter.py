"""``gdpo inverter read``: read the inverter once and show gdpo's converted fields beside the
``goodwe`` library's raw values (signs explained, unknowns shown as such)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click


async def _read(host: str, port: int, family: str, timeout: float, retries: int) -> dict[str, Any]:
    from gdpo.inverter.gateway import InverterGateway
    from gdpo.inverter.readout import readout

    gateway = InverterGateway(host, port, family=family, timeout=timeout, retries=retries)
    snapshot = await gateway.read_snapshot()
    return readout(snapshot, host=host, port=port, family=family, model=gateway.model_name,
                   serial=gateway.serial_number)


@click.group("inverter")
def inverter_group() -> None:
    """Talk to the GoodWe inverter directly (setup and diagnosis)."""


@inverter_group.command("read")
@click.option("--host", required=True, help="The inverter's address (IP or name).")
@click.option("--port", default=8899, show_default=True, type=click.IntRange(1, 65535),
              help="8899: Modbus RTU over UDP; any other port: Modbus/TCP.")
@click.option("--family", default="ET", show_default=True, help="goodwe inverter family (no discovery).")
@click.option("--timeout", default=1.0, show_default=True, type=click.FloatRange(min=0.05, max=30),
              help="Seconds to wait for each answer.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0, 10), help="Retries per request.")
@click.option("--json", "as_json", is_flag=True, help="Print the reading as JSON.")
def read_command(host: str, port: int, family: str, timeout: float, retries: int, as_json: bool) -> None:
    """Read once; print each converted field beside the raw values it comes from.

    Exit status 1 when the inverter does not answer or rejects the read."""
    from gdpo.inverter.gateway import InverterGatewayError
    from gdpo.inverter.readout import format_readout

    try:
        report = asyncio.run(_read(host, port, family.upper(), timeout, retries))
    except InverterGatewayError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(1) from None
    click.echo(json.dumps(report, indent=2) if as_json else format_readout(report))


def register(cli: click.Group) -> None:
    """Add ``gdpo inverter`` to the CLI."""
    cli.add_command(inverter_group)

"""``gdpo simulator``: run the built-in GoodWe ET simulator on a loopback address."""

from __future__ import annotations

import asyncio
import signal

import click


async def _serve(host: str, port: int, speed: float, capacity_kwh: float, seed: int | None) -> None:
    from gdpo.inverter.simulator import start_simulator

    server = await start_simulator(host, port, speed=speed, capacity_kwh=capacity_kwh, seed=seed)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ident = server.device.identity
    protocol = "Modbus RTU over UDP + AA55 discovery" if server.transport_name == "udp" else "Modbus/TCP"
    click.echo(f"GoodWe ET simulator ({ident.model_name}, S/N {ident.serial_number}) listening on "
               f"{server.transport_name}://{server.host}:{server.port} ({protocol}), speed x{speed:g}, "
               f"battery {capacity_kwh:g} kWh, seed {seed if seed is not None else 'random'}", )
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await server.stop()


@click.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Loopback address to listen on (127.0.0.0/8 or ::1 only).")
@click.option("--port", default=8899, show_default=True, type=click.IntRange(0, 65535),
              help="8899: Modbus RTU over UDP with AA55 discovery; any other port (0: ephemeral): Modbus/TCP.")
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.001, max=100000),
              help="Simulated seconds per real second.")
@click.option("--capacity-kwh", default=10.0, show_default=True, type=click.FloatRange(min=0.5, max=200),
              help="Battery capacity, kWh.")
@click.option("--seed", default=None, type=int, help="Random seed (weather and load noise) for repeatable runs.")
def simulator_command(host: str, port: int, speed: float, capacity_kwh: float, seed: int | None) -> None:
    """Run a simulated GoodWe ET inverter that the goodwe library (and gdpo) can talk to.

    Prints one line when it listens and runs until Ctrl+C or SIGTERM."""
    from gdpo.inverter.simulator import check_loopback

    try:
        host = check_loopback(host)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host") from None
    asyncio.run(_serve(host, port, speed, capacity_kwh, seed))


def register(cli: click.Group) -> None:
    """Add ``gdpo simulator`` to the CLI."""
    cli.add_command(simulator_command)

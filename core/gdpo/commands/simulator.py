"""``gdpo simulator``: run the built-in GoodWe ET simulator on a loopback address."""

from __future__ import annotations

import asyncio
import signal

import click


async def _serve(host: str, port: int, speed: float, capacity_kwh: float, seed: int | None, *,
                 no_meter: bool = False, battery2_kwh: float = 0.0) -> None:
    from gdpo.inverter.simulator import start_simulator

    server = await start_simulator(host, port, speed=speed, capacity_kwh=capacity_kwh, seed=seed,
                                   no_meter=no_meter, battery2_kwh=battery2_kwh)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ident = server.device.identity
    protocol = "Modbus RTU over UDP + AA55 discovery" if server.transport_name == "udp" else "Modbus/TCP"
    battery = f"battery {capacity_kwh:g} kWh" + (f" + {battery2_kwh:g} kWh" if battery2_kwh > 0 else "")
    click.echo(f"GoodWe ET simulator ({ident.model_name}, S/N {ident.serial_number}) listening on "
               f"{server.transport_name}://{server.host}:{server.port} ({protocol}), speed x{speed:g}, "
               f"{battery}, {'no meter data' if no_meter else 'meter data'}, "
               f"seed {seed if seed is not None else 'random'}")
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
@click.option("--no-meter", is_flag=True, help="No meter data: the meter block reads all zeros.")
@click.option("--battery2-kwh", default=0.0, show_default=True, type=click.FloatRange(min=0, max=200),
              help="A second battery of this capacity (0: none); the inverter is then a GW25K-ET.")
def simulator_command(host: str, port: int, speed: float, capacity_kwh: float, seed: int | None,
                      no_meter: bool, battery2_kwh: float) -> None:
    """Run a simulated GoodWe ET inverter that the goodwe library (and gdpo) can talk to.

    Prints one line when it listens and runs until Ctrl+C or SIGTERM."""
    from gdpo.inverter.simulator import check_loopback

    try:
        host = check_loopback(host)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host") from None
    asyncio.run(_serve(host, port, speed, capacity_kwh, seed, no_meter=no_meter, battery2_kwh=battery2_kwh))


def register(cli: click.Group) -> None:
    """Add ``gdpo simulator`` to the CLI."""
    cli.add_command(simulator_command)

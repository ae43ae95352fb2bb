"""A GoodWe ET hybrid inverter simulator that the unmodified ``goodwe`` library talks to.

Standard library only. Typical use (tests, ``gdpo run --simulate``, ``gdpo simulator``)::

    sim = SimulatedInverter(SimulatorConfig(seed=1, speed=60))
    async with SimulatorServer(sim, "127.0.0.2", 8899) as server:
        inverter = await goodwe.connect("127.0.0.2", 8899, family="ET")
        sim.faults.drop_every = 3          # fault injection
        sim.advance(3600)                  # one simulated hour later
        sim.write_log                      # every accepted write

Modules: ``frames`` (wire formats), ``registers`` (address map and encoders), ``control``
(what the settings make the inverter do), ``physics`` (PV, load, battery, grid), ``losses``
(the inverter's efficiency curve), ``publish`` (plant state into registers),
``device`` (the inverter as registers, clock, faults, write log), ``server`` (UDP and TCP).
"""

from gdpo.inverter.simulator.device import (Faults, SimClock, SimulatedInverter, SimulatorConfig,
                                            WriteLogEntry)
from gdpo.inverter.simulator.losses import EfficiencyCurve
from gdpo.inverter.simulator.physics import PlantConfig
from gdpo.inverter.simulator.registers import Identity
from gdpo.inverter.simulator.server import UDP_PORT, SimulatorServer, check_loopback

__all__ = ["EfficiencyCurve", "Faults", "Identity", "PlantConfig", "SimClock", "SimulatedInverter", "SimulatorConfig",
           "SimulatorServer", "UDP_PORT", "WriteLogEntry", "check_loopback", "start_simulator"]


async def start_simulator(host: str = "127.0.0.1", port: int = UDP_PORT, *, speed: float = 1.0,
                          capacity_kwh: float = 10.0, seed: int | None = None, start=None,
                          no_meter: bool = False, battery2_kwh: float = 0.0,
                          timezone: str = "Europe/Warsaw") -> SimulatorServer:
    """Make a simulated inverter and start serving it; ``server.device`` is the inverter.

    ``no_meter``: the meter block reads all zeros (an inverter without meter data).
    ``battery2_kwh`` > 0: a second battery of that capacity (the inverter is then a GW25K-ET,
    the model family the ``goodwe`` library reads a second battery from)."""
    plant = PlantConfig(capacity_kwh=capacity_kwh, has_meter=not no_meter, battery2_capacity_kwh=battery2_kwh)
    config = SimulatorConfig(plant=plant, speed=speed, seed=seed, start=start, timezone=timezone)
    return await SimulatorServer(SimulatedInverter(config), host, port).start()

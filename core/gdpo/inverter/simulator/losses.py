"""The simulated inverter's conversion losses: an efficiency curve between its DC and AC sides.

The DC side is a bus fed by the PV strings and the battery's DC-DC stage; the AC side is the
inverter's grid port (``total_inverter_power``). Losses of the AC stage follow the usual
three-term model of an inverter datasheet curve::

    loss(P_ac) = standby + linear * |P_ac| + quadratic * P_ac**2 / rated

which with the defaults gives 94-97 % between 0.5 and 10 kW, peaking near 96.7 % at about a
third of rated power, and falling off towards low power (the standby draw dominates: at zero
DC power the inverter draws ``standby_w`` from the grid). The battery stage loses a fixed
fraction of the battery power each way. GoodWe signs: battery > 0 discharging, AC > 0 out.
"""

from __future__ import annotations

from dataclasses import dataclass

_ITERATIONS = 8   # fixed-point steps for the AC power of a DC power (contracts by ~0.05 per step)


@dataclass(frozen=True)
class EfficiencyCurve:
    """Losses of the AC stage (a function of AC power) and of the battery's DC-DC stage."""

    rated_w: float = 10000.0
    standby_w: float = 20.0       # the inverter's own consumption, drawn whatever the load
    linear: float = 0.022         # switching losses, fraction of the AC power
    quadratic: float = 0.018      # conduction losses at rated power, fraction of it (grows with P^2)
    battery_stage: float = 0.015  # the battery's DC-DC converter, fraction of the battery power

    def ac_loss_w(self, ac_w: float) -> float:
        """Loss of the AC stage when ``ac_w`` flows through the grid port (either way)."""
        return self.standby_w + self.linear * abs(ac_w) + self.quadratic * ac_w * ac_w / self.rated_w

    def efficiency(self, ac_w: float) -> float:
        """DC to AC efficiency of the AC stage at an output of ``ac_w`` (> 0)."""
        return ac_w / (ac_w + self.ac_loss_w(ac_w))

    def bus_for_ac_w(self, ac_w: float) -> float:
        """The DC bus power that gives ``ac_w`` at the grid port (negative: the port feeds the bus)."""
        return ac_w + self.ac_loss_w(ac_w)

    def ac_for_bus_w(self, bus_w: float) -> float:
        """The grid-port power a DC bus power gives: solves ``ac + loss(ac) = bus``."""
        ac = bus_w
        for _ in range(_ITERATIONS):
            ac = bus_w - self.ac_loss_w(ac)
        return ac

    def battery_to_bus_w(self, battery_w: float) -> float:
        """What a battery power at its terminals (> 0 discharging) puts on the DC bus."""
        if battery_w > 0:
            return battery_w * (1 - self.battery_stage)
        return battery_w * (1 + self.battery_stage)

    def battery_for_bus_w(self, bus_w: float) -> float:
        """The battery terminal power that puts ``bus_w`` on the DC bus (inverse of the above)."""
        if bus_w > 0:
            return bus_w / (1 - self.battery_stage)
        return bus_w / (1 + self.battery_stage)

    def ac_output_w(self, pv_w: float, battery_w: float) -> float:
        """The grid-port power for this PV power and battery power."""
        return self.ac_for_bus_w(pv_w + self.battery_to_bus_w(battery_w))

    def battery_for_ac_w(self, pv_w: float, ac_w: float) -> float:
        """The battery power that, with ``pv_w``, makes the grid port give exactly ``ac_w``."""
        return self.battery_for_bus_w(self.bus_for_ac_w(ac_w) - pv_w)

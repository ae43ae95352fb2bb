"""The register image of the simulated GoodWe ET: address map, value encoders, identity.

Addresses and encodings follow what the ``goodwe`` library (0.4.10, ``goodwe/et.py`` and
``goodwe/sensor.py``) decodes for an ET: device info 35000 x33, runtime 35100 x125, meter
36000 x45 (x125 with the extended block), battery 37000 x24, battery 2 (35262 x6, 39000 x22),
MPPT 35301 x61, settings in 45xxx and 47xxx.
Reads outside the known blocks, and writes outside the settings blocks, are answered with
ILLEGAL DATA ADDRESS, as a real inverter does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gdpo.inverter.simulator.frames import ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, ModbusError

# --------------------------------------------------------------------------- blocks

DEVICE_INFO = (35000, 33)
RUNTIME = (35100, 125)
METER = (36000, 45)
BATTERY = (37000, 24)

READABLE_RANGES = (
    (35000, 35033),
    (35100, 35225),
    (35262, 35268),   # battery 2 power, voltage, current, mode
    (35301, 35362),   # MPPT block (read by 15 kW and larger models)
    (39000, 39022),   # battery 2 BMS block
    (36000, 36125),
    (37000, 37024),
    (45000, 46000),
    (47000, 48000),
)
WRITABLE_RANGES = ((45000, 46000), (47000, 48000))

# --------------------------------------------------------------------------- settings addresses

REG_CLOCK = 45200            # 3 registers: yy mm dd hh mi ss
REG_BATTERY_CAPACITY_AH = 45350
REG_DISCHARGE_DEPTH = 45356  # goodwe: holds 100 - dod; the simulator's SOC floor
REG_WORK_MODE = 47000
REG_GRID_EXPORT_ENABLED = 47509
REG_GRID_EXPORT_LIMIT = 47510
REG_EMS_MODE = 47511
REG_EMS_POWER_LIMIT = 47512
REG_CLEAR_BATTERY_MODE = 47533  # 0xB9AD, written by set_operation_mode
REG_FAST_CHARGING = 47545
REG_FAST_CHARGING_SOC = 47546
REG_ECO_V1_GROUPS = (47515, 47519, 47523, 47527)    # 4 registers each
REG_ECO_V2_GROUPS = (47547, 47553, 47559, 47565)    # 6 registers each
REG_PEAK_SHAVING = 47589
REG_FAST_CHARGING_POWER = 47603
REG_SOC_UPPER_LIMIT = 47760

# value limits checked on write (register: (min, max)), answered with ILLEGAL DATA VALUE
VALUE_LIMITS = {
    REG_WORK_MODE: (0, 5),
    REG_DISCHARGE_DEPTH: (0, 100),
    REG_FAST_CHARGING: (0, 1),
    REG_FAST_CHARGING_SOC: (0, 100),
    REG_FAST_CHARGING_POWER: (0, 100),
    REG_EMS_MODE: (0, 12),
    REG_GRID_EXPORT_ENABLED: (0, 1),
}


@dataclass(frozen=True)
class Identity:
    """What the inverter says about itself (device info block and discovery answer)."""

    serial_number: str = "9010KETU214W0001"  # 'ETU': platform 205, 3-phase, 2 MPPT
    model_name: str = "GW10K-ET"
    rated_power_w: int = 10000
    ac_output_type: int = 1                 # 3-phase, 4 wire
    firmware: str = "04029-22-S11"
    arm_firmware: str = "02041-22-S00"
    dsp1_version: int = 22
    dsp2_version: int = 22
    arm_version: int = 22
    modbus_version: int = 0x0100
    comm_address: int = 0xF7

    @classmethod
    def two_batteries(cls) -> "Identity":
        """A GW25K-ET: the library reads a second battery from a '25KET' serial."""
        return cls(serial_number="9025KETU214W0001", model_name="GW25K-ET", rated_power_w=25000)


# --------------------------------------------------------------------------- encoders


def u16(value: float) -> int:
    """An unsigned 16-bit register (clamped, rounded)."""
    return max(0, min(0xFFFE, int(round(value))))


def s16(value: float) -> int:
    """A signed 16-bit register (two's complement, clamped)."""
    return max(-32768, min(32767, int(round(value)))) & 0xFFFF


def u32(value: float) -> list[int]:
    """Two registers, unsigned 32-bit big-endian."""
    v = max(0, min(0xFFFFFFFE, int(round(value))))
    return [v >> 16, v & 0xFFFF]


def s32(value: float) -> list[int]:
    """Two registers, signed 32-bit big-endian."""
    v = int(round(value)) & 0xFFFFFFFF
    return [v >> 16, v & 0xFFFF]


def f32(value: float) -> list[int]:
    """Two registers holding an IEEE-754 float32, big-endian (the meter's energy counters)."""
    raw = struct.pack(">f", float(value))
    return [int.from_bytes(raw[0:2], "big"), int.from_bytes(raw[2:4], "big")]


def text(value: str, registers: int) -> list[int]:
    """ASCII text padded with spaces into ``registers`` registers."""
    raw = value.encode("ascii")[: registers * 2].ljust(registers * 2, b" ")
    return [int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)]


def timestamp(dt) -> list[int]:
    """Three registers: year-2000, month, day, hour, minute, second (one byte each)."""
    b = bytes([dt.year - 2000, dt.month, dt.day, dt.hour, dt.minute, dt.second])
    return [int.from_bytes(b[i:i + 2], "big") for i in (0, 2, 4)]


def to_signed16(value: int) -> int:
    """Interpret a register as a signed 16-bit number."""
    return value - 0x10000 if value & 0x8000 else value


def hi_byte_signed(value: int) -> int:
    """The high byte of a register as a signed 8-bit number."""
    b = (value >> 8) & 0xFF
    return b - 0x100 if b & 0x80 else b


# --------------------------------------------------------------------------- the image


class RegisterImage:
    """16-bit registers by address, with the ET's readable and writable ranges."""

    def __init__(self) -> None:
        self._regs: dict[int, int] = {}
        self.version = 0   # changes with every set(), so decoded views know when to refresh

    def get(self, address: int) -> int:
        """One register (0 when never set)."""
        return self._regs.get(address, 0)

    def signed(self, address: int) -> int:
        """One register read as signed 16-bit."""
        return to_signed16(self.get(address))

    def set(self, address: int, values: int | list[int]) -> None:
        """Set one register, or consecutive registers from ``address``."""
        if isinstance(values, int):
            values = [values]
        for i, v in enumerate(values):
            self._regs[address + i] = v & 0xFFFF
        self.version += 1

    def read(self, address: int, count: int) -> list[int]:
        """``count`` registers from ``address``; ILLEGAL DATA ADDRESS outside a readable block."""
        if count < 1 or count > 125 or not _inside(address, count, READABLE_RANGES):
            raise ModbusError(ILLEGAL_DATA_ADDRESS, f"cannot read {count} registers at {address}")
        return [self.get(address + i) for i in range(count)]

    def check_write(self, address: int, values: list[int]) -> None:
        """Raise the Modbus exception a real ET gives for this write, if any."""
        if not values or not _inside(address, len(values), WRITABLE_RANGES):
            raise ModbusError(ILLEGAL_DATA_ADDRESS, f"register {address} is not writable")
        for i, v in enumerate(values):
            limits = VALUE_LIMITS.get(address + i)
            if limits and not limits[0] <= v <= limits[1]:
                raise ModbusError(ILLEGAL_DATA_VALUE, f"value {v} out of range for register {address + i}")


def _inside(address: int, count: int, ranges) -> bool:
    return any(lo <= address and address + count <= hi for lo, hi in ranges)


# --------------------------------------------------------------------------- initial content


def _eco_v2_off() -> list[int]:
    # start 48:00, end 48:00, on_off 0 (eco, off), no days, power 100 %, SoC 100 %, months 0
    return [0x3000, 0x3000, 0x0000, 100, 100, 0]


def _peak_shaving_off() -> list[int]:
    # schedule type 3 (peak shaving) switched off, 10 kW (stored /10), SoC 100 %
    return [0x3000, 0x3000, 0x0300, 1000, 100, 0]


def install_identity(image: RegisterImage, identity: Identity) -> None:
    """Fill the device info block 35000 x33."""
    image.set(35000, [identity.modbus_version, identity.rated_power_w, identity.ac_output_type])
    image.set(35003, text(identity.serial_number, 8))
    image.set(35011, text(identity.model_name, 5))
    image.set(35016, [identity.dsp1_version, identity.dsp2_version, 0, identity.arm_version, 0])
    image.set(35021, text(identity.firmware, 6))
    image.set(35027, text(identity.arm_firmware, 6))


def install_settings(image: RegisterImage, identity: Identity, *, capacity_ah: float,
                     battery_voltage_v: float, max_current_a: float) -> None:
    """Factory settings: general mode, export limit = rated power, DoD 90 %, eco groups off."""
    image.set(45127, identity.comm_address)
    image.set(45132, u32(9600))
    image.set(45248, 0)
    image.set(REG_BATTERY_CAPACITY_AH, u16(capacity_ah))
    image.set(45351, 5)
    image.set(45352, [u16(battery_voltage_v * 1.1 * 10), u16(max_current_a * 10),
                      u16(battery_voltage_v * 0.9 * 10), u16(max_current_a * 10)])
    image.set(REG_DISCHARGE_DEPTH, 10)   # library dod 90 % -> SOC floor 10 %
    image.set(45357, u16(battery_voltage_v * 0.9 * 10))
    image.set(45358, 20)
    image.set(45482, 100)                # power factor 1.00
    image.set(REG_WORK_MODE, 0)
    image.set(47120, 0)
    image.set(47500, 1)
    image.set(REG_GRID_EXPORT_ENABLED, 1)
    image.set(REG_GRID_EXPORT_LIMIT, identity.rated_power_w)
    image.set(REG_EMS_MODE, [1, 0])      # AUTO, limit 0
    image.set(47514, 0x0101)
    for reg in REG_ECO_V1_GROUPS:
        image.set(reg, [0x3000, 0x3000, 0x0000, 100])
    for reg in REG_ECO_V2_GROUPS:
        image.set(reg, _eco_v2_off())
    image.set(47542, u32(10000))
    image.set(47544, 100)
    image.set(REG_FAST_CHARGING, [0, 100])
    image.set(REG_PEAK_SHAVING, _peak_shaving_off())
    image.set(REG_FAST_CHARGING_POWER, 100)
    image.set(47606, identity.rated_power_w)
    image.set(REG_SOC_UPPER_LIMIT, 100)

"""Replaying real GoodWe ET response frames (``tests/inverter/captures``) through the real
``goodwe`` library, the way the library's own ``tests/test_et.py`` does: the ET's socket read
is replaced so that each command returns its capture file's bytes.

The frames are the library's test samples (goodwe 0.4.10, MIT licence, ``captures/LICENSE-goodwe``).
As in the library's tests, a command without a capture is answered with a short default frame:
the library decodes it as a block of zeros (behind three garbage registers), which is how an
inverter without meter data shows up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from goodwe.et import ET
from goodwe.exceptions import RequestFailedException, RequestRejectedException
from goodwe.modbus import ILLEGAL_DATA_ADDRESS
from goodwe.protocol import ProtocolCommand, ProtocolResponse

CAPTURES = Path(__file__).parent / "captures"
DEFAULT_ANSWER = "aa55f700010203040506070809"   # the library's tests answer an unmocked command so

# file, or ILLEGAL_DATA_ADDRESS, per command: the name of an ET command attribute, or (address, count)
SCENARIOS: dict[str, dict[Any, str]] = {
    "GW10K-ET fw617": {
        "_READ_DEVICE_VERSION_INFO": "GW10K-ET_device_info_fw617.hex",
        "_READ_RUNNING_DATA": "GW10K-ET_running_data.hex",
        "_READ_METER_DATA": "GW10K-ET_meter_data.hex",
        "_READ_BATTERY_INFO": "GW10K-ET_battery_info.hex",
        (47547, 6): ILLEGAL_DATA_ADDRESS,
        (47589, 6): ILLEGAL_DATA_ADDRESS,
        (47515, 4): "eco_mode_v1.hex",
    },
    "GW10K-ET fw1023": {
        "_READ_DEVICE_VERSION_INFO": "GW10K-ET_device_info_fw1023.hex",
        "_READ_RUNNING_DATA": "GW10K-ET_running_data_fw1023.hex",
    },
    "GW10K-ET fw819": {
        "_READ_DEVICE_VERSION_INFO": "GW10K-ET_device_info_fw819.hex",
        (47547, 6): "eco_mode_v2.hex",
        (47589, 6): ILLEGAL_DATA_ADDRESS,
    },
    "GW20K-ET": {
        "_READ_DEVICE_VERSION_INFO": "GW20K-ET_device_info.hex",
        "_READ_RUNNING_DATA": "GW20K-ET_running_data.hex",
        "_READ_METER_DATA_EXTENDED2": "GW20K-ET_meter_data.hex",
        "_READ_BATTERY_INFO": "GW20K-ET_battery_info.hex",
        "_READ_MPPT_DATA": "GW20K-ET_mppt_data.hex",
    },
    "GW6000-EH": {
        "_READ_DEVICE_VERSION_INFO": "GW6000_EH_device_info.hex",
        "_READ_RUNNING_DATA": "GW6000_EH_running_data.hex",
    },
}


class CaptureET(ET):
    """The library's ET class whose every read is answered from capture files."""

    def __init__(self, scenario: str):
        super().__init__("localhost", 8899)
        self._answers: dict[ProtocolCommand, str] = {}
        for key, answer in SCENARIOS[scenario].items():
            command = getattr(self, key) if isinstance(key, str) else self._read_command(*key)
            self._answers[command] = answer
        self.requests: list[bytes] = []

    async def _read_from_socket(self, command: ProtocolCommand) -> ProtocolResponse:
        """Answer from the capture file of ``command`` (no socket is opened)."""
        self.requests.append(command.request)
        answer = self._answers.get(command)
        if answer is None:
            return ProtocolResponse(bytes.fromhex(DEFAULT_ANSWER), command)
        if answer == ILLEGAL_DATA_ADDRESS:
            raise RequestRejectedException(ILLEGAL_DATA_ADDRESS)
        frame = bytes.fromhex((CAPTURES / answer).read_text().strip())
        if not command.validator(frame):
            raise RequestFailedException(f"capture {answer} is not a valid answer")
        return ProtocolResponse(frame, command)


async def replay(scenario: str) -> tuple[CaptureET, dict[str, Any]]:
    """``read_device_info()`` then ``read_runtime_data()`` of a scenario: (inverter, sensor dict)."""
    inverter = CaptureET(scenario)
    await inverter.read_device_info()
    return inverter, await inverter.read_runtime_data()

"""Wire formats a GoodWe ET speaks: Modbus RTU over UDP (``AA 55`` framed answers with
CRC-16/MODBUS), Modbus/TCP (MBAP header, no CRC) and the AA55 discovery exchange.

Requests are decoded into a transport-neutral :class:`ModbusRequest`; answers are encoded
from the same object, so the register device never sees framing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

READ_HOLDING = 0x03
WRITE_SINGLE = 0x06
WRITE_MULTIPLE = 0x10

ILLEGAL_FUNCTION = 1
ILLEGAL_DATA_ADDRESS = 2
ILLEGAL_DATA_VALUE = 3
SLAVE_DEVICE_FAILURE = 4

AA55_HEADER = b"\xaa\x55"
DISCOVERY_REQUEST_PAYLOAD = bytes.fromhex("010200")  # AA55 C07F 0102 00: read device info


class ModbusError(Exception):
    """A Modbus exception answer (the function code with the high bit set, then ``code``)."""

    def __init__(self, code: int, message: str = ""):
        super().__init__(message or f"Modbus exception {code}")
        self.code = code


class FrameError(ValueError):
    """A request that cannot be decoded (bad CRC, truncated, unknown framing): no answer is sent."""


@dataclass
class ModbusRequest:
    """One decoded Modbus request: unit address, function, first register and either a
    register count (read) or the register values (write)."""

    unit: int
    function: int
    address: int
    count: int = 0
    values: list[int] = field(default_factory=list)
    transaction: bytes = b"\x00\x00"  # Modbus/TCP only


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) of ``data``."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _words(data: bytes) -> list[int]:
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2)]


def _pdu_request(unit: int, pdu: bytes) -> ModbusRequest:
    """Decode a Modbus PDU (function code onwards)."""
    if len(pdu) < 5:
        raise FrameError("request too short")
    function = pdu[0]
    address = int.from_bytes(pdu[1:3], "big")
    if function == READ_HOLDING:
        return ModbusRequest(unit, function, address, count=int.from_bytes(pdu[3:5], "big"))
    if function == WRITE_SINGLE:
        return ModbusRequest(unit, function, address, count=1, values=[int.from_bytes(pdu[3:5], "big")])
    if function == WRITE_MULTIPLE:
        if len(pdu) < 6:
            raise FrameError("write-multiple request too short")
        count = int.from_bytes(pdu[3:5], "big")
        nbytes = pdu[5]
        data = pdu[6:6 + nbytes]
        if len(data) != nbytes or nbytes != 2 * count:
            raise FrameError("write-multiple byte count does not match")
        return ModbusRequest(unit, function, address, count=count, values=_words(data))
    return ModbusRequest(unit, function, address)  # answered with ILLEGAL FUNCTION


def _pdu_answer(request: ModbusRequest, registers: list[int] | None, error: int | None) -> bytes:
    """The answer PDU (function code onwards) for ``request``."""
    if error is not None:
        return bytes([request.function | 0x80, error])
    if request.function == READ_HOLDING:
        data = b"".join((v & 0xFFFF).to_bytes(2, "big") for v in registers or [])
        return bytes([READ_HOLDING, len(data)]) + data
    if request.function == WRITE_SINGLE:
        return bytes([WRITE_SINGLE]) + request.address.to_bytes(2, "big") + request.values[0].to_bytes(2, "big")
    return bytes([WRITE_MULTIPLE]) + request.address.to_bytes(2, "big") + request.count.to_bytes(2, "big")


# --------------------------------------------------------------------------- Modbus RTU over UDP


def decode_rtu(frame: bytes) -> ModbusRequest:
    """Decode a Modbus RTU request datagram (address, PDU, CRC little-endian)."""
    if len(frame) < 8:
        raise FrameError("RTU frame too short")
    if crc16_modbus(frame[:-2]) != int.from_bytes(frame[-2:], "little"):
        raise FrameError("RTU CRC mismatch")
    return _pdu_request(frame[0], frame[1:-2])


def encode_rtu(request: ModbusRequest, registers: list[int] | None = None, error: int | None = None) -> bytes:
    """An ``AA 55``-prefixed RTU answer: address, PDU, CRC-16 (little-endian) over both."""
    body = bytes([request.unit]) + _pdu_answer(request, registers, error)
    return AA55_HEADER + body + crc16_modbus(body).to_bytes(2, "little")


# --------------------------------------------------------------------------- Modbus/TCP


def mbap_length(header: bytes) -> int:
    """Bytes that follow a 6-byte MBAP header (unit id + PDU)."""
    return int.from_bytes(header[4:6], "big")


def decode_tcp(header: bytes, body: bytes) -> ModbusRequest:
    """Decode a Modbus/TCP request from its MBAP header and the ``length`` bytes after it."""
    if len(header) != 6 or len(body) < 2:
        raise FrameError("Modbus/TCP frame too short")
    request = _pdu_request(body[0], body[1:])
    request.transaction = header[0:2]
    return request


def encode_tcp(request: ModbusRequest, registers: list[int] | None = None, error: int | None = None) -> bytes:
    """A Modbus/TCP answer: MBAP header echoing the transaction id, unit id, PDU."""
    body = bytes([request.unit]) + _pdu_answer(request, registers, error)
    return request.transaction + b"\x00\x00" + len(body).to_bytes(2, "big") + body


# --------------------------------------------------------------------------- AA55 (discovery)


def aa55_checksum(data: bytes) -> bytes:
    """The AA55 protocol checksum: plain byte sum, 2 bytes big-endian."""
    return (sum(data) & 0xFFFF).to_bytes(2, "big")


def is_aa55_request(frame: bytes) -> bool:
    """True when ``frame`` is an AA55 request (``AA 55 C0 7F ...``) with a valid checksum."""
    return (len(frame) >= 9 and frame[:4] == b"\xaa\x55\xc0\x7f"
            and aa55_checksum(frame[:-2]) == frame[-2:])


def aa55_payload(frame: bytes) -> bytes:
    """The control code, function code and data of an AA55 request (between address and checksum)."""
    return frame[4:-2]


def encode_aa55(response_type: bytes, payload: bytes) -> bytes:
    """An AA55 answer: ``AA 55 7F C0``, 2-byte response type, length, payload, checksum."""
    head = b"\xaa\x55\x7f\xc0" + response_type + bytes([len(payload)]) + payload
    return head + aa55_checksum(head)

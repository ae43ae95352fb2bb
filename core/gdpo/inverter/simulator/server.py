"""Network front ends of the simulator: Modbus RTU + AA55 over UDP, Modbus/TCP.

Port 8899 means UDP (as on a real ET's WiFi/LAN dongle); any other port, including 0
for an ephemeral one, means Modbus/TCP. Only loopback addresses may be bound.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from gdpo.inverter.simulator import frames
from gdpo.inverter.simulator.device import SimulatedInverter
from gdpo.inverter.simulator.frames import FrameError, ModbusError

log = logging.getLogger(__name__)

UDP_PORT = 8899
AA55_DEVICE_INFO_RESPONSE = b"\x01\x82"


def check_loopback(host: str) -> str:
    """Return ``host`` as an IP literal if it is a loopback address; raise ValueError otherwise."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"simulator host {host!r} is not an IP address; use a loopback address "
                         f"such as 127.0.0.1") from None
    if not address.is_loopback:
        raise ValueError(f"simulator host {host} is not a loopback address; the simulator only "
                         f"listens on 127.0.0.0/8 or ::1")
    return str(address)


class _Dispatcher:
    """Faults and request counting shared by both transports."""

    def __init__(self, device: SimulatedInverter):
        self.device = device

    async def admit(self) -> bool:
        """Count a request; False when it must go unanswered (silent, dropped). Applies the delay."""
        faults = self.device.faults
        self.device.requests_received += 1
        if faults.silent:
            return False
        if faults.drop_every and self.device.requests_received % faults.drop_every == 0:
            return False
        if faults.delay_s > 0:
            await asyncio.sleep(faults.delay_s)
        return True

    def answer(self, request: frames.ModbusRequest, encode) -> bytes | None:
        """The encoded answer to ``request`` (None when addressed to another unit)."""
        if request.unit not in (self.device.identity.comm_address, 0):
            return None
        injected = self.device.faults.exception_for(request)
        if injected is not None:
            return encode(request, error=injected)
        try:
            return encode(request, registers=self.device.handle(request))
        except ModbusError as exc:
            return encode(request, error=exc.code)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, dispatcher: _Dispatcher):
        self.dispatcher = dispatcher
        self.transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task] = set()

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(data, addr))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, data: bytes, addr) -> None:
        if not await self.dispatcher.admit():
            return
        reply = self._reply(data)
        if reply is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)

    def _reply(self, data: bytes) -> bytes | None:
        if frames.is_aa55_request(data):
            if frames.aa55_payload(data)[:3] == frames.DISCOVERY_REQUEST_PAYLOAD:
                return frames.encode_aa55(AA55_DEVICE_INFO_RESPONSE, self.dispatcher.device.discovery_payload())
            return None
        try:
            request = frames.decode_rtu(data)
        except FrameError as exc:
            log.debug("ignored UDP datagram %s: %s", data.hex(), exc)
            return None
        return self.dispatcher.answer(request, frames.encode_rtu)

    def cancel_pending(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class SimulatorServer:
    """Serve one :class:`SimulatedInverter` on ``host:port`` (UDP for 8899, TCP otherwise)."""

    def __init__(self, device: SimulatedInverter, host: str = "127.0.0.1", port: int = UDP_PORT):
        self.device = device
        self.host = check_loopback(host)
        self.port = port
        self.transport_name = "udp" if port == UDP_PORT else "tcp"
        self._dispatcher = _Dispatcher(device)
        self._udp: tuple[asyncio.DatagramTransport, _UdpProtocol] | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.Task] = set()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound (the real port when 0 was asked for)."""
        return self.host, self.port

    async def start(self) -> "SimulatorServer":
        """Bind and start answering."""
        loop = asyncio.get_running_loop()
        if self.transport_name == "udp":
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self._dispatcher), local_addr=(self.host, self.port))
            self._udp = (transport, protocol)
        else:
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
            self.port = self._tcp.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop answering and release the port."""
        if self._udp is not None:
            transport, protocol = self._udp
            protocol.cancel_pending()
            transport.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            for task in list(self._connections):
                task.cancel()
            await self._tcp.wait_closed()
            self._tcp = None

    async def __aenter__(self) -> "SimulatorServer":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            while True:
                header = await reader.readexactly(6)
                body = await reader.readexactly(frames.mbap_length(header))
                if not await self._dispatcher.admit():
                    continue
                try:
                    request = frames.decode_tcp(header, body)
                except FrameError as exc:
                    log.debug("ignored Modbus/TCP frame: %s", exc)
                    continue
                reply = self._dispatcher.answer(request, frames.encode_tcp)
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

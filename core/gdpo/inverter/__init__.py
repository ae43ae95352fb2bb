"""The GoodWe inverter: the gateway over the ``goodwe`` library (``gdpo.inverter.gateway``),
readings in gdpo's signs (``gdpo.inverter.snapshot``), config sections
(``gdpo.inverter.settings``) and the ET simulator (``gdpo.inverter.simulator``)."""

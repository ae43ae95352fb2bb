"""``gdpo prices``: one day's quarter-hours with market price, final price and tariff zone."""

from __future__ import annotations

import asyncio
import datetime as _dt
import json

import click

BAR_WIDTH = 28


def _parse_date(value: str | None) -> _dt.date:
    from gdpo.prices.timeline import local_date
    from gdpo.prices.service import utc_now

    today = local_date(utc_now())
    if value in (None, "", "today"):
        return today
    if value == "tomorrow":
        return today + _dt.timedelta(days=1)
    try:
        return _dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not YYYY-MM-DD, today or tomorrow", param_hint="--date") from None


@click.command("prices")
@click.option("--date", "date_text", metavar="D", help="Delivery day: YYYY-MM-DD, today (default) or tomorrow.")
@click.option("--tariff", type=click.Choice(["g11", "g12", "g12w", "g12as", "g13s"], case_sensitive=False),
              help="Tariff to price with (default: tariffs.tariff from the config).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of quarter-hour objects.")
@click.option("--pse-url", metavar="URL", help="PSE API base URL (overrides prices.pse_base_url).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="Config file (default: GDPO_CONFIG "
              "or config/master_coordinator_config.yaml).")
@click.option("--sample", is_flag=True, help="Show the bundled SAMPLE day instead of real prices (no network).")
@click.option("--no-store", is_flag=True, help="Fetch from PSE without reading or writing storage.")
def prices_command(date_text, tariff, as_json, pse_url, config_path, sample, no_store) -> None:
    """Show a day's prices per quarter-hour: local start, market and final price (PLN/kWh),
    tariff zone. A stored day is read from storage; otherwise it is fetched from PSE and stored."""
    from gdpo.config import load_config
    from gdpo.prices import PriceError, TariffConfig
    from gdpo.prices.settings import price_sections

    day = _parse_date(date_text)
    cfg = load_config(config_path)
    prices, tariffs = price_sections(cfg)
    if pse_url:
        prices["pse_base_url"] = pse_url
    tariff_cfg = TariffConfig.from_section(tariffs, tariff)
    try:
        rows, origin = asyncio.run(_collect(cfg, prices, tariff_cfg, day, sample=sample, no_store=no_store))
    except PriceError as exc:
        raise click.ClickException(f"prices for {day}: {exc}") from None
    if as_json:
        click.echo(json.dumps([q.to_json() for q in rows], indent=1))
    else:
        click.echo(render_table(rows, day, tariff_cfg.name, origin))


async def _collect(cfg, prices, tariff_cfg, day, *, sample, no_store):
    from gdpo.prices import PriceService, PseClient, sample_day
    from gdpo.prices.parse import parse_day
    from gdpo.prices.service import quarter_price
    from gdpo.prices.timeline import day_bounds_utc
    from gdpo.storage import open_storage

    sections = {"prices": prices}
    if sample or no_store:
        market = sample_day(day) if sample else None
        if market is None:
            async with PseClient.from_config(prices) as client:
                market = parse_day(await client.fetch_rows("csdac-pln", day), day, "csdac-pln")
        return [quarter_price(q.period_start, q.price_pln_kwh, tariff_cfg, is_sample=market.is_sample)
                for q in market.quarters], market.origin
    async with open_storage(cfg, background=False) as storage, PriceService(storage, sections, tariff=tariff_cfg) as service:
        market = await service.ensure_day(day)
        return await service.prices_between(*day_bounds_utc(day)), market.origin


def render_table(rows, day: _dt.date, tariff: str, origin: str) -> str:
    """The human view: a heading, one line per quarter with a bar of the final price, a summary."""
    from gdpo.prices.sample import SAMPLE_LABEL

    is_sample = any(q.is_sample for q in rows)
    head = SAMPLE_LABEL if is_sample else f"Day-ahead prices (PSE csdac-pln, {origin})"
    lines = [f"{head}: {day}, tariff {tariff}, {len(rows)} quarter-hours, PLN/kWh, times Europe/Warsaw"]
    if not rows:
        return lines[0]
    finals = [q.final_pln_kwh for q in rows]
    low, high = min(0.0, min(finals)), max(finals)
    span = (high - low) or 1.0
    dst_day = len({q.local_start.utcoffset() for q in rows}) > 1
    width = 10 if dst_day else 5
    lines.append(f"{'start':<{width}}  {'market':>7}  {'final':>7}  {'zone':<8}")
    for q in rows:
        start = q.local_start.strftime("%H:%M %Z" if dst_day else "%H:%M").ljust(width)
        bar = "█" * max(0, round((q.final_pln_kwh - low) / span * BAR_WIDTH)) if q.final_pln_kwh >= 0 else "-"
        lines.append(f"{start}  {q.market_pln_kwh:7.4f}  {q.final_pln_kwh:7.4f}  {q.tariff_zone:<8}  {bar}")
    cheapest = min(rows, key=lambda q: q.final_pln_kwh)
    dearest = max(rows, key=lambda q: q.final_pln_kwh)
    lines.append(f"final: min {cheapest.final_pln_kwh:.4f} at {cheapest.local_start:%H:%M}, "
                 f"max {dearest.final_pln_kwh:.4f} at {dearest.local_start:%H:%M}, "
                 f"mean {sum(finals) / len(finals):.4f}" + ("  [SAMPLE, not real prices]" if is_sample else ""))
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    """Add ``gdpo prices`` to the CLI."""
    cli.add_command(prices_command)

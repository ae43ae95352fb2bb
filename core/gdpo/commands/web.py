"""``gdpo web``: serve the read-only dashboard and JSON API from the configured storage."""

from __future__ import annotations

import asyncio
import signal

import click


async def serve_web(cfg, host: str, port: int, token: str | None, echo=click.echo) -> None:
    """Open storage (no background jobs: this process only reads) and serve until SIGINT/SIGTERM."""
    from gdpo.storage import open_storage
    from gdpo.web.app import create_app
    from gdpo.web.serve import serve_until

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    async with open_storage(cfg, background=False) as storage:
        app = create_app(storage, cfg, token=token)
        echo(f"gdpo web: http://{host}:{port}/ (storage {cfg.data_storage.get('backend')}"
             f"{', token required' if token else ''}); Ctrl-C stops it")
        await serve_until(app, host, port, stop)


@click.command("web")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Config file (default: GDPO_CONFIG or config/master_coordinator_config.yaml).")
@click.option("--host", help="Address to listen on (default web.host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="TCP port (default web.port, 8080).")
@click.option("--simulated", is_flag=True, help="Serve the database of `gdpo run --simulate`.")
def web_command(config_path, host, port, simulated) -> None:
    """Serve the dashboard and the JSON API (/api/v1) read-only from the configured storage.
    Any address other than loopback needs web.token (or web.token_file)."""
    from gdpo.config import load_config
    from gdpo.web.serve import listen_settings

    cfg = load_config(config_path)
    if simulated:
        from gdpo.coordinator.simulation import require_database, simulated_config

        cfg = simulated_config(cfg)
        require_database(cfg)
    host, port, token = listen_settings(cfg, host, port)
    asyncio.run(serve_web(cfg, host, port, token))


def register(cli: click.Group) -> None:
    """Add ``gdpo web`` to the CLI."""
    cli.add_command(web_command)

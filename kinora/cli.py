"""The ``kinora`` command: serve, worker, keys."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from kinora.config import Settings
from kinora.docstore import open_docstore
from kinora.keys import KeyStore

cli = typer.Typer(help="Kinora: self-hostable video generation.", no_args_is_help=True)
keys_cli = typer.Typer(help="Manage API keys (stored as SHA-256 hashes).", no_args_is_help=True)
cli.add_typer(keys_cli, name="keys")

DEV_KEY_FILE = "dev-key"


def _keys(settings: Settings) -> KeyStore:
    return KeyStore(open_docstore(settings))


def dev_key(settings: Settings) -> str:
    """Embedded mode's development key, created on first start and kept in the data folder (mode 0600)."""
    path = Path(settings.data_dir) / DEV_KEY_FILE
    keys = _keys(settings)
    if path.exists():
        secret = path.read_text().strip()
        if keys.verify(secret):
            return secret
    key, secret = keys.create("dev")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


@cli.command()
def serve(host: str = typer.Option(None, help="Bind address [KINORA_HOST]."),
          port: int = typer.Option(None, help="Port [KINORA_PORT].")) -> None:
    """Run the API: embedded mode (API + worker, local state) unless KINORA_REDIS_URL is set."""
    import uvicorn

    from app.main import create_app

    settings = Settings()
    host, port = host or settings.host, port or settings.port
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    if settings.embedded:
        typer.echo(f"Kinora (embedded mode, data in {Path(settings.data_dir).resolve()}) on {url}")
        key = dev_key(settings)
        typer.echo(f"Development API key: {key}")
        # The key after '#' stays in the browser (fragments are never sent); the page stores it and drops it.
        typer.echo(f"Web page: {url}/#key={key}")
    else:
        typer.echo(f"Kinora gateway (production mode) on {url}")
        typer.echo(f"Web page: {url}/")
    typer.echo(f"API docs: {url}/docs")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@cli.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def worker(ctx: typer.Context) -> None:
    """Run a Celery worker that loads KINORA_WORKER_MODEL once and processes its queue.

    Extra arguments go to `celery worker` (e.g. --hostname, --loglevel).
    """
    settings = Settings()
    if settings.embedded:
        raise typer.BadParameter("set KINORA_REDIS_URL: a separate worker needs the Redis queue")
    from models.registry import UnknownModel, get_spec

    try:
        spec = get_spec(settings.loaded_model)
    except UnknownModel:
        raise typer.BadParameter(f"unknown model {settings.loaded_model!r} (KINORA_WORKER_MODEL)") from None
    if missing := spec.missing_weights(settings.models_dir):
        typer.echo(f"Weights for {spec.name} are missing: put the checkpoint folder at {missing}.", err=True)
        raise typer.Exit(2)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from worker.tasks import run_worker

    run_worker(settings, list(ctx.args))


@keys_cli.command("create")
def keys_create(name: str = typer.Option(..., "--name", help="A label for the key.")) -> None:
    """Create a key. It is shown once, as the last line of output."""
    key, secret = _keys(Settings()).create(name)
    typer.echo(f"Created key {key.id} ({key.name}). Store it now; it is not shown again:", err=False)
    typer.echo(secret)


@keys_cli.command("list")
def keys_list() -> None:
    """List keys (never their secrets)."""
    for key in _keys(Settings()).list():
        state = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        typer.echo(f"{key.id}\t{key.name}\t{key.hint}…\t{key.created_at:%Y-%m-%d %H:%M}\t{state}")


@keys_cli.command("revoke")
def keys_revoke(key: str = typer.Argument(..., help="A key id, or a name (revokes every key with it).")) -> None:
    """Revoke a key by id or name."""
    revoked = _keys(Settings()).revoke(key)
    if not revoked:
        typer.echo(f"No active key matches {key!r}.", err=True)
        raise typer.Exit(1)
    for k in revoked:
        typer.echo(f"Revoked {k.id} ({k.name}).")


def _add_client_commands() -> None:
    """`kinora generate`, `jobs`, `get`, `cancel`, `download` from the kinora-client package, when installed."""
    try:
        from kinora_client.cli import register
    except ImportError:  # the server works without its client
        return
    register(cli)


_add_client_commands()


def main() -> None:
    cli()

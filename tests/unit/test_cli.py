from typer.testing import CliRunner

from kinora.cli import cli

runner = CliRunner()


def test_keys_create_prints_the_key_last_and_list_never_shows_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KINORA_DATA_DIR", str(tmp_path))
    created = runner.invoke(cli, ["keys", "create", "--name", "alice"])
    assert created.exit_code == 0
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("kin_")
    listed = runner.invoke(cli, ["keys", "list"])
    assert "alice" in listed.stdout and secret not in listed.stdout
    assert runner.invoke(cli, ["keys", "revoke", "nobody"]).exit_code == 1


def test_a_worker_needs_redis_and_its_weights(tmp_path, monkeypatch):
    monkeypatch.delenv("KINORA_REDIS_URL", raising=False)
    assert runner.invoke(cli, ["worker"]).exit_code != 0
    monkeypatch.setenv("KINORA_REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("KINORA_WORKER_MODEL", "ltx-video")
    monkeypatch.setenv("KINORA_MODELS_DIR", str(tmp_path))
    result = runner.invoke(cli, ["worker"])
    assert result.exit_code == 2 and "LTX-Video" in result.output

"""A `kinora serve` process in embedded mode per test module, with two API keys."""

from types import SimpleNamespace

import pytest

from tests.conftest import free_port
from tests.processes import create_key, kinora_env, serving


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    env = kinora_env(data_dir=root / "data")
    port = free_port()
    with serving(env, port, root / "serve.log"):
        key, other = create_key(env, "a"), create_key(env, "b")
        yield SimpleNamespace(base=f"http://localhost:{port}", root=root, key=key, env=env,
                              headers={"Authorization": f"Bearer {key}"}, other={"Authorization": f"Bearer {other}"})

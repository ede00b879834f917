"""Real CryptoJS for the tests: the npm package ``crypto-js``, installed once per session.

``cryptojs`` (a session fixture) installs ``crypto-js@4`` from the npm registry into
a temporary folder and yields its ``node_modules``; ``cryptojs_run`` runs a small
JavaScript program under node with that folder on ``NODE_PATH``, feeding it JSON.
Without node/npm (or without the network) the tests skip, except under ``CI``
where they fail: the website cross-check must be proven against the real library.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

__all__ = ["cryptojs", "cryptojs_run", "unavailable"]


def unavailable(reason: str) -> None:
    """Skips the test (fails it under CI) because a real tool is missing."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the CryptoJS tests, but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cryptojs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose node_modules holds crypto-js, installed with npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        unavailable("node and npm are needed (apt-get install nodejs npm)")
    prefix = tmp_path_factory.mktemp("cryptojs")
    done = subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "crypto-js@4"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode or not (prefix / "node_modules" / "crypto-js").is_dir():
        unavailable(f"npm could not install crypto-js: {done.stderr.strip()[-300:]}")
    return prefix / "node_modules"


def cryptojs_run(program: str, payload: Any, modules: Path) -> Any:
    """Runs ``program`` (reads JSON on stdin, writes JSON on stdout) with crypto-js."""
    if shutil.which("node") is None:
        unavailable("node is not installed")
    env = dict(os.environ, NODE_PATH=str(modules))
    done = subprocess.run(
        ["node", "-e", program],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)

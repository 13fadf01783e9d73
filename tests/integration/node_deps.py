"""The npm packages the integration suite runs (tests/integration/node/package.json):
node-postgres for test_txn_prepared.py, knex and Sequelize for test_orms.py.

    npm_install("pg")                 # installs package.json's dependencies unless all named are there

A test that needs them calls npm_install first; an unreachable npm registry skips the test
(a network problem, not a shardgate one), any other npm failure fails it.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"


def npm_install(*packages: str) -> None:
    """Makes sure node_modules holds `packages` (names from package.json), running
    `npm install` (which installs everything package.json and its lock file list) if not."""
    if all((NODE_DIR / "node_modules" / name / "package.json").exists() for name in packages):
        return
    if shutil.which("npm") is None:
        pytest.fail(f"npm is not on PATH (needed for {', '.join(packages)})", pytrace=False)
    out = subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                         capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        text = out.stdout + out.stderr
        unreachable = re.search(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ENETUNREACH|"
                                r"network|socket hang up", text)
        if unreachable:
            pytest.skip(f"npm registry unreachable, cannot install {', '.join(packages)}: "
                        f"{unreachable.group(0)}")
        pytest.fail(f"npm install failed:\n{text}", pytrace=False)
    missing = [name for name in packages
               if not (NODE_DIR / "node_modules" / name / "package.json").exists()]
    if missing:
        pytest.fail(f"npm install did not install {missing}: is it in {NODE_DIR}/package.json?",
                    pytrace=False)

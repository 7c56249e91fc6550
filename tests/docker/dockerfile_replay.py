"""Replay a Dockerfile without a Docker engine.

The image's filesystem is a folder (``root``): absolute paths the Dockerfile writes to
(``/opt/venv``, the ``WORKDIR``) live under it. ``COPY`` takes files from the build context
filtered by ``.dockerignore``; ``RUN`` lines run in a shell with their image paths moved under
``root`` and ``python`` meaning the host's base Python (the image's ``python:3.11-slim``);
``ENV`` applies to later lines and to ``CMD``. Creating the image's user (``useradd``) is the
one ``RUN`` that is not replayed: it changes the host, not the environment the app runs in.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_DIRS = {"usr", "bin", "sbin", "etc", "lib", "lib64", "dev", "proc", "sys", "tmp", "var"}
SKIPPED_RUN = ("useradd", "groupadd", "adduser")


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    name: str | None
    base: str
    instructions: list[Instruction] = field(default_factory=list)


def parse(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of instructions (continuations joined, comments gone)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(name, parts[0]))
        else:
            stages[-1].instructions.append(Instruction(keyword, args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    """The argv of an exec-form ``CMD``/``HEALTHCHECK CMD`` (a JSON array)."""
    argv = json.loads(args)
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise ValueError(f"not exec form: {args}")
    return argv


def healthcheck_argv(args: str) -> list[str]:
    """The command of ``HEALTHCHECK [--options] CMD [...]``."""
    _, _, command = args.partition("CMD ")
    return exec_form(command.strip())


def read_dockerignore(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line.strip("/"))
    return patterns


def ignored(rel: str, patterns: list[str]) -> bool:
    """Docker's rule, enough for our file: a path is out if it or a parent matches."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    out = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        for prefix in prefixes:
            candidates = [pat, pat.removeprefix("**/")] if pat.startswith("**/") else [pat]
            name_match = pat.startswith("**/") and fnmatch.fnmatch(
                prefix.split("/")[-1], candidates[1]
            )
            if fnmatch.fnmatch(prefix, pat) or name_match:
                out = not negate
    return out


def _copy_tree(src: Path, dest: Path, context: Path, patterns: list[str]) -> None:
    if src.is_file():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        return
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(context).as_posix()
        if path.is_dir() or ignored(rel, patterns):
            continue
        target = dest / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def rebase(value: str, root: Path) -> str:
    """Move image paths (``/opt/venv``, ``/srv/...``) under ``root``; leave system paths."""

    def sub(match: re.Match[str]) -> str:
        path = match.group(0)
        first = path.strip("/").split("/")[0]
        return path if first in SYSTEM_DIRS else str(root) + path

    return re.sub(r"(?<![\w.$])/[A-Za-z0-9_.\-/]+", sub, value)


def _expand(value: str, env: dict[str, str]) -> str:
    """``$NAME`` in an ``ENV`` value, as Docker expands it."""
    return re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), value)


@dataclass
class Image:
    root: Path
    workdir: Path
    env: dict[str, str]
    cmd: list[str]
    healthcheck: list[str]
    user: str | None


def replay(dockerfile: Path, context: Path, root: Path) -> Image:
    """Build the image's environment under ``root``; returns how to run its ``CMD``."""
    patterns = read_dockerignore(context)
    stages = parse(dockerfile.read_text())
    shim = root / ".python-shim"
    shim.mkdir(parents=True, exist_ok=True)
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    for name in ("python", "python3"):
        link = shim / name
        if not link.exists():
            link.symlink_to(base_python)
    host_env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    host_env["PATH"] = f"{shim}:{host_env.get('PATH', '/usr/bin:/bin')}"
    image = Image(root, root, {}, [], [], None)
    for stage in stages:
        env: dict[str, str] = {}
        workdir = root
        for ins in stage.instructions:
            if ins.keyword == "ENV":
                for item in shlex.split(ins.args):
                    key, _, value = item.partition("=")
                    if key == "PATH":  # image paths move under root; $PATH is the host's
                        value = rebase(value, root)
                    env[key] = _expand(value, {**host_env, **env})
            elif ins.keyword == "WORKDIR":
                workdir = Path(rebase(ins.args, root))
                workdir.mkdir(parents=True, exist_ok=True)
            elif ins.keyword == "COPY":
                parts = shlex.split(ins.args)
                from_stage = next((p for p in parts if p.startswith("--from=")), None)
                paths = [p for p in parts if not p.startswith("--")]
                *sources, dest = paths
                dest_path = Path(rebase(dest, root)) if dest.startswith("/") else workdir / dest
                for source in sources:
                    if from_stage:
                        src = Path(rebase(source, root))
                        if src.resolve() != dest_path.resolve():
                            shutil.copytree(src, dest_path, dirs_exist_ok=True, symlinks=True)
                    else:
                        src = context / source
                        target = (
                            dest_path / Path(source).name
                            if dest.endswith("/") and src.is_file()
                            else dest_path
                        )
                        _copy_tree(src, target, context, patterns)
            elif ins.keyword == "RUN":
                if ins.args.split()[0] in SKIPPED_RUN:
                    continue
                subprocess.run(
                    ["sh", "-c", rebase(ins.args, root)],
                    cwd=workdir,
                    env={**host_env, **env},
                    check=True,
                    stdout=sys.stderr,  # build output is a log, never the caller's result
                )
            elif ins.keyword == "CMD":
                image.cmd = exec_form(ins.args)
            elif ins.keyword == "HEALTHCHECK":
                image.healthcheck = healthcheck_argv(ins.args)
            elif ins.keyword == "USER":
                image.user = ins.args
        image.workdir, image.env = workdir, {**host_env, **env}
    return image

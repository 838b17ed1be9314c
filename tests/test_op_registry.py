"""The op registry is the one source of the AOT engine's op set: every entry names tests that exist and target
its op, README's coverage table is generated from it, and the generated C reads as C (designated initialisers)."""
import ast
from pathlib import Path

import pytest

from pipeline.compiler import coverage, registry

TESTS = Path(__file__).parent


def _case_ops() -> dict[str, str]:
    """Case name -> operator, from the literal tables of tests/test_kernels_ops.py and tests/op_cases.py."""
    cases = {}
    for path in (TESTS / "test_kernels_ops.py", TESTS / "op_cases.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            table = None
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict) and any(
                    isinstance(t, ast.Name) and t.id.endswith("CASES") for t in node.targets):
                table = node.value  # NAME_CASES = {...}
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update"
                  and isinstance(node.func.value, ast.Name) and node.func.value.id.endswith("CASES")):
                table = node.args[0]  # NAME_CASES.update({...})
            if isinstance(table, ast.Dict):
                for key, value in zip(table.keys, table.values):
                    op = value.elts[-2] if len(value.elts) == 4 else value.elts[-1]  # dilation cases: 4-tuples
                    cases[ast.literal_eval(key)] = ast.literal_eval(op)
    return cases


def _qemu_models() -> set[str]:
    tree = ast.parse((TESTS / "test_kernels_qemu.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "MODELS" for t in node.targets):
            return {ast.literal_eval(k) for k in node.value.keys}
    raise AssertionError("tests/test_kernels_qemu.py has no MODELS table")


def test_at_least_thirty_ops_each_with_a_kernel_and_tests():
    ops = registry.ops()
    assert len(ops) >= 30, sorted(ops)
    for spec in ops.values():
        assert spec.folded or spec.kernels, spec.name
        assert any(t.startswith("ops:") for t in spec.tests), f"{spec.name} names no per-op test"


def test_every_test_an_entry_names_exists_and_targets_its_op():
    cases, qemu = _case_ops(), _qemu_models()
    for spec in registry.ops().values():
        for test in spec.tests:
            kind, name = test.split(":", 1)
            if kind == "ops":
                assert cases.get(name) == spec.name, f"{spec.name}: case {name!r} targets {cases.get(name)}"
            else:
                assert kind == "qemu" and name in qemu, f"{spec.name}: no QEMU model {name!r}"


def test_readme_coverage_table_is_generated_from_the_registry():
    readme = coverage.README.read_text()
    assert coverage.readme_with_table(readme) == readme, "run: python -m pipeline.compiler.coverage --readme"
    assert coverage.coverage_table().count("\n") == len(registry.ops()) + 2


def test_registering_an_op_twice_or_with_a_bad_rule_is_refused():
    assert "ADD" in registry.ops()
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("ADD")(lambda *a: None)
    with pytest.raises(ValueError, match="in_place"):
        registry.register("NEW_OP", in_place="sideways")

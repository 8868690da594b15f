"""Constraint rules, checked on one constraint at a time (Nomad's Constraint.Validate)."""

import pytest

from nomadjail.structs.constraint import CONSTRAINT_OPERANDS, Constraint, constraint_errors


@pytest.mark.parametrize("constraint", [
    Constraint("${attr.kernel.name}", "freebsd", "="),
    Constraint("${attr.os.version}", ">= 13.0", "version"),
    Constraint("${meta.rack}", "r[0-9]+", "regexp"),
    Constraint("${attr.unique.hostname}", "", "is_set"),
    Constraint("", "", "distinct_hosts"),
    Constraint("${meta.rack}", "", "distinct_property"),
])
def test_good_constraints_have_no_errors(constraint):
    assert list(constraint_errors(constraint)) == []


@pytest.mark.parametrize("constraint, error", [
    (Constraint("${attr.a}", "b", "~="), "Unknown constraint type '~='"),
    (Constraint("${attr.a}", "", "="), "No RTarget provided for operator '='"),
    (Constraint("", "b", "="), "No LTarget provided but is required by constraint '='"),
    (Constraint("${attr.a}", "(", "regexp"), "Regular expression failed to compile"),
    (Constraint("${attr.a}", "newest", "semver"), "Version constraint is invalid"),
])
def test_each_rule_names_the_problem(constraint, error):
    assert any(error in e for e in constraint_errors(constraint))


def test_an_unknown_operand_is_the_only_error_reported():
    """Nothing else can be judged without knowing the operand."""
    assert list(constraint_errors(Constraint("", "", "near"))) == [
        "Unknown constraint type 'near'"]


def test_every_nomad_operand_is_known():
    assert {"=", "!=", "<", "<=", ">", ">=", "regexp", "version", "semver", "set_contains",
            "set_contains_all", "set_contains_any", "is_set", "is_not_set", "distinct_hosts",
            "distinct_property"} <= CONSTRAINT_OPERANDS


def test_a_constraint_prints_as_written():
    assert str(Constraint("${attr.kernel.name}", "freebsd", "=")) == (
        "${attr.kernel.name} = freebsd")
    assert str(Constraint("", "", "distinct_hosts")) == "distinct_hosts"

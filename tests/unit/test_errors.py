"""One error tree, one drawing: the tree drawn in ``newswatch.errors`` is the tree of the classes."""

from __future__ import annotations

import re

import newswatch.errors as errors


def drawn_tree() -> dict[str, str]:
    """child → parent, read from the drawing's indentation."""
    lines = [ln for ln in (errors.__doc__ or "").splitlines() if re.search(r"[├└]── |^\s+NewswatchError", ln)]
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in lines:
        m = re.match(r"^(?P<lead>[\s│├└─]*)(?P<name>[A-Z]\w+)", line)
        assert m, line
        depth, name = len(m.group("lead")), m.group("name")
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def real_tree() -> dict[str, str]:
    out: dict[str, str] = {}
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.NewswatchError) and cls is not errors.NewswatchError:
            out[name] = cls.__mro__[1].__name__
    return out


def test_the_drawing_is_the_class_tree() -> None:
    assert drawn_tree() == real_tree()


def test_extractors_errors_draws_no_second_tree() -> None:
    import extractors.errors

    assert "├──" not in (extractors.errors.__doc__ or ""), "draw the tree once, in newswatch/errors.py"


def test_every_error_has_a_stable_class_name() -> None:
    assert errors.StagingError("x").error_class == "StagingError"
    assert errors.classify(KeyError("x")) == "Unexpected:KeyError"

"""The examples in the docstrings of metrics/ and losses/ are run, so they cannot drift from the code."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest
import torch

import losses
import metrics
import metrics.functional

MODULES = sorted(
    {
        info.name
        for package in (metrics, metrics.functional, losses)
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + ".")
    }
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"torch": torch}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"

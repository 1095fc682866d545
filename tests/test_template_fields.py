"""Every template field of every operator and sensor is an instance attribute set in __init__."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest
from airflow.sdk import BaseOperator

import airflow_scf_snova.operators
import airflow_scf_snova.sensors
import airflow_scf_snova.transfers


def _operator_classes():
    for pkg in (
        airflow_scf_snova.operators,
        airflow_scf_snova.sensors,
        airflow_scf_snova.transfers,
    ):
        for info in pkgutil.iter_modules(pkg.__path__):
            module = importlib.import_module(f"{pkg.__name__}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseOperator) and cls.__module__ == module.__name__:
                    yield cls


def test_template_fields_are_init_parameters_or_set_in_init():
    checked = 0
    for cls in _operator_classes():
        # A subclass may leave its parent (e.g. common-sql's operator) to set inherited fields.
        source = "".join(
            inspect.getsource(klass.__init__)
            for klass in cls.__mro__
            if issubclass(klass, BaseOperator)
            and klass is not BaseOperator
            and "__init__" in vars(klass)
        )
        for field in cls.template_fields:
            assert f"self.{field} =" in source or f"self.{field}: " in source, (
                f"{cls.__name__}.{field} is a template field but __init__ does not set it"
            )
        checked += 1
    if checked == 0:
        pytest.skip("no operators yet")

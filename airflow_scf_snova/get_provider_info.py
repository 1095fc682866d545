"""Provider metadata read by Airflow's providers manager (entry point ``apache_airflow_provider``).

Imports nothing: Airflow calls this at start-up in every process.
"""

from __future__ import annotations

from airflow_scf_snova import __version__

PACKAGE = "airflow_scf_snova"
INTEGRATION_SCF = "Tencent Cloud Serverless Cloud Function (SCF)"
INTEGRATION_COS = "Tencent Cloud Object Storage (COS)"
INTEGRATION_SNOVA = "Tencent Cloud Snova Data Warehouse"

TENCENTCLOUD_FIELDS = {
    "region": {
        "label": "Region",
        "description": "Region of SCF and COS, e.g. ap-guangzhou.",
        "schema": {"type": ["string", "null"], "default": "ap-guangzhou"},
    },
    "appid": {
        "label": "AppId",
        "description": "Account APPID, appended to short bucket names (name-appid).",
        "schema": {"type": ["string", "null"], "pattern": "^[0-9]*$"},
    },
    "token": {
        "label": "Token",
        "description": "Session token of temporary (STS) credentials.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
    "namespace": {
        "label": "Namespace",
        "description": "SCF namespace.",
        "schema": {"type": ["string", "null"], "default": "default"},
    },
    "endpoint": {
        "label": "Endpoint",
        "description": (
            "Optional override that points the SCF and COS clients at one endpoint, such as the "
            "offline emulator (http://127.0.0.1:9100) or a private gateway."
        ),
        "schema": {"type": ["string", "null"]},
    },
    "code_bucket": {
        "label": "Code bucket",
        "description": (
            "Bucket (same region) where deploys stage SCF code packages too large to send in one "
            "API request (about 7.4 MB of zip)."
        ),
        "schema": {"type": ["string", "null"]},
    },
}


def _modules(*names: str) -> list[str]:
    return [f"{PACKAGE}.{name}" for name in names]


def get_provider_info() -> dict:
    """The provider-info dictionary (see Airflow's ``provider_info.schema.json``)."""
    return {
        "package-name": "airflow-scf-snova",
        "name": "Tencent Cloud SCF, COS and Snova",
        "description": (
            "Tencent Cloud Serverless Cloud Function (SCF), Cloud Object Storage (COS) and the "
            "Snova data warehouse, with an offline emulator of SCF and COS."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION_SCF,
                "external-doc-url": "https://www.tencentcloud.com/products/scf",
                "tags": ["service"],
            },
            {
                "integration-name": INTEGRATION_COS,
                "external-doc-url": "https://www.tencentcloud.com/products/cos",
                "tags": ["service"],
            },
            {
                "integration-name": INTEGRATION_SNOVA,
                "external-doc-url": "https://cloud.tencent.com/product/cdwpg",
                "tags": ["service"],
            },
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION_SCF,
                "python-modules": _modules(
                    "hooks.base",
                    "hooks.scf",
                    "hooks.scf_client",
                    "hooks.scf_functions",
                    "hooks.scf_layers",
                    "hooks.scf_logs",
                    "hooks.scf_triggers",
                    "hooks.scf_async",
                ),
            },
            {"integration-name": INTEGRATION_COS, "python-modules": _modules("hooks.cos")},
            {"integration-name": INTEGRATION_SNOVA, "python-modules": _modules("hooks.snova")},
        ],
        "operators": [
            {
                "integration-name": INTEGRATION_SCF,
                "python-modules": _modules(
                    "operators.scf",
                    "operators.scf_code",
                    "operators.scf_layers",
                    "operators.scf_triggers",
                    "operators.scf_async",
                    "operators.scf_bridge",
                ),
            },
            {"integration-name": INTEGRATION_COS, "python-modules": _modules("operators.cos")},
            {"integration-name": INTEGRATION_SNOVA, "python-modules": _modules("operators.snova")},
        ],
        "sensors": [
            {"integration-name": INTEGRATION_SCF, "python-modules": _modules("sensors.scf")},
            {"integration-name": INTEGRATION_COS, "python-modules": _modules("sensors.cos")},
        ],
        "triggers": [
            {"integration-name": INTEGRATION_SCF, "python-modules": _modules("triggers.scf")},
            {"integration-name": INTEGRATION_COS, "python-modules": _modules("triggers.cos")},
        ],
        "transfers": [
            {
                "source-integration-name": INTEGRATION_COS,
                "target-integration-name": INTEGRATION_SNOVA,
                "python-module": f"{PACKAGE}.transfers.cos_to_snova",
            },
            {
                "source-integration-name": INTEGRATION_SNOVA,
                "target-integration-name": INTEGRATION_COS,
                "python-module": f"{PACKAGE}.transfers.snova_to_cos",
            },
        ],
        "extra-links": [
            f"{PACKAGE}.links.scf.SCFFunctionLink",
            f"{PACKAGE}.links.scf.SCFFunctionLogsLink",
        ],
        "asset-uris": [
            {
                "schemes": ["cos"],
                "handler": f"{PACKAGE}.assets.cos.sanitize_uri",
                "factory": f"{PACKAGE}.assets.cos.create_asset",
            }
        ],
        "filesystems": _modules("fs.cos"),
        "connection-types": [
            {
                "connection-type": "tencentcloud",
                "hook-class-name": f"{PACKAGE}.hooks.base.TencentCloudBaseHook",
                "hook-name": "Tencent Cloud",
                "conn-fields": TENCENTCLOUD_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "schema", "port"],
                    "relabeling": {"login": "SecretId", "password": "SecretKey"},
                    "placeholders": {
                        "login": "AKIDxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                        "region": "ap-guangzhou",
                        "appid": "1250000000",
                        "namespace": "default",
                        "endpoint": "http://127.0.0.1:9100",
                    },
                },
            },
            {
                "connection-type": "snova",
                "hook-class-name": f"{PACKAGE}.hooks.snova.SnovaHook",
                "hook-name": "Snova (Tencent Cloud Data Warehouse)",
                "ui-field-behaviour": {
                    "hidden-fields": [],
                    "relabeling": {"schema": "Database"},
                    "placeholders": {"port": "5436", "schema": "postgres"},
                },
            },
        ],
    }

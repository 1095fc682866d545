"""Facts about Tencent Cloud SCF, COS and Snova, shared by the provider, the emulator and the
SCF functions. Pure Python, no Airflow: see the modules."""

__version__ = "0.2.0"

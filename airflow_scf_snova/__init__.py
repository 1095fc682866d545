"""Apache Airflow provider for Tencent Cloud SCF, COS and Snova."""

__version__ = "0.2.0"

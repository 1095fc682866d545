"""Filesystems Airflow's ``ObjectStoragePath`` finds through the provider's ``filesystems``."""

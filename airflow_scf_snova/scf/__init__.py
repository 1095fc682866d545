"""SCF logic behind the hook, operators and sensors, apart from the API calls themselves.

- :mod:`.packaging`: deterministic code packages (and the pure-Python packages copied into them);
- :mod:`.payloads`: invoke payloads, return values and execution failures;
- :mod:`.environment`: function environment variables (validation, masking, the code hash).
"""

"""COS logic behind the hook, sensors and triggers, apart from the API calls themselves.

- :mod:`.filters`: which object keys a sensor, trigger or listing selects (prefix, suffix, glob,
  regex, modification time, size);
- :mod:`.quiescence`: deciding that uploads under a prefix have finished;
- :mod:`.watermark`: the bounded memory of what an event trigger has already announced;
- :mod:`.streams`: the object download stream and the multipart upload the hook drives.
"""

"""The COS (Cloud Object Storage) half of the emulator: the XML API ``cos-python-sdk-v5`` speaks.

Layering, as in moto and LocalStack:

- :mod:`.urls`        Host/path -> bucket, key and operation (routing only);
- :mod:`.auth`        the ``q-sign-algorithm=sha1`` request signature;
- :mod:`.xml`         XML documents in and out;
- :mod:`.models`      buckets, objects and multipart uploads (state and rules, no HTTP);
- :mod:`.listing`     listing order, markers and common-prefix roll-up;
- :mod:`.storage`     bytes and JSON sidecars on disk (streamed, atomic, survives restarts);
- :mod:`.operations`  one function per API operation: HTTP request -> models -> HTTP response;
- :mod:`.service`     :class:`~.service.CosService`, the entry point the server calls.
"""

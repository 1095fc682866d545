"""The emulated COS (Cloud Object Storage) XML API, as ``cos-python-sdk-v5`` speaks it.

Layers, named as in :mod:`scf_snova_emulator.scf` (and moto):

- :mod:`.urls`        Host/path -> bucket, key and operation (routing only);
- :mod:`.auth`        the ``q-sign-algorithm=sha1`` request signature;
- :mod:`.wire`        XML documents in and out;
- :mod:`.models`      buckets, objects, multipart uploads and parts (plain records, no HTTP);
- :mod:`.backend`     the rules over the models: create, copy, list, assemble uploads;
- :mod:`.responses`   one function per API operation: HTTP request -> backend -> HTTP response;
- :mod:`.exceptions`  the COS errors, each carrying its code and HTTP status;
- :mod:`.storage`     bytes and JSON sidecars on disk (streamed, atomic, survives restarts);
- :mod:`.service`     :class:`~.service.CosService`, the entry point the server calls.

An extra only COS needs: :mod:`.listing` (listing order, markers and common-prefix roll-up).
"""

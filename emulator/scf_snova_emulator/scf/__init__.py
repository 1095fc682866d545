"""The emulated SCF (Serverless Cloud Function) API 3.0 endpoint.

Layers, named as in :mod:`scf_snova_emulator.cos` (and moto):

- :mod:`.urls`        ``X-TC-Action`` and ``X-TC-Version`` -> the responses method (routing only);
- :mod:`.auth`        the TC3-HMAC-SHA256 request signature;
- :mod:`.wire`        the ``{"Response": ...}`` envelope, and models rendered as response objects;
- :mod:`.models`      functions, versions, triggers and invocations (plain state, no HTTP);
- :mod:`.backend`     the state machine over the models: status lifecycle, versions, triggers;
- :mod:`.responses`   one method per action: request parameters -> backend -> response fields
                      (the asynchronous actions in :mod:`.async_events`);
- :mod:`.exceptions`  the API errors, each carrying its error code;
- :mod:`.storage`     state, code packages and invocation records on disk;
- :mod:`.service`     :class:`~.service.ScfService`, the entry point the server calls.

Extras only SCF needs: :mod:`.validation` (request parameters), :mod:`.code` (code packages),
:mod:`.triggers` (timer and COS trigger rules), :mod:`.scheduler` (timers on their cron),
:mod:`.invoker` and :mod:`.invocations` (running functions, their history), :mod:`.logship`
(their log lines as CLS records), :mod:`.runtime` (a child process running :mod:`.bootstrap`),
:mod:`.async_config` and :mod:`.retries` (a function's asynchronous settings, SCF's retries of
failed asynchronous runs).
"""

"""The CLS (Cloud Log Service) half of the emulator: the log topic SCF ships every invocation's log
lines to, and ``SearchLog`` (API 3.0 version ``2020-10-16``, TC3 service ``cls``) to read them.

Requests reach it on the emulator's one port, told apart from SCF's by ``X-TC-Version``. It reuses
the API 3.0 layers of :mod:`..scf` (the envelope, TC3 verification, error codes) and has its own
``urls``, ``models``, ``backend``, ``query`` (the search syntax), ``responses``, ``storage`` and
``service``.
"""

"""The use cases both front ends call: the command line (``tui/commands``) and the console.

Each module takes a :class:`usecases.services.Services` and a request, does the
work with ``core`` and ``storage``, and returns a typed result; the front ends
only parse their input and show that result. This package imports neither
Textual nor click nor ``tui``.
"""

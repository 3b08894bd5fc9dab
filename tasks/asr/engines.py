"""The ASR engines, each declared once in its own module (``SPEC``: the runtime it needs,
the GPUs that runtime sees, where its model is and how it is installed, how it is made).
``REGISTRY`` holds them in order of preference for ``auto``; the settings' choices, the
``lantai models install --engine`` option and the enrich flow read it
(``tests/tasks/test_asr_choice.py``). A third engine is one module with a ``SPEC`` and its
name in the line below."""

from __future__ import annotations

from tasks.asr import AsrEngineSpec, ctranslate, torch_whisper

REGISTRY: dict[str, AsrEngineSpec] = {spec.name: spec for spec in (ctranslate.SPEC, torch_whisper.SPEC)}
ENGINES: tuple[str, ...] = ("auto", *REGISTRY)

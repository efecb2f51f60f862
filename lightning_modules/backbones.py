"""timm backbones with pretrained weights that load offline or fail with advice, never a hang."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from deepfake_suite.errors import SuiteError

_BOOLEAN_WORDS = {"true", "false", "yes", "no", "on", "off", "0", "1"}
_HUB_FILES = ("model.safetensors", "pytorch_model.bin")


def create_backbone(name: str, pretrained: bool | str, key: str = "model.init_args.pretrained") -> nn.Module:
    """A timm feature extractor (``num_classes=0``: pooled features, no classifier).

    Args:
        name: timm model name, optionally with a weight tag (``resnet50.tv_in1k``).
        pretrained: ``False`` for random init, ``True`` for the timm weights (taken from the local
            cache when present, so offline machines work once the cache is filled), or the path of
            a local weight file (``.pth``/``.bin``/``.safetensors``).
        key: Config key named in error messages.
    """
    if isinstance(pretrained, str):
        if pretrained.strip().lower() in _BOOLEAN_WORDS:
            # The dual-level authors' code read booleans as strings, so "False" meant True.
            raise SuiteError(f"{key}: got the string {pretrained!r}; write true/false without quotes")
        path = Path(pretrained).expanduser()
        if not path.is_file():
            raise SuiteError(f"{key}: weight file not found: {path}")
        return _create(name, pretrained=True, file=str(path))
    if not pretrained:
        return _create(name, pretrained=False)
    cached = cached_weights_file(name)
    if cached is not None:
        return _create(name, pretrained=True, file=cached)
    host = _weights_host(name)
    if host is not None and not _reachable(host):
        raise SuiteError(
            f"pretrained weights for '{name}' are not in the local cache and {host} cannot be reached. "
            f"Download them on a machine with internet (they land in the Hugging Face / torch hub "
            f"cache), pass a local file with {key}=/path/to/weights.pth, or set {key}=false"
        )
    return _create(name, pretrained=True)


def backbone_width(backbone: nn.Module) -> int:
    """Width of the pooled features a ``num_classes=0`` timm model returns.

    MobileNetV3 and a few others put a conv head after pooling (960 -> 1280 channels), so their
    output is ``head_hidden_size`` wide, not ``num_features``; sizing a layer from
    ``num_features`` alone fails at the first batch for them.
    """
    width = getattr(backbone, "head_hidden_size", None) or getattr(backbone, "num_features", None)
    if width is None:
        raise SuiteError(f"{type(backbone).__name__} exposes neither head_hidden_size nor num_features")
    return int(width)


def _create(name: str, pretrained: bool, file: str | None = None) -> nn.Module:
    overlay = {"file": file} if file else None
    try:
        return timm.create_model(name, pretrained=pretrained, num_classes=0, pretrained_cfg_overlay=overlay)
    except RuntimeError as error:
        if "Unknown model" in str(error):
            raise SuiteError(f"model.init_args.backbone: timm has no model named '{name}'") from None
        raise
    except (OSError, ValueError) as error:
        raise SuiteError(f"cannot load pretrained weights for '{name}': {error}") from None


def cached_weights_file(name: str) -> str | None:
    """Path of already-downloaded weights for ``name`` in the HF hub or torch hub cache, if any."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        for filename in _HUB_FILES:
            found = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(found, str):
                return found
    if cfg.url:
        candidate = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(str(cfg.url)).path)
        if candidate.is_file():
            return str(candidate)
    return None


def _weights_host(name: str) -> str | None:
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        return urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    return urlparse(str(cfg.url)).hostname if cfg.url else None


def _reachable(host: str, timeout: float = 3.0) -> bool:
    """A quick TCP check, so that an offline machine fails in seconds instead of retrying for a minute."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True  # a proxy may reach what a direct connection cannot
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False

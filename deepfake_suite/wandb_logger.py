"""Weights & Biases logger that works with no account and goes online when a key exists."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger

WandbMode = Literal["auto", "online", "offline", "disabled"]


def find_wandb_api_key() -> bool:
    """Whether a W&B API key is configured (``WANDB_API_KEY`` or ``wandb login``'s netrc entry).

    Checked without importing wandb or touching the network, so that "no key" never prompts
    or hangs on a machine without internet.
    """
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname or "api.wandb.ai"
    netrc_path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    if not netrc_path.is_file():
        return False
    try:
        return netrc.netrc(str(netrc_path)).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


def resolve_wandb_mode(mode: WandbMode) -> Literal["online", "offline", "disabled"]:
    """Turn ``auto`` into ``online`` or ``offline``; an explicit ``WANDB_MODE`` wins over the config."""
    env_mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if env_mode in {"online", "offline", "disabled"}:
        return env_mode  # type: ignore[return-value]
    if env_mode == "dryrun":
        return "offline"
    if mode == "auto":
        return "online" if find_wandb_api_key() else "offline"
    return mode


class SuiteWandbLogger(WandbLogger):
    """``WandbLogger`` whose default mode needs no account.

    With ``mode="auto"`` runs go online when an API key is configured and are written offline
    otherwise (upload them later with ``wandb sync <save_dir>/wandb/offline-run-*``). The CLI
    fills ``name`` and ``save_dir`` from ``--run_name`` when they are left empty.

    Args:
        project: W&B project that collects the suite's runs.
        name: Display name of the run; the CLI sets it to the run name.
        group: Group shown in the W&B UI, e.g. the paper table a run feeds.
        tags: Tags for dashboard filters (detector, loss, dataset, ...).
        mode: ``auto``, ``online``, ``offline`` or ``disabled``.
        save_dir: Folder for the local ``wandb/`` directory; the CLI sets it to the run folder.
        entity: W&B team or user; ``None`` uses the account's default.
        log_model: Upload checkpoints as artifacts (``True``, ``"all"``) or not.
        job_type: W&B job type, e.g. ``fit`` or ``test``.
    """

    def __init__(
        self,
        project: str = "deepfake-suite",
        name: str | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        mode: WandbMode = "auto",
        save_dir: str = "runs",
        entity: str | None = None,
        log_model: bool | Literal["all"] = False,
        job_type: str | None = None,
    ) -> None:
        resolved = resolve_wandb_mode(mode)
        self.wandb_mode = resolved
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        # wandb's own prompts and console banners are noise in a CLI job; keep errors visible.
        os.environ.setdefault("WANDB_SILENT", "true")
        super().__init__(
            name=name,
            project=project,
            save_dir=save_dir,
            offline=resolved == "offline",
            log_model=log_model if resolved == "online" else False,
            entity=entity,
            group=group,
            tags=list(tags or []),
            job_type=job_type,
            mode=resolved,
        )
        # Lightning always passes `anonymous`, which current wandb releases only warn about.
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)

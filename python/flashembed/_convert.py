"""Helpers the native module calls: JSON for metadata and filter parameters,
and the tqdm progress bar of ``Collection.ingest(progress=True)``."""

from __future__ import annotations

import json
from typing import Any, Callable, Optional


def _default(value: Any) -> Any:
    # NumPy scalars and arrays (np.int64, np.float32, ...) as plain numbers / lists.
    item = getattr(value, "tolist", None)
    if item is not None:
        return item()
    raise TypeError(f"metadata value of type {type(value).__name__} is not JSON serialisable")


_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=_default
)


def dumps(value: Any) -> str:
    """Compact JSON text of a dict (metadata, filter parameters)."""
    try:
        return _encoder.encode(value)
    except (TypeError, ValueError, RecursionError) as e:
        from .errors import InvalidArgument

        raise InvalidArgument(f"metadata is not JSON: {e}") from None


def tqdm_progress() -> Optional[Callable[[Any], None]]:
    """A progress callback drawing a tqdm bar over files, or None without tqdm."""
    try:
        from tqdm import tqdm  # type: ignore[import-not-found]
    except ImportError:
        return None
    bar = None

    def update(progress: Any) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=progress.files_total, unit="file")
        bar.n = progress.files_read
        bar.set_postfix(documents=progress.documents, chunks=progress.chunks, refresh=False)
        bar.refresh()
        if progress.files_read >= progress.files_total:
            bar.close()

    return update

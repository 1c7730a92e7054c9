"""A searchable knowledge base: passages of Markdown and plain-text files, embedded.

:func:`~voxgate.agents.passages.split_passages` cuts the files; this module reads them,
embeds the passages and ranks them against a query. Vectors are cached on disk, one
``.npz`` per source file, keyed by the file's content, the embedder's
:attr:`~voxgate.agents.embeddings.Embedder.model_id` and
:data:`~voxgate.agents.passages.SPLITTER_VERSION`; a stale entry is rewritten, an unreadable
one is logged and ignored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voxgate.agents.embeddings import EMBEDDING_DIM, Embedder
from voxgate.agents.passages import SPLITTER_VERSION, SUFFIXES, Passage, split_passages
from voxgate.audio.pcm import Float32Array
from voxgate.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredPassage:
    passage: Passage
    score: float
    """Cosine similarity with the query; only meaningful to rank passages of one search."""


class KnowledgeBase:
    """Passages and their vectors, searchable by meaning. Immutable once built."""

    def __init__(
        self, passages: Sequence[Passage], vectors: Float32Array, embedder: Embedder
    ) -> None:
        """Prefer :meth:`load`. ``vectors``: one L2-normalised row per passage.

        Raises :class:`ValueError` if the shapes disagree.
        """
        if vectors.shape != (len(passages), EMBEDDING_DIM):
            raise ValueError(
                f"vectors of shape {vectors.shape} for {len(passages)} passages"
                f" of dimension {EMBEDDING_DIM}"
            )
        self.passages: tuple[Passage, ...] = tuple(passages)
        self.vectors: Float32Array = np.ascontiguousarray(vectors, dtype=np.float32)
        self.embedder = embedder

    def __len__(self) -> int:
        return len(self.passages)

    @classmethod
    def load(
        cls, paths: Sequence[Path], embedder: Embedder, cache_dir: Path | None = None
    ) -> KnowledgeBase:
        """Read, split and embed every knowledge file under ``paths``.

        A path is a file or a folder searched recursively for ``*.md``, ``*.markdown`` and
        ``*.txt`` (hidden entries skipped, sorted). With ``cache_dir``, unchanged files
        reuse their stored vectors. Blocking (a cache miss embeds for ~0.1 s a passage on
        2 cores, ~1.5 s for the demo file; a hit takes a few ms): call it at startup, or
        through ``asyncio.to_thread``.

        Raises :class:`~voxgate.errors.ConfigError` naming the path if it does not exist,
        is not a supported file type, cannot be read or is not UTF-8 text. Paths are all
        checked for existence before anything is embedded.
        """
        passages: list[Passage] = []
        vectors: list[Float32Array] = []
        for file, source in _files(paths):
            try:
                content = file.read_bytes()
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise ConfigError(f"knowledge file {file} is not UTF-8 text: {exc}") from None
            except OSError as exc:
                raise ConfigError(f"cannot read knowledge file {file}: {exc}") from exc
            found = split_passages(text, source, markdown=file.suffix.lower() != ".txt")
            key = _cache_key(content, embedder)
            cached = _read_cache(cache_dir, file, key, len(found)) if cache_dir else None
            if cached is None:
                cached = embedder.embed_passages([p.embedding_text for p in found])
                if cache_dir is not None:
                    _write_cache(cache_dir, file, key, cached)
            passages.extend(found)
            vectors.append(cached)
        matrix = np.concatenate(vectors) if vectors else np.empty((0, EMBEDDING_DIM), np.float32)
        return cls(passages, matrix, embedder)

    def search(self, query: str, k: int = 3) -> list[ScoredPassage]:
        """The ``k`` passages closest in meaning to ``query``, best first.

        Blocking (~20 ms, nearly all embedding the query): from async code use
        :meth:`asearch`. An empty
        knowledge base or a blank query gives ``[]``. Raises :class:`ValueError` if ``k < 1``.
        """
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if not self.passages or not query.strip():
            return []
        return self._rank(self.embedder.embed_queries([query])[0], k)

    async def asearch(self, query: str, k: int = 3) -> list[ScoredPassage]:
        """:meth:`search`, embedding the query in the embedder's thread pool."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if not self.passages or not query.strip():
            return []
        return self._rank((await self.embedder.aembed_queries([query]))[0], k)

    def search_vector(self, query: Float32Array, k: int = 3) -> list[ScoredPassage]:
        """Rank by an already embedded query (from ``embed_queries``); no embedding cost."""
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        return self._rank(query, k) if self.passages else []

    def _rank(self, query: Float32Array, k: int) -> list[ScoredPassage]:
        scores = self.vectors @ query
        best = np.argsort(-scores, kind="stable")[:k]
        return [ScoredPassage(passage=self.passages[i], score=float(scores[i])) for i in best]


def _files(paths: Sequence[Path]) -> list[tuple[Path, str]]:
    """(file, source name) once per file, in a deterministic order; checked before any work."""
    files: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise ConfigError(f"knowledge path not found: {path}")
        if path.is_dir():
            found = sorted(
                (p.relative_to(path).as_posix(), p)
                for p in path.rglob("*")
                if p.suffix.lower() in SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            listed = [(p, source) for source, p in found]
        elif path.suffix.lower() in SUFFIXES:
            listed = [(path, path.name)]
        else:
            raise ConfigError(f"knowledge file {path} is not one of {', '.join(sorted(SUFFIXES))}")
        for file, source in listed:
            resolved = file.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append((file, source))
    return files


# -- the vector cache --------------------------------------------------------------------


def _cache_key(content: bytes, embedder: Embedder) -> str:
    digest = hashlib.sha256(content)
    digest.update(f"\0{embedder.model_id}\0{SPLITTER_VERSION}".encode())
    return digest.hexdigest()


def _cache_path(cache_dir: Path, file: Path) -> Path:
    """One cache file per source file: a changed file overwrites its stale entry."""
    where = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", file.stem)[:40]
    return cache_dir / f"{stem}-{where}.npz"


def _read_cache(cache_dir: Path, file: Path, key: str, count: int) -> Float32Array | None:
    """The stored vectors if they match ``key``; None if absent, stale or unreadable."""
    path = _cache_path(cache_dir, file)
    if not path.exists():
        return None
    try:
        # Our own handle: np.load leaks the one it opens when the zip is corrupt.
        with path.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
            stored_key = str(data["key"])
            vectors: Float32Array = np.asarray(data["vectors"], dtype=np.float32)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        log.warning(
            "ignoring unreadable knowledge cache %s (%s: %s)", path, type(exc).__name__, exc
        )
        return None
    if stored_key != key:
        return None
    if vectors.shape != (count, EMBEDDING_DIM) or not np.isfinite(vectors).all():
        log.warning("ignoring knowledge cache %s: vectors of shape %s", path, vectors.shape)
        return None
    return vectors


def _write_cache(cache_dir: Path, file: Path, key: str, vectors: Float32Array) -> None:
    """Store atomically (write, then rename); a failure is logged, never raised."""
    path = _cache_path(cache_dir, file)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, key=np.array(key), vectors=vectors)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("cannot write knowledge cache %s (%s)", path, exc)

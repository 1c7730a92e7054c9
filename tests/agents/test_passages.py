"""Splitting knowledge files into passages: headings, blocks, sentences, sizes."""

from __future__ import annotations

from pathlib import Path

from voxgate.agents.passages import HEADING_SEPARATOR, MAX_WORDS, MIN_WORDS, split_passages

DEMO = Path(__file__).resolve().parents[2] / "agents" / "knowledge" / "blue-door-bistro.md"


def path(*titles: str) -> str:
    return HEADING_SEPARATOR.join(titles)


def sentences(count: int, words: int = 10) -> str:
    """``count`` sentences of ``words`` words each, numbered so each is distinct."""
    return " ".join(
        f"Sentence {i} " + " ".join(["word"] * (words - 3)) + " here." for i in range(count)
    )


def test_headings_give_paths_and_lines() -> None:
    text = (
        "Welcome to the house.\n"  # 1
        "\n"
        "# Menu\n"  # 3
        "\n"
        "## Desserts\n"  # 5
        "\n"
        "Tart, £7.\n"  # 7
        "\n"
        "## Drinks ##\n"  # 9
        "Wine, £6.\n"  # 10
        "\n"
        "# Hours\n"  # 12
        "Noon to ten.\n"  # 13
    )
    passages = split_passages(text, "x.md")
    assert [(p.heading, p.line, p.text) for p in passages] == [
        ("", 1, "Welcome to the house."),
        (path("Menu", "Desserts"), 7, "Tart, £7."),
        (path("Menu", "Drinks"), 10, "Wine, £6."),
        ("Hours", 13, "Noon to ten."),
    ]
    assert all(p.source == "x.md" for p in passages)
    assert passages[1].embedding_text == f"{path('Menu', 'Desserts')}\nTart, £7."
    assert passages[0].embedding_text == "Welcome to the house."


def test_setext_headings_fences_rules_and_front_matter() -> None:
    text = (
        "---\n"
        "title: ignored\n"
        "---\n"
        "Policies\n"  # 4
        "========\n"
        "\n"
        "```\n"  # 7
        "# not a heading\n"  # 8
        "```\n"
        "\n"
        "Pets\n"  # 11
        "----\n"
        "Dogs on the **terrace**, see [our page](https://example.org/dogs).\n"  # 13
        "\n"
        "***\n"
        "Call `01234`.\n"  # 16
    )
    passages = split_passages(text, "p.md")
    assert [(p.heading, p.line) for p in passages] == [
        ("Policies", 8),
        (path("Policies", "Pets"), 13),
    ]
    assert passages[0].text == "# not a heading"
    assert passages[1].text == (
        "Dogs on the terrace, see our page (https://example.org/dogs).\nCall 01234."
    )


def test_plain_text_has_no_headings() -> None:
    passages = split_passages("# not a heading here\nstill the same paragraph\n", "notes.txt")
    assert [(p.heading, p.line) for p in passages] == [("", 1)]
    assert passages[0].text == "# not a heading here still the same paragraph"


def test_long_paragraph_is_split_at_sentences() -> None:
    lines = [sentences(1, 10) for _ in range(30)]  # 300 words, one sentence a line
    lines = [line.replace("Sentence 0", f"Sentence {i}") for i, line in enumerate(lines)]
    passages = split_passages("# Story\n" + "\n".join(lines) + "\n", "s.md")
    assert len(passages) == 3
    assert all(MIN_WORDS <= len(p.text.split()) <= MAX_WORDS for p in passages)
    assert all(p.text.endswith("here.") and p.text.startswith("Sentence") for p in passages)
    assert " ".join(p.text for p in passages) == " ".join(lines)
    for p in passages:  # each piece starts on the line of its first sentence
        number = int(p.text.split()[1])
        assert p.line == number + 2


def test_endless_sentence_is_split_at_words() -> None:
    text = " ".join(["word"] * 300)
    passages = split_passages(text, "w.md")
    assert [len(p.text.split()) for p in passages] == [100, 100, 100]


def test_abbreviations_do_not_end_sentences() -> None:
    text = sentences(8) + " Ask Mr. Smith at 12 St. Mary Street, e.g. on Monday. " + sentences(8)
    passages = split_passages(text, "a.md")
    assert any("Ask Mr. Smith at 12 St. Mary Street, e.g. on Monday." in p.text for p in passages)


def test_small_blocks_are_merged_but_not_across_headings() -> None:
    text = (
        "# A\n"
        "First tiny paragraph.\n"  # 2
        "\n"
        "- item one\n"
        "- item two\n"
        "\n"
        "Another tiny one.\n"
        "\n"
        "# B\n"
        "Tiny under B.\n"  # 10
    )
    passages = split_passages(text, "m.md")
    assert [(p.heading, p.line) for p in passages] == [("A", 2), ("B", 10)]
    assert passages[0].text == "First tiny paragraph.\n- item one\n- item two\nAnother tiny one."


def test_long_list_is_split_at_items() -> None:
    items = [f"- item {i} " + " ".join(["dish"] * 12) for i in range(20)]  # 280 words
    passages = split_passages("# Menu\n" + "\n".join(items) + "\n", "l.md")
    assert len(passages) == 3
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    assert [p.line for p in passages] == [2, 2 + 7, 2 + 14]
    assert "\n".join(p.text for p in passages) == "\n".join(items)


def test_tables_keep_rows() -> None:
    text = "| Dish | Price |\n|---|---:|\n| Fish | £19.50 |\n| Tart | £7 |\n"
    passages = split_passages(text, "t.md")
    assert [p.text for p in passages] == ["Dish | Price\nFish | £19.50\nTart | £7"]


def test_demo_passages_are_sized_and_located() -> None:
    lines = DEMO.read_text(encoding="utf-8").splitlines()
    passages = split_passages(DEMO.read_text(encoding="utf-8"), DEMO.name)
    assert 10 <= len(passages) <= 20
    assert all(len(p.text.split()) <= MAX_WORDS for p in passages)
    for p in passages:
        first_words = " ".join(p.text.removeprefix("- ").split()[:3])
        assert first_words in lines[p.line - 1], (p.line, p.text)
    assert len({p.heading for p in passages}) == len(passages)  # small file: one per section
    demo_words = sum(len(line.split()) for line in lines)
    assert 400 <= demo_words <= 650

"""``source: text``: token windows with next-token targets, a split without shared text, tokenizers, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dlcheck.data import DataBundle
from dlcheck.data.text import BUNDLED_TEXT, ByteCodec, CharacterCodec, Vocabulary, load_codec, read_text_tokens
from dlcheck.errors import DataError, RecipeError
from dlcheck.recipe import parse_recipe

from .conftest import load

WORD_TOKENIZER = '''
class Words:
    """A word-level tokenizer: one id per distinct word of a fixed list, 0 for anything else."""

    def __init__(self, words):
        self.words = ["<unk>", *words]
        self.vocab_size = len(self.words)

    def encode(self, text):
        index = {word: number for number, word in enumerate(self.words)}
        return [index.get(word, 0) for word in text.split()]

    def decode(self, ids):
        return " ".join(self.words[number] for number in ids)


def make(words):
    return Words(words)
'''


@pytest.fixture(scope="module")
def bundled() -> DataBundle:
    return load(source="text", context_length=32, val_fraction=0.1)


def _pair(split: object) -> tuple[torch.Tensor, torch.Tensor]:
    assert isinstance(split, tuple)
    return split


def test_bundled_text_is_the_public_domain_novel_with_its_licence_note() -> None:
    assets = Path(__file__).parents[2] / "dlcheck" / "data" / "_assets"
    text = (assets / BUNDLED_TEXT).read_text(encoding="utf-8")
    assert text.startswith("Persuasion\n\n\nby\n\nJane Austen") and text.rstrip().endswith("(End of volume one.)")
    assert "gutenberg" not in text.lower()  # header, licence and trademark stripped
    assert 150_000 < len(text.encode("utf-8")) < 300_000
    note = (assets / "PERSUASION_LICENSE.md").read_text(encoding="utf-8")
    assert "public domain" in note and "1817" in note


def test_windows_predict_the_next_token_and_ids_stay_integers(bundled: DataBundle) -> None:
    inputs, targets = _pair(bundled.train)
    assert inputs.dtype == targets.dtype == torch.int64 and inputs.shape[1:] == (32,)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])  # the target at t is the input at t + 1
    assert torch.equal(inputs[1:, 0], targets[:-1, -1])  # windows tile the stream (stride = context_length)
    assert bundled.sequence and bundled.input_shape == (32,) and bundled.vocabulary_size == 75
    assert bundled.normalization is None  # normalize: auto never touches token ids
    described = bundled.describe()
    assert described["task"] == "sequence" and described["tokens"] == "75 characters"
    assert described["context_length"] == 32 and "train_class_counts" not in described


def test_validation_is_one_block_after_the_training_text(bundled: DataBundle) -> None:
    stream = read_text_tokens(None, directory=Path(".")).tokens
    train_inputs, train_targets = _pair(bundled.train)
    val_inputs, val_targets = _pair(bundled.val)
    cut = stream.numel() - int(stream.numel() * 0.1)
    for inputs, targets, start in ((train_inputs, train_targets, 0), (val_inputs, val_targets, cut)):
        windows = inputs.shape[0]
        spans = start + 32 * torch.arange(windows)[:, None] + torch.arange(33)  # (W, 33) stream positions read
        assert torch.equal(inputs, stream[spans[:, :32]]) and torch.equal(targets, stream[spans[:, 1:]])
        if start == 0:
            assert int(spans.max()) < cut  # no training target reaches into the validation block
        else:
            assert int(spans.min()) == cut


def test_overlapping_windows_with_a_stride(tmp_path: Path) -> None:
    (tmp_path / "abc.txt").write_text("abcdefghij" * 10, encoding="utf-8")
    bundle = load(tmp_path, source="text", path="abc.txt", context_length=4, window_stride=2, val_fraction=0.0)
    inputs, _ = _pair(bundle.train)
    assert bundle.val is None and inputs.shape == ((100 - 1 - 4) // 2 + 1, 4)
    codec = CharacterCodec(bundle.vocabulary.characters) if bundle.vocabulary else None
    assert codec is not None and codec.decode(inputs[1].tolist()) == "cdef"


def test_bytes_read_the_raw_file(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes("café au lait ".encode() * 8 + b"\xff\xfe")
    bundle = load(tmp_path, source="text", path="latin.txt", tokenizer="bytes", context_length=8, val_fraction=0.2)
    assert bundle.vocabulary == Vocabulary("bytes", 256) and bundle.num_classes == 256
    inputs, _ = _pair(bundle.train)
    assert ByteCodec().decode(inputs[0].tolist()) == "café au"  # 8 bytes: é is two


def test_a_file_that_is_not_utf8_names_the_byte_and_suggests_bytes(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1") * 20)
    with pytest.raises(DataError, match=r"latin1\.txt.*byte 3 is not UTF-8.*tokenizer: bytes"):
        load(tmp_path, source="text", path="latin1.txt", context_length=8)


def test_a_users_tokenizer_from_next_to_the_recipe(tmp_path: Path) -> None:
    (tmp_path / "word_tokens.py").write_text(WORD_TOKENIZER, encoding="utf-8")
    (tmp_path / "story.txt").write_text("the cat sat on the mat " * 40, encoding="utf-8")
    bundle = load(
        tmp_path,
        source="text",
        path="story.txt",
        tokenizer="word_tokens:make",
        tokenizer_args={"words": ["the", "cat", "sat", "on", "mat"]},
        context_length=5,
    )
    assert bundle.vocabulary is not None and bundle.vocabulary.kind == "tokenizer"
    assert bundle.num_classes == 6  # the tokenizer's vocab_size, not the largest id seen + 1
    codec = load_codec(bundle.vocabulary, directory=tmp_path)
    inputs, _ = _pair(bundle.train)
    assert codec.decode(inputs[0].tolist()) == "the cat sat on the"
    state = bundle.vocabulary.to_state()
    assert json.loads(json.dumps(state)) == state  # plain values only
    assert Vocabulary.from_state(state, where="checkpoint") == bundle.vocabulary


def test_tokenizer_errors_name_the_key(tmp_path: Path) -> None:
    (tmp_path / "story.txt").write_text("one two three " * 30, encoding="utf-8")
    with pytest.raises(RecipeError, match=r"data\.tokenizer"):
        load(tmp_path, source="text", path="story.txt", tokenizer="missing_module:make", context_length=4)
    (tmp_path / "not_a_tokenizer.py").write_text("def make():\n    return 42\n", encoding="utf-8")
    with pytest.raises(DataError, match="without an `encode` method"):
        load(tmp_path, source="text", path="story.txt", tokenizer="not_a_tokenizer:make", context_length=4)


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"context_length": 400_000}, r"has 172421 tokens, fewer than context_length \+ 1 = 400001"),
        ({"context_length": 64, "val_fraction": 0.0001}, "leaves 21 for validation"),
    ],
)
def test_windows_that_do_not_fit(settings: dict[str, object], words: str) -> None:
    with pytest.raises(DataError, match=words):
        load(source="text", **settings)


def _recipe_issues(data: str) -> list[tuple[str, str]]:
    text = f"data: {data}\nmodel: {{layers: [{{type: embedding, dim: 8}}, {{type: lm_head}}]}}\n"
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text, source="r.yaml")
    return [(issue.path, issue.message) for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("data", "path", "words"),
    [
        ("{source: text}", "data.source", "needs data.context_length"),
        ("{source: text, context_length: 8, augment: {flip: horizontal}}", "data.augment", "token ids"),
        ("{source: text, context_length: 8, tokenizer: chars}", "data.tokenizer", "characters or bytes"),
        ("{source: text, context_length: 8, tokenizer_args: {a: 1}}", "data.tokenizer_args", "module:callable"),
        ("{source: digits, context_length: 8}", "data.context_length", "text only"),
    ],
)
def test_recipe_rules_for_text(data: str, path: str, words: str) -> None:
    issues = _recipe_issues(data)
    assert any(found == path and words in message for found, message in issues), issues


def test_ignore_index_needs_token_sequences_and_cross_entropy() -> None:
    with pytest.raises(DataError, match="ignore_index = -1: ignoring a target id works for token sequences"):
        load(source="spirals", samples=60, ignore_index=-1)
    text = "data: {source: text, context_length: 8, ignore_index: 0}\nmodel: {layers: [{type: embedding, dim: 8}]}\nloss: mse\n"
    with pytest.raises(RecipeError) as caught:
        parse_recipe(text, source="r.yaml")
    assert any(issue.path == "data.ignore_index" for issue in caught.value.issues)


FACTORY = """
import torch

def windows(pad=False):
    stream = torch.arange(400) % 7
    inputs = stream[:-1].unfold(0, 9, 9).clone()
    targets = stream[1:].unfold(0, 9, 9).clone()
    if pad:
        targets[:, -2:] = -100  # padding the loss should skip
    return (inputs[:30], targets[:30]), (inputs[30:], targets[30:])
"""


def test_a_factory_returning_token_windows_is_a_sequence_task(tmp_path: Path) -> None:
    (tmp_path / "token_data.py").write_text(FACTORY, encoding="utf-8")
    bundle = load(tmp_path, factory="token_data:windows")
    assert bundle.sequence and bundle.vocabulary_size == 7 and bundle.vocabulary is None
    padded = load(tmp_path, factory="token_data:windows", args={"pad": True}, ignore_index=-100)
    assert padded.sequence and padded.vocabulary_size == 7 and padded.ignore_index == -100
    with pytest.raises(DataError, match=r"mark padding targets with data\.ignore_index"):
        load(tmp_path, factory="token_data:windows", args={"pad": True})

import dataclasses
import hashlib
import zipfile

import numpy as np
import pytest

from lmkit.corpus import datasets
from lmkit.corpus.datasets import (BrownSource, bengio_split, brown_sentences, dataset_file, download,
                                   find_dataset_file,
                                   is_dataset_name, resolve)
from lmkit.corpus.encoded import encode_corpus, encode_with_vocab


def test_bengio_split_cuts_at_exact_token_positions():
    sentences = [["a"] * 4, ["b"] * 4, ["c"] * 4]
    splits = bengio_split(sentences, train_tokens=5, valid_tokens=4)
    assert splits == {"train": [["a"] * 4, ["b"]], "valid": [["b"] * 3, ["c"]], "test": [["c"] * 3]}


def test_brown_reader_on_a_tiny_zip(tmp_path):
    path = tmp_path / "brown.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("brown/cb01", "\n\n\tSecond/at text/nn ./.\n")
        archive.writestr("brown/ca01", "\n\n\tThe/at Fulton/np-tl 1/2/cd Atlanta's/np$ ./.\n\n\tNext/ap ./.\n")
        archive.writestr("brown/cats.txt", "ca01 news\n")
    assert brown_sentences(path) == [["The", "Fulton", "1/2", "Atlanta's", "."], ["Next", "."],
                                     ["Second", "text", "."]]
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.zip: not a valid zip"):
        brown_sentences(tmp_path / "bad.zip")


def test_real_brown_sizes_and_bengio_protocol(brown_zip):
    sentences = brown_sentences(brown_zip)
    assert sum(map(len, sentences)) == 1_161_192
    assert sentences[0][:4] == ["The", "Fulton", "County", "Grand"]
    splits = bengio_split(sentences)
    assert [sum(map(len, splits[s])) for s in ("train", "valid", "test")] == [800_000, 200_000, 161_192]


def test_brown_dataset_names_encode_through_the_pipeline(brown_zip, tmp_path):
    train = encode_corpus("brown:train", min_count=datasets.BENGIO_RARE_MAX_COUNT + 1, unk="<unk>", eos="</s>",
                          cache_dir=tmp_path, verbose=False)
    assert train.n_tokens == 800_000
    test = encode_with_vocab("brown:test", train.vocab, train.tokenizer, cache_dir=tmp_path, verbose=False)
    assert test.n_tokens == 161_192
    assert 0.05 < np.mean(test.ids == train.vocab.unk_id) < 0.15
    whole = encode_corpus("brown", min_count=4, unk="<unk>", cache_dir=tmp_path, verbose=False)
    assert 17_000 < len(whole.vocab) < 19_000  # ~17.9k types with NLTK's tokenization (shared data README)


def test_dataset_names_versus_paths(tmp_path, monkeypatch):
    assert is_dataset_name("brown:test") and is_dataset_name("brown")
    assert not is_dataset_name("corpus.txt")
    with pytest.raises(ValueError, match="unknown Brown split 'dev'"):
        resolve("brown:dev")
    with pytest.raises(ValueError, match="unknown dataset 'penn' in 'penn:train'"):
        resolve("penn:train")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "brown").write_text("a file named brown\n")
    assert not is_dataset_name("brown")


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LMKIT_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(datasets.sys, "prefix", str(tmp_path / "prefix"))
    monkeypatch.setattr(datasets, "search_dirs", lambda: [tmp_path / "nothing", tmp_path / "home" / "nltk_data"])
    with pytest.raises(FileNotFoundError) as error:
        find_dataset_file("brown")
    message = str(error.value)
    assert str(tmp_path / "nothing" / "brown.zip") in message and "lmkit data download brown" in message
    with pytest.raises(FileNotFoundError):
        BrownSource("train")
    with pytest.raises(ValueError, match="unknown dataset 'penn'"):
        find_dataset_file("penn")


def test_download_checks_sha256_from_a_file_url(brown_zip, tmp_path):
    path = download("brown", tmp_path / "data", url=brown_zip.as_uri())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == datasets.DATASET_FILES["brown"].sha256
    tampered = tmp_path / "tampered.zip"
    data = bytearray(brown_zip.read_bytes())
    data[1000] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="failed its checksum"):
        download("brown", tmp_path / "other", url=tampered.as_uri())
    assert not (tmp_path / "other" / "brown.zip").exists()
    assert list((tmp_path / "other").iterdir()) == []
    with pytest.raises(ValueError, match="could not download"):
        download("brown", tmp_path / "other", url=(tmp_path / "missing.zip").as_uri())


def _fresh_machine(tmp_path, monkeypatch):
    """No dataset anywhere; downloads go to tmp_path/data."""
    monkeypatch.setenv("LMKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(datasets, "search_dirs", lambda: [tmp_path / "data"])


def test_a_dataset_name_is_fetched_on_first_use(brown_zip, tmp_path, monkeypatch):
    _fresh_machine(tmp_path, monkeypatch)
    monkeypatch.delenv("LMKIT_NO_DOWNLOAD", raising=False)
    entry = datasets.DATASET_FILES["brown"]
    monkeypatch.setitem(datasets.DATASET_FILES, "brown", dataclasses.replace(entry, url=brown_zip.as_uri()))
    source = BrownSource("test", verbose=False)
    assert source.zip_path == tmp_path / "data" / "brown.zip"
    assert hashlib.sha256(source.zip_path.read_bytes()).hexdigest() == entry.sha256
    calls = []
    monkeypatch.setattr(datasets, "_DOWNLOADER", lambda *a, **k: calls.append(a))
    assert dataset_file("brown") == source.zip_path and calls == []  # found now: never fetched again


def test_no_download_and_offline_keep_the_clear_message(tmp_path, monkeypatch):
    _fresh_machine(tmp_path, monkeypatch)
    calls = []

    def offline(name, **options):
        calls.append(name)
        raise ValueError(f"could not download {name!r}: <urlopen error [Errno -3] Temporary failure>")

    monkeypatch.setattr(datasets, "_DOWNLOADER", offline)
    monkeypatch.setenv("LMKIT_NO_DOWNLOAD", "1")
    with pytest.raises(FileNotFoundError, match="lmkit data download brown"):
        dataset_file("brown")
    assert calls == []
    monkeypatch.setenv("LMKIT_NO_DOWNLOAD", "0")
    with pytest.raises(FileNotFoundError, match="not found"):
        dataset_file("brown", download=False)
    assert calls == []
    with pytest.raises(FileNotFoundError, match=r"(?s)lmkit data download brown.*Fetching it failed: could not"):
        BrownSource("train")
    assert calls == ["brown"]

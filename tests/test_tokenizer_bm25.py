from codeweaver.core.bm25 import Bm25Encoder, token_id
from codeweaver.core.tokenizer import split_identifier, stem, tokenize


def test_split_identifier_handles_camel_snake_acronyms_digits():
    assert split_identifier("parseHTTPResponse2") == ["parse", "http", "response", "2"]
    assert split_identifier("retry_failed_uploads") == ["retry", "failed", "uploads"]
    assert split_identifier("XMLParser") == ["xml", "parser"]
    assert split_identifier("__init__") == ["init"]


def test_tokenize_keeps_whole_identifiers_and_parts():
    toks = list(tokenize("def parse_config(path): return loadYAML(path)"))
    assert "parse_config" in toks and "parse" in toks and "config" in toks
    assert "loadyaml" in toks and "load" in toks and "yaml" in toks
    assert "path" in toks


def test_tokenize_drops_noise_and_stopwords():
    toks = list(tokenize("the a of x = 1 + 2; if (y) { }"))
    assert toks == []


def test_stem_is_light_and_symmetric():
    assert stem("uploads") == "upload"
    assert stem("retrying") == "retry"
    assert stem("failed") == "fail"
    assert stem("class") == "class"
    assert stem("status") == "status"
    assert stem("entries") == "entry"


def test_bm25_document_weights_saturate_and_queries_are_binary():
    enc = Bm25Encoder()
    one = enc.encode_document("upload")
    many = enc.encode_document("upload " * 50)
    assert len(one.indices) == 1 and len(many.indices) == 1
    assert many.values[0] > one.values[0]
    assert many.values[0] < enc.k1 + 1.0  # saturation bound
    q = enc.encode_query("upload upload retry")
    assert sorted(q.indices) == list(q.indices)
    assert set(q.values) == {1.0} and len(q.indices) == 2


def test_bm25_empty_text_is_empty_vector():
    assert Bm25Encoder().encode_document("  ").empty
    assert Bm25Encoder().encode_query("+ - *").empty


def test_token_ids_are_stable_31_bit():
    assert token_id("parse") == token_id("parse")
    assert 0 <= token_id("anything") < 2**31

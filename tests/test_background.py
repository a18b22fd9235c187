import threading

import pytest

from codeweaver.index.background import ahead


def test_yields_everything_in_order():
    assert list(ahead(iter(range(100)), depth=3)) == list(range(100))


def test_producer_error_is_raised_in_consumer():
    def gen():
        yield 1
        raise ValueError("bad file")

    it = ahead(gen())
    assert next(it) == 1
    with pytest.raises(ValueError, match="bad file"):
        next(it)


def test_consumer_stopping_early_stops_the_worker():
    produced = []

    def gen():
        for i in range(10_000):
            produced.append(i)
            yield i

    before = threading.active_count()
    it = ahead(gen(), depth=2)
    assert next(it) == 0
    it.close()
    assert threading.active_count() == before
    assert len(produced) < 10

"""Definition chunks per language: exact kinds, qualified symbols and line ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeweaver.core.chunking import ChunkOptions, chunk_file

FIXTURES = Path(__file__).parent / "fixtures" / "chunking"
SPLIT_MEMBERS = ChunkOptions(min_lines=0)

EXPECTED: dict[str, list[tuple[str, str, int, int]]] = {
    "sample.py": [
        ("module", "", 1, 6),
        ("class", "Server", 9, 13),
        ("method", "Server.__init__", 15, 16),
        ("method", "Server.address", 18, 20),
        ("method", "Server.start", 22, 26),
        ("function", "serve", 29, 33),
        ("module", "", 36, 37),
    ],
    "sample.js": [
        ("module", "", 1, 1),
        ("function", "readConfig", 3, 8),
        ("function", "parse", 10, 12),
        ("class", "Server", 14, 14),
        ("method", "Server.constructor", 15, 18),
        ("method", "Server.start", 20, 23),
        ("method", "Server.handle", 25, 28),
        ("method", "Server.stop", 30, 32),
        ("module", "", 34, 34),
    ],
    "sample.ts": [
        ("module", "", 1, 1),
        ("interface", "Options", 3, 6),
        ("type", "Handler", 8, 8),
        ("enum", "Level", 10, 13),
        ("class", "Server", 15, 17),
        ("method", "Server.constructor", 19, 22),
        ("method", "Server.start", 24, 28),
        ("function", "createServer", 30, 32),
        ("namespace", "Util", 34, 34),
        ("function", "clamp", 35, 38),
    ],
    "sample.tsx": [
        ("module", "", 1, 1),
        ("type", "Props", 3, 3),
        ("function", "Greeting", 5, 7),
        ("function", "App", 9, 15),
    ],
    "sample.go": [
        ("module", "", 1, 6),
        ("struct", "Server", 8, 12),
        ("interface", "Handler", 14, 16),
        ("function", "NewServer", 18, 21),
        ("method", "Server.Start", 23, 27),
        ("method", "Server.Addr", 29, 31),
        ("module", "", 33, 33),
    ],
    "sample.rs": [
        ("module", "", 1, 1),
        ("struct", "Point", 3, 8),
        ("enum", "Shape", 10, 13),
        ("trait", "Area", 15, 16),
        ("method", "Area.describe", 18, 21),
        ("impl", "Point", 23, 23),
        ("method", "Point.new", 24, 26),
        ("method", "Point.norm", 28, 31),
        ("impl", "Point", 33, 33),
        ("method", "Point.fmt", 34, 37),
        ("module", "math", 39, 39),
        ("function", "double", 40, 43),
        ("function", "main", 45, 48),
    ],
    "Sample.java": [
        ("module", "", 1, 3),
        ("class", "Server", 5, 10),
        ("method", "Server.Server", 12, 14),
        ("method", "Server.start", 16, 19),
        ("class", "Server.Config", 21, 22),
        ("method", "Server.Config.threads", 24, 28),
        ("interface", "Handler", 30, 31),
        ("method", "Handler.close", 33, 36),
        ("enum", "Mode", 38, 39),
        ("method", "Mode.isFast", 41, 44),
    ],
    "sample.c": [
        ("module", "", 1, 4),
        ("struct", "point", 6, 10),
        ("struct", "buffer_t", 12, 15),
        ("enum", "color", 17, 17),
        ("module", "", 19, 19),
        ("function", "add", 21, 25),
        ("function", "dup_name", 27, 32),
        ("module", "", 34, 34),
        ("function", "debug_log", 35, 39),
        ("function", "main", 41, 45),
    ],
    "sample.cpp": [
        ("module", "", 1, 2),
        ("namespace", "app", 4, 4),
        ("class", "Server", 6, 7),
        ("method", "Server.Server", 8, 8),
        ("method", "Server.start", 10, 12),
        ("method", "Server.port", 14, 14),
        ("class", "Server", 16, 19),
        ("method", "Server.stop", 21, 23),
        ("function", "maximum", 25, 28),
        ("struct", "Options", 30, 34),
        ("function", "main", 36, 40),
    ],
    "sample.cs": [
        ("module", "", 1, 2),
        ("namespace", "App.Services", 4, 5),
        ("class", "Server", 6, 10),
        ("method", "Server.Server", 12, 15),
        ("class", "Server", 17, 17),
        ("method", "Server.Start", 19, 23),
        ("interface", "IServer", 25, 28),
        ("enum", "Mode", 30, 34),
        ("struct", "Point", 36, 41),
    ],
    "sample.rb": [
        ("module", "", 1, 1),
        ("module", "Net", 3, 4),
        ("class", "Server", 5, 7),
        ("method", "Server.initialize", 9, 11),
        ("method", "Server.start", 13, 16),
        ("method", "Server.build", 18, 22),
        ("function", "scale", 24, 26),
    ],
    "sample.php": [
        ("module", "", 1, 5),
        ("class", "Server", 7, 12),
        ("method", "Server.__construct", 14, 17),
        ("method", "Server.start", 19, 24),
        ("interface", "Handler", 26, 29),
        ("trait", "Loggable", 31, 32),
        ("method", "Loggable.log", 33, 37),
        ("function", "scale", 39, 42),
    ],
}

LANGUAGES = {
    "sample.py": "python",
    "sample.js": "javascript",
    "sample.ts": "typescript",
    "sample.tsx": "tsx",
    "sample.go": "go",
    "sample.rs": "rust",
    "Sample.java": "java",
    "sample.c": "c",
    "sample.cpp": "cpp",
    "sample.cs": "csharp",
    "sample.rb": "ruby",
    "sample.php": "php",
}


def _outline(path: str, text: str, options: ChunkOptions = SPLIT_MEMBERS) -> list[tuple]:
    return [
        (c.kind, c.symbol, c.start_line, c.end_line)
        for c in chunk_file(path, text, options=options)
    ]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_outline(name: str) -> None:
    text = (FIXTURES / name).read_text("utf-8")
    chunks = chunk_file(f"src/{name}", text, options=SPLIT_MEMBERS)
    assert [(c.kind, c.symbol, c.start_line, c.end_line) for c in chunks] == EXPECTED[name]
    assert {c.language for c in chunks} == {LANGUAGES[name]}
    assert all(c.path == f"src/{name}" for c in chunks)


def test_small_container_stays_whole_by_default() -> None:
    text = (FIXTURES / "Sample.java").read_text("utf-8")
    outline = _outline("Sample.java", text, ChunkOptions())
    assert ("class", "Server.Config", 21, 28) in outline
    assert not any(symbol.startswith("Server.Config.") for _, symbol, _, _ in outline)
    assert ("method", "Server.start", 16, 19) in outline


def test_python_nested_and_decorated() -> None:
    text = """\
import functools


class Outer:
    '''Outer doc.'''

    class Inner:
        # explains m
        @functools.cache
        def m(self):
            return 1

    async def run(self):
        await self.m()
"""
    assert _outline("m.py", text) == [
        ("module", "", 1, 1),
        ("class", "Outer", 4, 5),
        ("class", "Outer.Inner", 7, 7),
        ("method", "Outer.Inner.m", 8, 11),
        ("method", "Outer.run", 13, 14),
    ]


def test_signature_and_container_context() -> None:
    text = (FIXTURES / "sample.py").read_text("utf-8")
    chunks = chunk_file("src/pkg/sample.py", text, options=SPLIT_MEMBERS)
    start = next(c for c in chunks if c.symbol == "Server.start")
    assert start.context == (
        "# path: src/pkg/sample.py\n"
        "# in class Server\n"
        "# def start(self, *, retries: int = 3) -> bool"
    )
    serve = next(c for c in chunks if c.symbol == "serve")
    assert serve.context.splitlines()[-1] == "# def serve(host: str, port: int) -> Server"


def test_javascript_default_export_and_exports() -> None:
    text = """\
export default function () {
  return 1;
}

module.exports.format = function (a) {
  return a;
};
"""
    assert _outline("a.mjs", text) == [
        ("function", "default", 1, 3),
        ("function", "format", 5, 7),
    ]


def test_go_generic_receiver() -> None:
    text = """\
package box

func (b *Box[T]) Get() T {
	return b.v
}
"""
    assert _outline("box.go", text)[1:] == [("method", "Box.Get", 3, 5)]


def test_rust_generic_trait_impl() -> None:
    text = """\
impl<T: Clone> From<T> for Wrapper<T> {
    fn from(value: T) -> Self {
        Wrapper(value)
    }
}
"""
    assert _outline("w.rs", text) == [
        ("impl", "Wrapper", 1, 1),
        ("method", "Wrapper.from", 2, 5),
    ]


def test_cpp_out_of_line_method_in_nested_namespace() -> None:
    text = """\
namespace a::b {
int Engine::run(int x) {
    return x;
}
}
"""
    assert _outline("e.cc", text) == [
        ("namespace", "a.b", 1, 1),
        ("method", "Engine.run", 2, 5),
    ]


def test_ruby_scoped_class_and_singleton_block() -> None:
    text = """\
class Net::Client
  class << self
    def connect(host)
      new(host)
    end
  end
end
"""
    assert _outline("c.rb", text) == [
        ("class", "Net.Client", 1, 2),
        ("method", "Net.Client.connect", 3, 7),
    ]


def test_csharp_file_scoped_namespace_in_context() -> None:
    text = """\
namespace App.Core;

public class Clock
{
    public long Now()
    {
        return 0;
    }
}
"""
    chunks = chunk_file("Clock.cs", text, options=SPLIT_MEMBERS)
    now = next(c for c in chunks if c.symbol == "Clock.Now")
    assert (now.start_line, now.end_line, now.kind) == (5, 9, "method")
    assert "# in namespace App.Core > class Clock" in now.context


def test_php_braced_namespace() -> None:
    text = """\
<?php
namespace App {
    function boot(): void
    {
        echo "boot";
    }
}
"""
    assert _outline("boot.php", text) == [
        ("module", "", 1, 1),
        ("namespace", "App", 2, 2),
        ("function", "boot", 3, 7),
    ]


def test_header_parsed_as_cpp_when_c_fails() -> None:
    text = """\
#pragma once

namespace util {

class Timer {
 public:
  void reset() {
    start_ = 0;
  }

 private:
  long start_;
};

}  // namespace util
"""
    chunks = chunk_file("timer.h", text, options=SPLIT_MEMBERS)
    assert {c.language for c in chunks} == {"c"}
    assert ("method", "Timer.reset", 7, 9) in [
        (c.kind, c.symbol, c.start_line, c.end_line) for c in chunks
    ]

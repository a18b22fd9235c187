"""Request bodies of the HTTP API: strict types, bounded sizes, no NUL bytes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from codeweaver.core.pathglob import MAX_GLOB_CHARS

__all__ = ["IndexBody", "SearchBody", "StructuralBody"]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL bytes")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Name = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_nul)]
Short = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_no_nul)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class SearchBody(_Body):
    query: Annotated[Text, Field(min_length=1, max_length=2000)]
    limit: int = Field(10, ge=1, le=100)
    project: Name | None = None
    language: Short | None = None
    path: Annotated[Text, Field(min_length=1, max_length=MAX_GLOB_CHARS)] | None = None
    kind: Short | None = None
    highlight: bool = False  # add ``snippet_html``: the snippet as highlighted HTML lines


class IndexBody(_Body):
    path: Annotated[Text, Field(min_length=1, max_length=4096)]
    project: Name | None = None
    full: bool = False


class StructuralBody(_Body):
    pattern: Annotated[Text, Field(min_length=1, max_length=2000)]
    language: Short
    project: Name | None = None
    limit: int = Field(200, ge=1, le=200)

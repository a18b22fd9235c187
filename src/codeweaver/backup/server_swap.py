"""Swapping restored Qdrant server collections in; journaled with the files (``swap``).

A project's collection name (``<prefix><project>``, the name the engine uses) ends up as an
alias of the restored, verified collection (``<name>__restore_<token>``):

- the name is already an alias (the project was restored before): one atomic alias change
  re-points it; the collection it pointed at stays, parked, until the restore is done;
- the name is a collection of its own (made by indexing): Qdrant cannot rename it, so its
  points are first copied to ``<name>__previous_<token>`` (counted), and only then is it
  deleted and the name created as an alias;
- nothing has the name (the collection was lost): the alias is created.

``undo`` works from what the server holds now, so it is right after a failure or a crash
at any point: the name is pointed back at the previous data (the parked copy, if the
original was already deleted) and the restored collection is deleted. ``finish`` deletes
the parked data once the journal says the restore is done.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeweaver.adapters.server_backup import ServerCollections

__all__ = ["CollectionSwap", "ServerSwapper", "plan_swap"]


@dataclass(frozen=True, slots=True)
class CollectionSwap:
    """``live`` becomes an alias of ``new`` (``None``: the backup held no collection, so
    ``live`` ends up naming nothing). ``previous`` is the collection ``live`` reached
    before (``live`` itself when it was no alias) and ``parked`` where that data stays
    during the swap."""

    live: str
    new: str | None
    previous: str | None
    parked: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_swap(
    server: ServerCollections, project: str, new: str | None, token: str
) -> CollectionSwap:
    live = server.live_name(project)
    previous, is_alias = server.resolve(live)
    if previous is None or is_alias:
        parked = previous
    else:
        parked = server.side_name(project, "previous", token)
    return CollectionSwap(live, new, previous, parked)


class ServerSwapper:
    """Applies, undoes and finishes the journal's collection swaps (plain dicts)."""

    def __init__(self, server: ServerCollections) -> None:
        self._server = server

    def apply(self, entries: list[dict[str, Any]]) -> None:
        for swap in _swaps(entries):
            if swap.previous == swap.live and swap.parked is not None:
                self._server.copy(swap.live, swap.parked)
                self._server.drop(swap.live)
            self._server.switch(swap.live, swap.new)

    def undo(self, entries: list[dict[str, Any]]) -> None:
        for swap in reversed(_swaps(entries)):
            current, is_alias = self._server.resolve(swap.live)
            if swap.previous == swap.live and swap.parked is not None:
                if current == swap.live and not is_alias:
                    self._server.drop(swap.parked)  # never deleted: a copy may be partial
                else:
                    self._server.switch(swap.live, swap.parked)
            else:
                self._server.switch(swap.live, swap.previous)
            if swap.new is not None:
                self._server.drop(swap.new)

    def finish(self, entries: list[dict[str, Any]]) -> None:
        for swap in _swaps(entries):
            if swap.parked is not None and swap.parked != swap.new:
                self._server.drop(swap.parked)


def _swaps(entries: list[dict[str, Any]]) -> list[CollectionSwap]:
    return [CollectionSwap(**e) for e in entries]

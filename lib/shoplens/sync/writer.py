"""The sync's one writer: pages from concurrent shops loaded in shared transactions (group commit).

A page is archived (fsynced) first, then loaded. Loading every page in its own transaction paid a
commit each, 6-11 ms on a warehouse of millions of rows (DuckDB writes and syncs its log per commit),
more than the page's own statements on small pages. So while one group of pages is being written, the
pages other shops' tasks bring wait, and they go in together as the next group: one transaction, one
commit. A shop's own pages still land in order (its task awaits each page before fetching the next).

All or nothing per group, as it was per page: a crash leaves the group's pages archived but not loaded,
and their cursors unmoved, so the next run reads them again. A page that fails to load (schema drift: a
record without its id) must not take its group down: the group is rolled back and its pages are loaded
again one transaction each, so only that page fails.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shoplens.warehouse import RawPage, Warehouse

#: most pages a group holds (a bound on the transaction's memory; groups are rarely this large: one page
#: per shop syncing at once)
MAX_GROUP = 64


@dataclass(frozen=True)
class PageJob:
    """One page: `archive()` writes it to the raw archive and says where; `load(page)` loads it, inside the
    transaction the writer opens and within `loading_page(page)`."""

    archive: Callable[[], RawPage]
    load: Callable[[RawPage], Any]
    #: optional (loader, args): `loader(warehouse, [(page, *args), ...])` loads several pages at once, one
    #: value per page (`ResourceSpec.load_pages`); a group's pages with the same loader go in one call
    #: instead of `load`, and `then(value)` gives each page's result (what `load` does after loading)
    together: tuple[Callable, tuple] | None = None
    then: Callable[[Any], Any] = lambda value: value


def load_group(warehouse: Warehouse, jobs: Sequence[PageJob]) -> list[tuple[bool, Any]]:
    """Archive each page, then load them all in one transaction; (True, what `load` returned) or (False,
    the exception) per job. When the group fails, its pages are loaded again one transaction each, so a
    bad page fails alone (and a page is archived once, whatever happens)."""
    outcomes: list[tuple[bool, Any]] = []
    archived: list[tuple[int, RawPage]] = []
    for n, job in enumerate(jobs):
        try:
            archived.append((n, job.archive()))
            outcomes.append((True, None))
        except Exception as exc:  # noqa: BLE001 - that page's failure, raised to its task
            outcomes.append((False, exc))

    def load(n: int, page: RawPage) -> Any:
        with warehouse.loading_page(page):
            return jobs[n].load(page)

    def load_all() -> list[tuple[int, Any]]:
        """Every page of the group: those that can, together with the pages of the same loader."""
        loaded: dict[int, Any] = {}
        together: dict[Callable, list[tuple[int, RawPage]]] = {}
        for n, page in archived:
            if jobs[n].together is None:
                loaded[n] = load(n, page)
            else:
                together.setdefault(jobs[n].together[0], []).append((n, page))
        for loader, pages in together.items():
            warehouse.record_pages([page for _, page in pages])
            values = loader(warehouse, [(page, *jobs[n].together[1]) for n, page in pages])
            for (n, _), value in zip(pages, values, strict=True):
                loaded[n] = jobs[n].then(value)
        return list(loaded.items())

    try:
        with warehouse.transaction():
            loaded = load_all()
    except Exception as exc:  # noqa: BLE001
        if len(archived) == 1:
            outcomes[archived[0][0]] = (False, exc)
            return outcomes
        for n, page in archived:
            try:
                with warehouse.transaction():
                    outcomes[n] = (True, load(n, page))
            except Exception as alone:  # noqa: BLE001
                outcomes[n] = (False, alone)
        return outcomes
    for n, value in loaded:
        outcomes[n] = (True, value)
    return outcomes


class PageWriter:
    """Serialises every write of a sync run in a worker thread (the event loop keeps other shops' requests
    going while DuckDB works) and groups the pages that wait (`load_group`)."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        #: the size of each group written, in order (the tests read it; the bench calls `load_group` itself)
        self.groups: list[int] = []
        self._lock = asyncio.Lock()
        self._waiting: list[tuple[PageJob, asyncio.Future]] = []
        self._draining: asyncio.Task | None = None

    async def run(self, job: Callable[[], Any]) -> Any:
        """Run `job` alone (a read, a cursor, a run's record): it opens its own transaction if it writes."""
        async with self._lock:
            return await asyncio.to_thread(job)

    async def page(self, job: PageJob) -> Any:
        """Archive and load one page, with whatever other pages wait; returns what its `load` returned."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((job, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            async with self._lock:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                try:
                    outcomes = await asyncio.to_thread(load_group, self.warehouse, [job for job, _ in group])
                except Exception as exc:  # noqa: BLE001 - a rollback that failed: every page of the group
                    outcomes = [(False, exc)] * len(group)
                except BaseException:  # cancelled: so are the pages that wait on it
                    for _, future in group + self._waiting:
                        future.cancel()
                    self._waiting = []
                    raise
                self.groups.append(len(group))
            for (_, future), (ok, value) in zip(group, outcomes, strict=True):
                if future.done():  # its task was cancelled
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

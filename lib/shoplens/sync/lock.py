"""One sync per workspace: the lock lives in `shoplens.locks` (below sync and warehouse, which both take
it); this name stays for code that imports it from here."""

from shoplens.locks import SyncLock, sync_lock

__all__ = ["SyncLock", "sync_lock"]

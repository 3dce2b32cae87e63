"""TikTok Shop webhooks: the receiver (verify, log durably, answer), the worker that turns notifications
into targeted syncs and authorization and product records (docs/webhooks.md)."""

from shoplens.webhooks.events import Notification, parse, signature, verify
from shoplens.webhooks.receiver import PATH, Receiver, ReceiverServer, log_dir
from shoplens.webhooks.worker import Worker

__all__ = ["PATH", "Notification", "Receiver", "ReceiverServer", "Worker", "log_dir", "parse", "signature", "verify"]
